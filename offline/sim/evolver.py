"""The simulated evol LLM: rewrites an instruction by the operations its evolving method names.

Whether an evolution fails, and how, is drawn from the method's failure rates (:func:`methods.failure_rates`)
with a draw that depends only on the instruction (and the sample), so a method that addresses more failures
fails on a subset of the cases a weaker one fails on. An instruction outside the skills world is evolved the same
way by adding one constraint (:mod:`any_text`); one that cannot be answered is handed back as it is.
"""

from __future__ import annotations

from random import Random

from evoforge.offline.sim import any_text
from evoforge.offline.sim.method_text import failure_rates, named_operations
from evoforge.offline.sim.reader import language_of
from evoforge.offline.world import (
    BREADTH,
    FAILURES,
    evolve_task,
    failed_evolution,
    parse_instruction,
    strip_scaffolding,
)
from evoforge.offline.world.evolution import SCAFFOLD_HEADERS, STAGNANT_TEXTS

_OP_WORDS = {
    "add_constraints": "Add a constraint on the answer",
    "deepen": "Deepen the task with one more transformation",
    "concretize": "Make the requested answer more concrete",
    "reasoning": "Increase the number of reasoning steps",
    "complicate_input": "Complicate the input",
}
BREADTH_SCAFFOLD_RATE = 0.05


def pick_failure(u: float, rates: dict[str, float]) -> str | None:
    """The failure whose interval holds ``u`` (intervals laid end to end in FAILURES order), or None."""
    edge = 0.0
    for kind in FAILURES:
        edge += rates[kind]
        if u < edge:
            return kind
    return None


def _stepwise(method: str, final: str, ops: tuple[str, ...], op: str) -> str:
    """The reply in the method's four-step format, or just the instruction when the method asks for none."""
    if "#Finally Rewritten Instruction#" not in method:
        return final
    methods = "\n".join(f"- {_OP_WORDS[o]}" for o in ops)
    return (
        f"Step 1 #Methods List#:\n{methods}\n"
        f"Step 2 #Plan#:\n{_OP_WORDS[op]}, keeping the rest of the instruction as it is.\n"
        f"Step 3 #Rewritten Instruction#:\n{final}\n"
        f"Step 4 #Finally Rewritten Instruction#:\n{final}"
    )


def _evolve_text(method: str, instruction: str, fail_rng: Random, op_rng: Random, op: str) -> str:
    """The rewrite of an instruction outside the skills world (the instruction itself when it cannot be answered)."""
    text = strip_scaffolding(instruction)
    if any_text.unanswerable(text):
        return instruction
    failure = pick_failure(fail_rng.random(), failure_rates(method, any_text.level(text)))
    if failure is not None:
        return any_text.failed_rewrite(text, failure, op_rng, op)
    return any_text.add_constraint(text, op, op_rng) or op_rng.choice(any_text.COMMENTS[language_of(text)])


def evolve_reply(method: str, instruction: str, fail_rng: Random, op_rng: Random) -> str:
    """The evol LLM's reply to ``method`` applied to ``instruction``."""
    ops = named_operations(method)
    op = op_rng.choice(ops)
    task = parse_instruction(strip_scaffolding(instruction))
    if task is None:
        return _stepwise(method, _evolve_text(method, instruction, fail_rng, op_rng, op), ops, op)
    failure = pick_failure(fail_rng.random(), failure_rates(method, task.level))
    if failure is not None:
        final = failed_evolution(task, failure, op_rng, op)
    else:
        evolved = evolve_task(task, op, op_rng)
        final = evolved.instruction if evolved is not None else STAGNANT_TEXTS[0]
    return _stepwise(method, final, ops, op)


def breadth_reply(instruction: str, fail_rng: Random, rng: Random) -> str:
    """A brand-new instruction of the same category and complexity (in-breadth evolution)."""
    task = parse_instruction(strip_scaffolding(instruction))
    new = None if task is None else evolve_task(task, BREADTH, rng)
    if new is None:
        return instruction
    if fail_rng.random() < BREADTH_SCAFFOLD_RATE:
        return f"{SCAFFOLD_HEADERS[2]}\n{new.instruction}"
    return new.instruction
