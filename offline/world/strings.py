"""Code-like string and list manipulation: a chain of operations on a text or a list of numbers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from random import Random
from typing import Any, ClassVar

from evoforge.offline.world.spec import Spec

WORDS = (
    "planet", "garden", "silver", "rocket", "mango", "castle", "window", "bridge", "forest", "candle",
    "pepper", "violin", "marble", "tiger", "lemon", "river", "cloud", "stone", "ocean", "pilot",
)  # fmt: skip

_TEXT_OPS: dict[str, tuple[str, Callable[[str], str]]] = {
    "reverse": ("reverse it", lambda s: s[::-1]),
    "upper": ("make it uppercase", str.upper),
    "novowel": ("remove its vowels", lambda s: re.sub("[aeiouAEIOU]", "", s)),
    "sort": ("sort its letters", lambda s: "".join(sorted(s.replace(" ", "")))),
    "dedupe": ("remove repeated letters", lambda s: "".join(dict.fromkeys(s))),
}
_LIST_OPS: dict[str, tuple[str, Callable[[list[int]], list[int]]]] = {
    "sort": ("sort it in ascending order", sorted),
    "rsort": ("sort it in descending order", lambda xs: sorted(xs, reverse=True)),
    "reverse": ("reverse it", lambda xs: xs[::-1]),
    "dedupe": ("remove duplicates", lambda xs: list(dict.fromkeys(xs))),
    "evens": ("keep only the even numbers", lambda xs: [x for x in xs if x % 2 == 0]),
    "double": ("double each number", lambda xs: [2 * x for x in xs]),
}
_FORMATS = {
    "quote": "Put the answer in double quotes.",
    "dash": "Separate the {items} with dashes.",
    "python": "Answer as a Python {literal}.",
}

_PATTERN = re.compile(
    r"Take the (?P<kind>text|list) (?P<value>'[a-z]+(?: [a-z]+)*'|\[\d+(?:, \d+)*\])"
    r"(?: and (?P<one>[a-z ]+)|, (?P<many>[a-z ,]+))\.(?: (?P<fmt>[A-Z][A-Za-z ]+\.))?"
)


def _ops_table(kind: str) -> dict[str, tuple[str, Callable[[Any], Any]]]:
    return _TEXT_OPS if kind == "text" else _LIST_OPS


def _format_sentence(fmt: str, kind: str) -> str:
    items, literal = ("letters", "string literal") if kind == "text" else ("numbers", "tuple")
    return _FORMATS[fmt].format(items=items, literal=literal)


@dataclass(frozen=True)
class StringsSpec(Spec):
    """Operations ``ops`` applied in order to a text or a list, the result written in format ``fmt``."""

    category: ClassVar[str] = "strings"
    kind: str  # "text" | "list"
    value: str | tuple[int, ...]
    ops: tuple[str, ...]
    fmt: str | None = None  # None | "quote" | "dash" | "python"

    @property
    def level(self) -> int:
        """One per operation and format, plus one per extra word (text) or per two extra items (list)."""
        size = len(str(self.value).split()) - 1 if self.kind == "text" else max(0, (len(self.value) - 3) // 2)
        return len(self.ops) + (self.fmt is not None) + size

    def _value_text(self) -> str:
        if self.kind == "text":
            return f"'{self.value}'"
        return "[" + ", ".join(map(str, self.value)) + "]"

    def _body(self, value_text: str) -> str:
        phrases = [_ops_table(self.kind)[op][0] for op in self.ops]
        body = f"{value_text} and {phrases[0]}" if len(phrases) == 1 else f"{value_text}, " + ", then ".join(phrases)
        tail = f" {_format_sentence(self.fmt, self.kind)}" if self.fmt else ""
        return f"{body}.{tail}"

    def render(self) -> str:
        """E.g. ``Take the text 'planet', reverse it, then make it uppercase. Put the answer in double quotes.``"""
        return f"Take the {self.kind} " + self._body(self._value_text())

    def _result(self) -> Any:
        """The text or list after the operations."""
        result: Any = self.value if self.kind == "text" else list(self.value)
        for op in self.ops:
            result = _ops_table(self.kind)[op][1](result)
        return result

    def answer(self) -> str:
        """The transformed text or list in the requested format."""
        result = self._result()
        if self.kind == "text":
            plain = result
            dashed = "-".join(result.replace(" ", ""))
            literal = repr(result)
        else:
            plain = "[" + ", ".join(map(str, result)) + "]"
            dashed = "-".join(map(str, result))
            literal = "(" + ", ".join(map(str, result)) + ("," if len(result) == 1 else "") + ")"
        return {None: plain, "quote": f'"{plain}"', "dash": dashed, "python": literal}[self.fmt]

    def evolve(self, op: str, rng: Random) -> StringsSpec | None:
        """Constraints add an output format, concretizing a Python literal, deepening/reasoning an operation."""
        if op == "add_constraints" and self.fmt is None:
            return replace(self, fmt=rng.choice(("quote", "dash")))
        if op == "concretize" and self.fmt is None:
            return replace(self, fmt="python")
        if op in ("deepen", "reasoning") and len(self.ops) < 3:
            choices = [o for o in _ops_table(self.kind) if o != self.ops[-1]]
            rng.shuffle(choices)
            return next((s for o in choices if (s := replace(self, ops=(*self.ops, o)))._result()), None)
        if op == "complicate_input":
            if self.kind == "text" and len(str(self.value).split()) < 3:
                return replace(self, value=f"{self.value} {rng.choice(WORDS)}")
            if self.kind == "list" and len(self.value) <= 6:
                return replace(self, value=(*self.value, rng.randint(1, 20), rng.randint(1, 20)))
        return None

    def broken(self) -> str:
        """The input is gone: ``Take the given text and reverse it.``"""
        return f"Take the given {self.kind}" + self._body("")

    @classmethod
    def parse(cls, text: str) -> StringsSpec | None:
        """Parse a rendered strings instruction."""
        m = _PATTERN.fullmatch(text.strip())
        if m is None:
            return None
        kind = m["kind"]
        raw = m["value"]
        value: str | tuple[int, ...] = raw[1:-1] if kind == "text" else tuple(int(x) for x in raw[1:-1].split(", "))
        phrases = [m["one"]] if m["one"] else m["many"].split(", then ")
        if m["many"] and len(phrases) < 2:
            return None
        by_phrase = {phrase: name for name, (phrase, _) in _ops_table(kind).items()}
        if any(p not in by_phrase for p in phrases):
            return None
        fmt = None
        if m["fmt"]:
            fmt = next((f for f in _FORMATS if _format_sentence(f, kind) == m["fmt"]), None)
            if fmt is None:
                return None
        return cls(kind, value, tuple(by_phrase[p] for p in phrases), fmt)

    @classmethod
    def sample(cls, rng: Random) -> StringsSpec:
        """One operation on a word or on a list of three or four numbers."""
        if rng.random() < 0.5:
            return cls("text", rng.choice(WORDS), (rng.choice(tuple(_TEXT_OPS)),))
        values = tuple(rng.randint(1, 20) for _ in range(rng.choice((3, 4))))
        spec = cls("list", values, (rng.choice(tuple(_LIST_OPS)),))
        return spec if spec._result() else cls("list", values, ("sort",))
