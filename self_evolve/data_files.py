"""Self-Evolution's data files and the small text rules of its generation step.

Two files, in the seed's formats (seed 003, "Data Format"):

- the source file: a JSON list of knowledge fragments ``[{"instruction": "<fragment>"}, ...]``
  (:func:`read_fragments`);
- the eval file: a JSON list of ``{"instruction": fragment, "input": question, "output": answer}``
  (:func:`read_eval_items`).

JSON Lines files with the same rows are read too. Both go through :func:`evoforge.data.io.read_located`, so a
missing or empty file, text that is not UTF-8, binary data or malformed JSON get the foundation's errors; the checks
here add what the seed's format needs. Every error is a :class:`~evoforge.errors.DataError` naming the file, the
item (``file[3]`` for a JSON list, ``file:4`` for a JSON Lines line) and the field, and saying what was expected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from evoforge.data.io import Located, read_located
from evoforge.errors import DataError
from evoforge.evals.metrics import has_cjk

FRAGMENTS_EXPECTED = "expected a JSON list of objects with 'instruction' (a knowledge fragment)"
EVAL_EXPECTED = "expected a JSON list of objects with 'input' (a question) and 'output' (its answer)"
_QUESTION_MARK = re.compile(r"[?？]")
MIN_REPEATS = 4
"""A unit (or a short phrase of units) repeated this many times in a row can make an answer degenerate."""
MAX_PERIOD = {"word": 3, "char": 8}
"""The longest repeated phrase :func:`is_degenerate` looks for: 3 words, or 8 characters of CJK text."""


# -- reading -----------------------------------------------------------------------------------------------------
def _top_level(path: Path) -> str | None:
    """What a ``.json`` file's top level is when it is not a non-empty list: ``empty list``, ``dict``, ``str``, ...;
    None for a non-empty list, a file that is not ``.json`` or not strict UTF-8 JSON (the foundation's error then
    stands)."""
    if path.suffix != ".json" or not path.is_file():
        return None
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if isinstance(data, list):
        return None if data else "empty list"
    return type(data).__name__


def _starts_with_object(path: Path) -> bool:
    """Whether a ``.json`` file's first non-blank character opens an object (an object, or JSON Lines)."""
    with path.open("rb") as handle:
        head = handle.read(4096).decode("utf-8-sig", errors="ignore").lstrip()
    return head.startswith("{")


def _located_rows(path: str | Path, expected: str) -> list[Located]:
    """The rows of a JSON list or JSON Lines file with their locations; a DataError saying ``expected`` when the
    file is something else (an object, a scalar, an empty list)."""
    path = Path(path)
    try:
        rows = read_located(path)
    except DataError:
        top = _top_level(path)
        if top == "empty list":
            raise DataError(f"{path}: the list is empty; {expected}") from None
        if top is not None:
            kind = "an object" if top == "dict" else f"a JSON {top}"
            raise DataError(f"{path}: the file holds {kind}; {expected}") from None
        raise
    # read_located turns an object of lists (columns) or with a 'data' list into rows; the seed's files are lists
    if path.suffix == ".json" and rows[0][0].startswith(f"{path}[") and _starts_with_object(path):
        raise DataError(f"{path}: the file holds an object; {expected}")
    return rows


def _text_field(row: dict[str, Any], where: str, field: str, what: str, *, required: bool = True) -> str:
    """``row[field]`` when it is a non-empty string (any string when not ``required``; "" when absent then)."""
    if field not in row:
        if not required:
            return ""
        fields = ", ".join(repr(k) for k in list(row)[:6]) or "none"
        raise DataError(f"{where}: the item has no '{field}' field (its fields: {fields}); expected {what}")
    value = row[field]
    if not isinstance(value, str):
        raise DataError(f"{where}: field '{field}' is a {type(value).__name__}; expected {what} as a string")
    if required and not value.strip():
        raise DataError(f"{where}: field '{field}' is empty; expected {what}")
    return value


def read_fragments(path: str | Path) -> list[str]:
    """The knowledge fragments of Self-Evolution's source file (``[{"instruction": "<fragment>"}, ...]`` or the same
    rows as JSON Lines), in file order, as written (not stripped).

    Raises:
        DataError: the file's own problems (see :func:`evoforge.data.io.read_located`), a file that is not a list of
            objects, an empty list, or an item without a non-empty string ``instruction``; the message names the
            file, the item and the field.
    """
    return [
        _text_field(row, where, "instruction", "a non-empty knowledge fragment")
        for where, row in _located_rows(path, FRAGMENTS_EXPECTED)
    ]


def read_eval_items(path: str | Path) -> list[dict[str, str]]:
    """The items of Self-Evolution's eval file, each ``{"instruction": fragment, "input": question, "output":
    answer}``; ``input`` and ``output`` must be non-empty strings, ``instruction`` is optional ("" when absent) but a
    string when present. Other fields are dropped.

    Raises:
        DataError: as :func:`read_fragments`, for a missing or empty ``input``/``output`` or a field that is not a
            string; the message names the file, the item and the field.
    """
    items = []
    for where, row in _located_rows(path, EVAL_EXPECTED):
        items.append(
            {
                "instruction": _text_field(row, where, "instruction", "a knowledge fragment", required=False),
                "input": _text_field(row, where, "input", "a non-empty question"),
                "output": _text_field(row, where, "output", "a non-empty expected answer"),
            }
        )
    return items


# -- the generation step's text rules -----------------------------------------------------------------------------
def clean_question(text: str) -> str | None:
    """A generated question cut to its first question: up to and including the first ``?`` or full-width ``？``,
    stripped. Text with no question mark keeps its first non-blank line, stripped (a model may drop the mark; the
    rest is usually an answer or commentary). None when nothing is left."""
    mark = _QUESTION_MARK.search(text)
    if mark is not None:
        return text[: mark.end()].strip() or None
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first or None


def _longest_repeat(units: list[str], period: int) -> int:
    """How many units the longest run of one ``period``-unit phrase repeated :data:`MIN_REPEATS`+ times covers."""
    best, i, n = 0, 0, len(units)
    while i + period <= n:
        phrase, j = units[i : i + period], i + period
        while j + period <= n and units[j : j + period] == phrase:
            j += period
        if (j - i) // period >= MIN_REPEATS:
            best = max(best, j - i)
            i = j
        else:
            i += 1
    return best


def is_degenerate(text: str) -> bool:
    """Whether a generated answer is unusable: empty (or only whitespace), or mostly one repetition.

    The units are characters (whitespace dropped) for text with CJK characters, else whitespace-separated words. An
    answer is degenerate when one unit, or one phrase of up to :data:`MAX_PERIOD` units, repeated
    :data:`MIN_REPEATS` or more times in a row covers at least half of its units (``的的的的``, ``yes yes yes yes``,
    ``5G网络5G网络5G网络5G网络``). A long answer with one such run inside it is kept.
    """
    if not text.strip():
        return True
    kind = "char" if has_cjk(text) else "word"
    units = list("".join(text.split())) if kind == "char" else text.split()
    covered = max(_longest_repeat(units, period) for period in range(1, MAX_PERIOD[kind] + 1))
    return covered * 2 >= len(units)


def language_of(texts: Iterable[str]) -> Literal["zh", "en"]:
    """``"zh"`` when at least half of the non-blank ``texts`` hold CJK characters
    (:func:`evoforge.evals.metrics.has_cjk`), else ``"en"`` (also for no texts). It picks the prompts' language;
    Japanese or Korean text counts as CJK too, and evoforge's Self-Evolution prompts exist in en and zh."""
    flags = [has_cjk(text) for text in texts if text.strip()]
    return "zh" if flags and sum(flags) * 2 >= len(flags) else "en"
