"""Format-constrained writing (instruction following): write given words under ordering, case, separator,
filter, wrapping and heading constraints."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from random import Random
from typing import Any, ClassVar

from evoforge.offline.world.spec import Spec

TOPICS: dict[str, tuple[str, ...]] = {
    "Animals": ("cat", "dog", "owl", "horse", "tiger", "lion", "sheep", "eagle", "mouse", "zebra"),
    "Fruits": ("apple", "pear", "plum", "mango", "lemon", "grape", "kiwi", "peach", "melon", "lime"),
    "Colors": ("red", "blue", "green", "pink", "gray", "brown", "black", "white", "gold", "violet"),
    "Tools": ("saw", "drill", "hammer", "rake", "shovel", "wrench", "axe", "chisel", "file", "ladder"),
}
_ORDER = {
    "alpha": " in alphabetical order",
    "reverse": " in reverse alphabetical order",
    "length": " from shortest to longest",
}
_CASE = {"upper": ", in uppercase", "title": ", capitalized"}
_SEP = {"; ": ", separated by semicolons", " | ": ", separated by vertical bars", " ": ", separated by spaces"}
_WRAP = {"brackets": " Wrap the answer in square brackets.", "quotes": " Wrap the answer in double quotes."}


def _alt(table: dict[str, str]) -> str:
    return "|".join(re.escape(v) for v in table.values())


_PATTERN = re.compile(
    rf"Write the words (?P<words>[a-z]+(?:, [a-z]+)* and [a-z]+)(?P<order>{_alt(_ORDER)})?(?P<case>{_alt(_CASE)})?"
    rf"(?P<sep>{_alt(_SEP)})?\.(?: Skip words shorter than (?P<min>\d) letters\.)?(?P<wrap>{_alt(_WRAP)})?"
    rf"(?: Begin with '(?P<prefix>[A-Z][a-z]+): '\.)?"
)


def _key(table: dict[str, str], text: str | None) -> str | None:
    return None if text is None else next(k for k, v in table.items() if v == text)


@dataclass(frozen=True)
class FormatSpec(Spec):
    """Write ``words`` with each optional constraint applied (filter, order, case, separator, wrap, heading)."""

    category: ClassVar[str] = "format"
    words: tuple[str, ...]
    order: str | None = None
    case: str | None = None
    sep: str | None = None
    min_len: int | None = None
    wrap: str | None = None
    prefix: str | None = None

    @property
    def level(self) -> int:
        """One per constraint, plus one per word beyond three."""
        constraints = (self.order, self.case, self.sep, self.min_len, self.wrap, self.prefix)
        return sum(c is not None for c in constraints) + len(self.words) - 3

    def _constraints(self) -> str:
        text = "".join(t[k] for t, k in ((_ORDER, self.order), (_CASE, self.case), (_SEP, self.sep)) if k) + "."
        if self.min_len is not None:
            text += f" Skip words shorter than {self.min_len} letters."
        if self.wrap is not None:
            text += _WRAP[self.wrap]
        if self.prefix is not None:
            text += f" Begin with '{self.prefix}: '."
        return text

    def render(self) -> str:
        """E.g. ``Write the words cat, owl and dog in alphabetical order, in uppercase.``"""
        words = ", ".join(self.words[:-1]) + f" and {self.words[-1]}"
        return f"Write the words {words}" + self._constraints()

    def answer(self) -> str:
        """The words as constrained."""
        words = [w for w in self.words if self.min_len is None or len(w) >= self.min_len]
        if self.order == "alpha":
            words.sort()
        elif self.order == "reverse":
            words.sort(reverse=True)
        elif self.order == "length":
            words.sort(key=len)
        if self.case == "upper":
            words = [w.upper() for w in words]
        elif self.case == "title":
            words = [w.capitalize() for w in words]
        text = (self.sep or ", ").join(words)
        text = {None: text, "brackets": f"[{text}]", "quotes": f'"{text}"'}[self.wrap]
        return f"{self.prefix}: {text}" if self.prefix else text

    def _topic(self) -> str:
        return next((t for t, pool in TOPICS.items() if set(self.words) <= set(pool)), "Words")

    def evolve(self, op: str, rng: Random) -> FormatSpec | None:
        """Constraints: case, separator or wrap; deepening: a length filter; concretizing: a heading; reasoning:
        an order; complicating the input: one more word."""
        if op == "add_constraints":
            free = [f for f in ("case", "sep", "wrap") if getattr(self, f) is None]
            if free:
                name = rng.choice(free)
                change: dict[str, Any] = {name: rng.choice(tuple({"case": _CASE, "sep": _SEP, "wrap": _WRAP}[name]))}
                return replace(self, **change)
        if op == "deepen" and self.min_len is None:
            lengths = sorted({len(w) for w in self.words})
            if len(lengths) > 1:
                return replace(self, min_len=rng.choice(lengths[1:]))
        if op == "concretize" and self.prefix is None:
            return replace(self, prefix=self._topic())
        if op == "reasoning" and self.order is None:
            return replace(self, order=rng.choice(tuple(_ORDER)))
        if op == "complicate_input" and len(self.words) < 6:
            pool = [w for w in TOPICS.get(self._topic(), ()) if w not in self.words]
            if pool:
                return replace(self, words=(*self.words, rng.choice(pool)))
        return None

    def broken(self) -> str:
        """The words are gone: ``Write the given words in alphabetical order.``"""
        return "Write the given words" + self._constraints()

    @classmethod
    def parse(cls, text: str) -> FormatSpec | None:
        """Parse a rendered format instruction."""
        m = _PATTERN.fullmatch(text.strip())
        if m is None:
            return None
        head, last = m["words"].rsplit(" and ", 1)
        words = (*head.split(", "), last)
        spec = cls(
            words,
            _key(_ORDER, m["order"]),
            _key(_CASE, m["case"]),
            _key(_SEP, m["sep"]),
            int(m["min"]) if m["min"] else None,
            _key(_WRAP, m["wrap"]),
            m["prefix"],
        )
        return spec if spec.level >= 1 else None

    @classmethod
    def sample(cls, rng: Random) -> FormatSpec:
        """Three words of one topic and one of order, case or separator."""
        words = tuple(rng.sample(TOPICS[rng.choice(tuple(TOPICS))], 3))
        name = rng.choice(("order", "case", "sep"))
        change: dict[str, Any] = {name: rng.choice(tuple({"order": _ORDER, "case": _CASE, "sep": _SEP}[name]))}
        return replace(cls(words), **change)
