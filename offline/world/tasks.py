"""The catalogue of task categories: sampling, parsing and checking skills-world tasks."""

from __future__ import annotations

from dataclasses import MISSING, fields, replace
from random import Random

from evoforge.offline.world.arithmetic import ArithmeticSpec
from evoforge.offline.world.format_writing import FormatSpec
from evoforge.offline.world.instructions import InstructSpec
from evoforge.offline.world.spec import DEPTH_OPS, Spec, Task, plausible_wrong
from evoforge.offline.world.strings import StringsSpec

CATEGORIES: tuple[str, ...] = ("arithmetic", "strings", "format", "instruct")
SPECS: dict[str, type[Spec]] = {
    "arithmetic": ArithmeticSpec,
    "strings": StringsSpec,
    "format": FormatSpec,
    "instruct": InstructSpec,
}


def deepen_spec(spec: Spec, op: str, rng: Random) -> Spec | None:
    """Apply in-depth operation ``op``; when it does not apply, the first other operation that does (None if none)."""
    for name in (op, *(o for o in DEPTH_OPS if o != op)):
        evolved = spec.evolve(name, rng)
        if evolved is not None:
            return evolved
    return None


def sample_task(category: str, level: int, rng: Random) -> Task:
    """A random task of ``category`` at complexity ``level`` (a seed task evolved level-1 times)."""
    if category not in SPECS:
        raise ValueError(f"unknown category {category!r}; expected one of {', '.join(CATEGORIES)}")
    spec = SPECS[category].sample(rng)
    while spec.level < level:
        evolved = deepen_spec(spec, rng.choice(DEPTH_OPS), rng)
        if evolved is None:
            break
        spec = evolved
    return Task.from_spec(spec)


def parse_instruction(text: str) -> Task | None:
    """The task rendered as ``text``; None when the text is broken or not a skills-world instruction."""
    for spec_type in SPECS.values():
        spec = spec_type.parse(text)
        if spec is not None:
            return Task.from_spec(spec)
    return None


def _norm(text: str) -> str:
    return text.strip().rstrip(".").strip()


def check_answer(task: Task, response: str) -> bool:
    """Whether ``response`` answers ``task`` exactly (an instruct response may be any instruction with the answer)."""
    if _norm(response) == _norm(task.answer):
        return True
    if isinstance(task.spec, InstructSpec):
        written = parse_instruction(response)
        return (
            written is not None and written.category == task.spec.inner.category
            and written.answer == task.spec.inner.answer()
        )  # fmt: skip
    return False


def _slips(spec: Spec) -> list[Spec]:
    """Specs that a careless solver answers instead: one constraint ignored, or the last step or item missed."""
    out: list[Spec] = []
    for f in fields(spec):
        value = getattr(spec, f.name)
        if isinstance(value, Spec):
            out += [replace(spec, **{f.name: v}) for v in _slips(value)]
        elif isinstance(value, tuple) and (len(value) > 1 or (value and f.default == ())):
            out.append(replace(spec, **{f.name: value[:-1]}))
        elif f.default is not MISSING and value != f.default:
            out.append(replace(spec, **{f.name: f.default}))
    return out


def near_miss(task: Task, rng: Random) -> str:
    """A plausible wrong answer to ``task``: the answer of a slightly misread task, else a small slip."""
    wrong = sorted(a for a in {s.answer() for s in _slips(task.spec)} if not check_answer(task, a))
    if wrong:
        return rng.choice(wrong)
    for _ in range(10):
        slip = plausible_wrong(task.answer, rng)
        if not check_answer(task, slip):
            return slip
    return "unknown"
