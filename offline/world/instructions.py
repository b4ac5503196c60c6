"""Instruction generation: write the instruction that has a given answer and asks for a described task.

The answer of an ``instruct`` task is itself a skills-world instruction (arithmetic or strings), so a response
can be checked exactly — against the canonical rendering, or leniently by parsing it and comparing answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from random import Random
from typing import ClassVar

from evoforge.offline.world.arithmetic import ArithmeticSpec
from evoforge.offline.world.spec import Spec, sentences
from evoforge.offline.world.strings import StringsSpec

_INNER: tuple[type[ArithmeticSpec] | type[StringsSpec], ...] = (ArithmeticSpec, StringsSpec)
_PATTERN = re.compile(r"Write an instruction whose answer is (?P<answer>.+?) and that asks to (?P<desc>.+)\.")


def describe(instruction: str) -> str:
    """``Compute 7 + 5. Give the answer modulo 3.`` -> ``compute 7 + 5; give the answer modulo 3``."""
    return "; ".join(s[0].lower() + s[1:-1] for s in sentences(instruction))


def undescribe(description: str) -> str:
    """The inverse of :func:`describe`."""
    return " ".join(p[0].upper() + p[1:] + "." for p in description.split("; ") if p)


@dataclass(frozen=True)
class InstructSpec(Spec):
    """Asks for the instruction ``inner.render()``, given its answer and a description of it."""

    category: ClassVar[str] = "instruct"
    inner: ArithmeticSpec | StringsSpec

    @property
    def level(self) -> int:
        """The level of the instruction asked for."""
        return self.inner.level

    def render(self) -> str:
        """E.g. ``Write an instruction whose answer is 12 and that asks to compute 7 + 5.``"""
        return f"Write an instruction whose answer is {self.inner.answer()} and that asks to {self._desc()}."

    def _desc(self) -> str:
        return describe(self.inner.render())

    def answer(self) -> str:
        """The canonical instruction."""
        return self.inner.render()

    def evolve(self, op: str, rng: Random) -> InstructSpec | None:
        """Evolve the instruction asked for."""
        inner = self.inner.evolve(op, rng)
        return None if inner is None else InstructSpec(inner)

    def broken(self) -> str:
        """The answer is gone: ``Write an instruction whose answer is the given value and ...``"""
        return f"Write an instruction whose answer is the given value and that asks to {self._desc()}."

    @classmethod
    def parse(cls, text: str) -> InstructSpec | None:
        """Parse a rendered instruct task (None when its answer does not match its description)."""
        m = _PATTERN.fullmatch(text.strip())
        if m is None:
            return None
        inner_text = undescribe(m["desc"])
        for kind in _INNER:
            inner = kind.parse(inner_text)
            if inner is not None and inner.answer() == m["answer"]:
                return cls(inner)
        return None

    @classmethod
    def sample(cls, rng: Random) -> InstructSpec:
        """A level-1 arithmetic or strings instruction to write."""
        return cls(rng.choice(_INNER).sample(rng))
