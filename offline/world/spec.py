"""The task spec: a structured instruction of the skills world, and the task it renders to.

Every category implements :class:`Spec`: a frozen dataclass that renders to short natural English, parses back
from exactly that text, knows its oracle answer and its complexity level, and can be evolved by the
Evol-Instruct operations (see :mod:`evoforge.offline.world.evolution`).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from random import Random
from typing import Any, ClassVar

# In-depth operations of Evol-Instruct, by the names the evolving methods use.
DEPTH_OPS: tuple[str, ...] = ("add_constraints", "deepen", "concretize", "reasoning", "complicate_input")


class Spec(ABC):
    """A structured skills-world instruction (one per category)."""

    category: ClassVar[str]
    __dataclass_fields__: ClassVar[dict[str, Any]]  # every spec is a dataclass (fields() and replace() read them)

    @property
    @abstractmethod
    def level(self) -> int:
        """Complexity level: 1 for a seed task, +1 (at least) per successful in-depth evolution."""

    @abstractmethod
    def render(self) -> str:
        """The instruction in natural English (parses back with :meth:`parse`)."""

    @abstractmethod
    def answer(self) -> str:
        """The oracle answer (short, exact-match checkable)."""

    @abstractmethod
    def evolve(self, op: str, rng: Random) -> Spec | None:
        """Apply one in-depth operation (a name from DEPTH_OPS); None when it does not apply to this spec."""

    @abstractmethod
    def broken(self) -> str:
        """The instruction with its key information (the input data) lost: it cannot be answered."""

    @classmethod
    @abstractmethod
    def parse(cls, text: str) -> Spec | None:
        """The spec rendered as ``text``, or None when the text is not one of this category's instructions."""

    @classmethod
    @abstractmethod
    def sample(cls, rng: Random) -> Spec:
        """A random level-1 spec."""


@dataclass(frozen=True)
class Task:
    """A skills-world task: the rendered instruction, its oracle answer, category and complexity level."""

    category: str
    level: int
    instruction: str
    answer: str
    spec: Spec = field(compare=False, repr=False)

    @classmethod
    def from_spec(cls, spec: Spec) -> Task:
        """The task a spec renders to."""
        return cls(spec.category, spec.level, spec.render(), spec.answer(), spec)


_INT = re.compile(r"-?\d+")


def plausible_wrong(answer: str, rng: Random) -> str:
    """A near miss of ``answer``: off by a little for numbers, a small slip for strings; never equal to it."""
    number = _INT.search(answer)
    if number is not None:
        value = int(number.group()) + rng.choice((-3, -2, -1, 1, 2, 3))
        return answer[: number.start()] + str(value) + answer[number.end() :]
    letters = list(answer)
    slips = [
        lambda s: s[::-1],
        lambda s: s[1:] + s[:1],
        lambda s: s[:-1],
        lambda s: [c.swapcase() for c in s],
    ]
    for _ in range(8):
        wrong = "".join(rng.choice(slips)(letters))
        if wrong != answer:
            return wrong
    return answer + "?"


def sentences(text: str) -> list[str]:
    """Split a rendered instruction into its sentences (each keeps its final period)."""
    return [s for s in re.split(r"(?<=\.) ", text.strip()) if s]
