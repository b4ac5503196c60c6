"""Evol-Instruct on skills-world tasks: in-depth operations, in-breadth evolution, and the ways evolution fails.

A successful evolution raises the task's level. A failed one is one of :data:`FAILURES`:

- ``loss``: key information (the input data) is lost — the instruction cannot be answered;
- ``vague``: an unspecified requirement is added — the answerer must ask what is meant;
- ``stagnant``: a comment instead of an instruction ("already complex enough");
- ``unchanged``: the instruction comes back as it was (no information gain);
- ``scaffold``: the rewrite copies the prompt scaffolding ("#Rewritten Prompt#:").
"""

from __future__ import annotations

import re
from random import Random

from evoforge.offline.world.spec import DEPTH_OPS, Task
from evoforge.offline.world.tasks import SPECS, deepen_spec, sample_task

BREADTH = "breadth"
OPERATIONS: tuple[str, ...] = (*DEPTH_OPS, BREADTH)
FAILURES: tuple[str, ...] = ("loss", "vague", "stagnant", "unchanged", "scaffold")

VAGUE_CLAUSES: dict[str, str] = {
    "arithmetic": "Round the answer to the required precision.",
    "strings": "Use the appropriate separator.",
    "format": "Follow the required style guide.",
    "instruct": "Follow the usual conventions.",
}
STAGNANT_TEXTS: tuple[str, ...] = (
    "The instruction is already clear and complex enough, so no rewrite is needed.",
    "This instruction cannot be made more complex without changing its meaning.",
)
SCAFFOLD_HEADERS: tuple[str, ...] = ("#Rewritten Prompt#:", "#Rewritten Instruction#:", "#Created Prompt#:")
_SCAFFOLD = re.compile(r"^\s*(?:Step \d+\s*)?#[A-Za-z ]+#:?\s*", re.MULTILINE)


def evolve_task(task: Task, op: str, rng: Random) -> Task | None:
    """Evolve ``task`` by ``op`` (an in-depth operation, or ``breadth`` for a new task of the same category).

    In-depth: the level goes up (another in-depth operation is used when ``op`` does not apply); None when the
    task cannot be made more complex. In-breadth: a different task of the same category and level.
    """
    if op == BREADTH:
        for _ in range(8):
            new = sample_task(task.category, task.level, rng)
            if new.instruction != task.instruction:
                return new
        return None
    if op not in DEPTH_OPS:
        raise ValueError(f"unknown evolution operation {op!r}; expected one of {', '.join(OPERATIONS)}")
    spec = deepen_spec(task.spec, op, rng)
    return None if spec is None else Task.from_spec(spec)


def failed_evolution(task: Task, failure: str, rng: Random, op: str = "add_constraints") -> str:
    """The text of an evolution of ``task`` that failed in the way ``failure`` names."""
    evolved = evolve_task(task, op, rng) or task
    if failure == "loss":
        return evolved.spec.broken()
    if failure == "vague":
        return f"{evolved.instruction} {VAGUE_CLAUSES[task.category]}"
    if failure == "stagnant":
        return rng.choice(STAGNANT_TEXTS)
    if failure == "unchanged":
        return task.instruction
    if failure == "scaffold":
        return f"{rng.choice(SCAFFOLD_HEADERS)}\n{evolved.instruction}"
    raise ValueError(f"unknown failure {failure!r}; expected one of {', '.join(FAILURES)}")


def strip_scaffolding(text: str) -> str:
    """``text`` without copied prompt headers such as ``#Rewritten Prompt#:``."""
    return _SCAFFOLD.sub("", text).strip()


def has_scaffolding(text: str) -> bool:
    """Whether ``text`` copies prompt scaffolding ("#Rewritten Prompt#", "given prompt", ...)."""
    lowered = text.lower()
    return bool(_SCAFFOLD.search(text)) or "given prompt" in lowered or "rewritten prompt" in lowered


def complexity(text: str) -> int:
    """The level of the task ``text`` renders (0 when it is not a skills-world task)."""
    for spec_type in SPECS.values():
        spec = spec_type.parse(strip_scaffolding(text))
        if spec is not None:
            return spec.level
    return 0
