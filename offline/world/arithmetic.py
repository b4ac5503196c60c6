"""Arithmetic tasks: a chain of integer operations, optionally reduced modulo m and given a unit."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from random import Random
from typing import ClassVar

from evoforge.offline.world.spec import Spec

_APPLY: dict[str, Callable[[int, int], int]] = {"+": operator.add, "-": operator.sub, "*": operator.mul}
_STEP_WORDS = {"add": "add", "sub": "subtract", "mul": "multiply by"}
_STEP_BY_WORDS = {v: k for k, v in _STEP_WORDS.items()}
_STEP_SYMBOL = {"add": "+", "sub": "-", "mul": "*"}
_NOUNS = {"+": "sum", "-": "difference", "*": "product"}
UNITS = ("apples", "coins", "pens", "books", "stones", "cards", "boxes", "eggs")

_PATTERN = re.compile(
    r"Compute (?P<expr>\d+(?: [-+*] \d+)+)(?P<steps>(?:, then (?:add|subtract|multiply by) \d+)*)\."
    r"(?: Give the answer modulo (?P<mod>\d+)\.)?(?: State the answer in (?P<unit>[a-z]+)\.)?"
)
_STEP = re.compile(r", then (add|subtract|multiply by) (\d+)")


def _operand(op: str, rng: Random) -> int:
    return rng.randint(2, 12) if op == "*" else rng.randint(1, 60)


@dataclass(frozen=True)
class ArithmeticSpec(Spec):
    """``operands`` combined left to right by ``op``, then ``steps``, then ``modulo``, stated in ``unit``."""

    category: ClassVar[str] = "arithmetic"
    operands: tuple[int, ...]
    op: str
    steps: tuple[tuple[str, int], ...] = ()
    modulo: int | None = None
    unit: str | None = None

    @property
    def level(self) -> int:
        """One per extra operand, step, modulo and unit."""
        return len(self.operands) - 1 + len(self.steps) + (self.modulo is not None) + (self.unit is not None)

    def _tail(self) -> str:
        steps = "".join(f", then {_STEP_WORDS[kind]} {n}" for kind, n in self.steps)
        tail = f"{steps}."
        if self.modulo is not None:
            tail += f" Give the answer modulo {self.modulo}."
        if self.unit is not None:
            tail += f" State the answer in {self.unit}."
        return tail

    def render(self) -> str:
        """E.g. ``Compute 7 + 5, then multiply by 3. Give the answer modulo 7.``"""
        return "Compute " + f" {self.op} ".join(map(str, self.operands)) + self._tail()

    def answer(self) -> str:
        """The value (and unit)."""
        value = self.operands[0]
        for x in self.operands[1:]:
            value = _APPLY[self.op](value, x)
        for kind, n in self.steps:
            value = _APPLY[_STEP_SYMBOL[kind]](value, n)
        if self.modulo is not None:
            value %= self.modulo
        return f"{value} {self.unit}" if self.unit else str(value)

    def evolve(self, op: str, rng: Random) -> ArithmeticSpec | None:
        """Constraints add a modulo, concretizing a unit, deepening a multiplication, reasoning an addition step."""
        if op == "add_constraints" and self.modulo is None:
            return replace(self, modulo=rng.randint(3, 11))
        if op == "concretize" and self.unit is None:
            return replace(self, unit=rng.choice(UNITS))
        if op == "deepen" and len(self.steps) < 3:
            return replace(self, steps=(*self.steps, ("mul", rng.randint(2, 4))))
        if op == "reasoning" and len(self.steps) < 3:
            return replace(self, steps=(*self.steps, (rng.choice(("add", "sub")), rng.randint(1, 20))))
        if op == "complicate_input" and len(self.operands) < 4:
            return replace(self, operands=(*self.operands, _operand(self.op, rng)))
        return None

    def broken(self) -> str:
        """The numbers are gone: ``Compute the sum of the given numbers, ...``"""
        return f"Compute the {_NOUNS[self.op]} of the given numbers" + self._tail()

    @classmethod
    def parse(cls, text: str) -> ArithmeticSpec | None:
        """Parse a rendered arithmetic instruction."""
        m = _PATTERN.fullmatch(text.strip())
        if m is None:
            return None
        tokens = m["expr"].split(" ")
        ops = set(tokens[1::2])
        if len(ops) != 1:
            return None
        steps = tuple((_STEP_BY_WORDS[w], int(n)) for w, n in _STEP.findall(m["steps"]))
        modulo = int(m["mod"]) if m["mod"] else None
        if modulo == 0:
            return None
        return cls(tuple(int(t) for t in tokens[::2]), ops.pop(), steps, modulo, m["unit"])

    @classmethod
    def sample(cls, rng: Random) -> ArithmeticSpec:
        """Two operands and one operation."""
        op = rng.choice(("+", "-", "*"))
        return cls((_operand(op, rng), _operand(op, rng)), op)
