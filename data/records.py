"""The one record model of the data that travels between the pieces: :class:`Example`.

An example is a ``prompt`` with either an answer (``completion``: the SFT target, an evaluation item's reference)
or a preference pair (``chosen`` / ``rejected``), optionally a ``system`` prompt and earlier turns (``history``),
a ``category`` and the remaining scalar metadata of its row (``id``, ``level``, ``source_file``, ``chunk`` ...).

Files keep plain rows: :meth:`Example.from_row` reads a normalised row (``{prompt, completion}`` or
``{prompt, chosen, rejected}``, with ``system``, ``history`` and metadata) and :meth:`Example.to_row` gives it back
with the same keys in the same order, so the chunk and evaluation files stay byte for byte what they were.

A frozen dataclass rather than a pydantic model: the normalisers already check every field and name the offending
row in a :class:`~evoforge.errors.DataError`; pydantic would coerce values (``5`` → ``"5"``) and raise its own
error type, and this layer stays on the standard library. Frozen, so a chunk and the held-out list can share
examples safely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from evoforge.errors import DataError

Scalar = str | int | float | bool
Row = dict[str, Any]

_TEXT_FIELDS = ("prompt", "system", "completion", "chosen", "rejected")
_CONTENT = (*_TEXT_FIELDS, "history")
NO_CATEGORY = "all"  # the category of an evaluation item that has none


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier turn of a conversation: ``role`` is ``user``, ``assistant`` or ``system``."""

    role: str
    content: str


@dataclass(frozen=True, slots=True)
class Example:
    """A prompt with its answer (``completion``) or a preference pair (``chosen``/``rejected``), never both.

    ``category`` is the row's category when it is text (a category of another type stays in ``meta`` as it was);
    ``meta`` holds every other scalar field of the row. ``field_order`` is the key order of the row the example
    came from, so that :meth:`to_row` writes the row as it was read (fields it does not list follow in the order
    prompt, system, history, completion, chosen, rejected, category, then ``meta``); it takes no part in ``==``.
    ``history`` is None when the row has none (an empty tuple stands for an empty ``history`` list).
    """

    prompt: str
    completion: str | None = None
    chosen: str | None = None
    rejected: str | None = None
    system: str | None = None
    history: tuple[Turn, ...] | None = None
    category: str | None = None
    meta: Mapping[str, Scalar] = field(default_factory=dict, hash=False)
    field_order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        answer = self.completion is not None
        pair = self.chosen is not None and self.rejected is not None
        half_pair = (self.chosen is None) != (self.rejected is None)
        if answer == pair or half_pair:
            raise DataError("an example needs either a 'completion' or both 'chosen' and 'rejected' (not both)")
        clash = sorted(k for k in self.meta if k in _CONTENT or (k == "category" and self.category is not None))
        if clash:
            raise DataError(f"metadata may not hold the example's own field(s) {', '.join(clash)}")

    # -- construction ------------------------------------------------------------------------------------------
    @classmethod
    def from_row(cls, row: Mapping[str, Any], where: str) -> Example:
        """The example of a normalised row; a row that is not one raises DataError naming ``where``."""
        if not isinstance(row, Mapping):
            raise DataError(f"{where}: expected an object (a record), got {type(row).__name__}")
        if "prompt" not in row:
            raise DataError(f"{where}: the record lacks 'prompt' (keys: {', '.join(sorted(row)) or 'none'})")
        text: dict[str, str] = {}
        for name in _TEXT_FIELDS:
            if name in row:
                value = row[name]
                if not isinstance(value, str):
                    raise DataError(f"{where}: field '{name}' must be text, got {type(value).__name__}")
                text[name] = value
        category = row.get("category")
        meta: dict[str, Scalar] = {}
        for key, value in row.items():
            if key in _CONTENT or (key == "category" and isinstance(category, str)):
                continue
            if not isinstance(value, Scalar):
                raise DataError(
                    f"{where}: metadata field '{key}' must be text, a number or true/false, got {type(value).__name__}"
                )
            meta[key] = value
        try:
            return cls(
                prompt=text["prompt"],
                completion=text.get("completion"),
                chosen=text.get("chosen"),
                rejected=text.get("rejected"),
                system=text.get("system"),
                history=_history(row["history"], where) if "history" in row else None,
                category=category if isinstance(category, str) else None,
                meta=meta,
                field_order=tuple(row),
            )
        except DataError as exc:
            raise DataError(f"{where}: {exc}") from None

    @classmethod
    def for_eval(cls, prompt: str, reference: str, category: str = NO_CATEGORY) -> Example:
        """An evaluation item: the user prompt, the reference answer, and its category."""
        return cls(prompt, completion=reference, category=category)

    def with_meta(self, **values: Scalar) -> Example:
        """This example with metadata fields set, as ``{**row, **values}`` would set them on its row."""
        return Example.from_row({**self.to_row(), **values}, f"example {self.prompt[:40]!r}")

    # -- views -------------------------------------------------------------------------------------------------
    @property
    def is_preference(self) -> bool:
        """Whether this is a chosen/rejected pair (otherwise it has a completion)."""
        return self.chosen is not None

    @property
    def reference(self) -> str:
        """The answer an evaluation scores against: the completion, or the chosen answer of a pair."""
        return self.completion if self.completion is not None else self.chosen or ""

    def eval_item(self) -> Row:
        """The example as an evaluation report row shows it: ``prompt, reference, category`` (in that order)."""
        category = NO_CATEGORY if self.category is None else self.category
        return {"prompt": self.prompt, "reference": self.reference, "category": category}

    def get(self, name: str, default: Any = None) -> Any:
        """The value of field ``name`` as the example's row holds it (``default`` when the row has none)."""
        return self._values().get(name, default)

    def to_row(self) -> Row:
        """The normalised row: the keys of the row the example was read from, in its order (see the class)."""
        values = self._values()
        row = {key: values.pop(key) for key in self.field_order if key in values}
        row.update(values)
        return row

    def _values(self) -> Row:
        values: Row = {"prompt": self.prompt}
        if self.system is not None:
            values["system"] = self.system
        if self.history is not None:
            values["history"] = [{"role": turn.role, "content": turn.content} for turn in self.history]
        for name in ("completion", "chosen", "rejected", "category"):
            value = getattr(self, name)
            if value is not None:
                values[name] = value
        values.update(self.meta)
        return values


def _history(turns: Any, where: str) -> tuple[Turn, ...]:
    """Earlier turns from a row's ``history``: a list of ``{role, content}`` objects."""
    if not isinstance(turns, list):
        raise DataError(f"{where}: 'history' must be a list of {{role, content}} turns, got {type(turns).__name__}")
    out = []
    for i, turn in enumerate(turns):
        if not (isinstance(turn, Mapping) and set(turn) == {"role", "content"}):
            raise DataError(f"{where}: history turn {i} must be an object with exactly 'role' and 'content'")
        role, content = turn["role"], turn["content"]
        if not (isinstance(role, str) and isinstance(content, str)):
            raise DataError(f"{where}: history turn {i} must have text 'role' and 'content'")
        out.append(Turn(role, content))
    return tuple(out)
