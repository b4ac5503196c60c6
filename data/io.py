"""Reading raw dataset rows: JSONL, JSON, parquet, or a saved Hugging Face dataset directory.

:func:`read_located` yields each row with its location (``file:line`` for JSONL, ``file[index]`` otherwise) so
that later checks can name the offending row; :func:`read_records` gives the bare rows. Both raise
:class:`~evoforge.errors.DataError` for a missing or empty file, a file that is not UTF-8 text (another encoding,
binary data), malformed JSON, a row that is not an object, or a corrupt parquet file or dataset folder; an error
quotes at most a few dozen characters of the data. A UTF-8 byte-order mark at the start of a file is skipped.
Formats (alpaca, sharegpt, ...) are the business of :mod:`evoforge.data.formats`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from evoforge.errors import DataError

Located = tuple[str, dict[str, Any]]
QUOTE_CHARS = 40  # the most characters of the data an error message quotes
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # bytes that JSON text never holds raw
_MAGIC = (  # first bytes of files that are not UTF-8 text, what they are, and what to do
    (b"\xff\xfe", "UTF-16 text", "save the file as UTF-8"),
    (b"\xfe\xff", "UTF-16 text", "save the file as UTF-8"),
    (b"\x1f\x8b", "gzip-compressed data", "decompress it first"),
    (b"PK\x03\x04", "a zip archive", "extract it first"),
    (b"PAR1", "a parquet file", "name it .parquet"),
)


def _excerpt(text: str, at: int = 0) -> str:
    """At most :data:`QUOTE_CHARS` characters of ``text`` around position ``at``, quoted; ``...`` marks a cut."""
    start = max(0, min(at - QUOTE_CHARS // 2, len(text) - QUOTE_CHARS))
    piece = repr(text[start : start + QUOTE_CHARS])
    return ("..." if start else "") + piece + ("..." if start + QUOTE_CHARS < len(text) else "")


def _cut(message: str) -> str:
    """The first line of a library's error message, cut to a readable length."""
    first = (message.strip().splitlines() or [""])[0]
    return first if len(first) <= 4 * QUOTE_CHARS else first[: 4 * QUOTE_CHARS] + "..."


def _refuse_foreign(path: Path, what: str) -> None:
    """A DataError when the file's first bytes show it is not UTF-8 text (UTF-16, compressed, parquet)."""
    with path.open("rb") as handle:
        head = handle.read(4)
    for magic, kind, hint in _MAGIC:
        if head.startswith(magic):
            raise DataError(f"{path}: this is {kind}, not UTF-8 {what}; {hint}")


def _check_text(text: str, path: Path, line: int = 1) -> str:
    """``text`` (a file, or its line ``line``, decoded with ``surrogateescape``) when it is UTF-8 text; else a
    DataError naming the line and column of the first control byte JSON never holds (binary data) or of the first
    byte that is not UTF-8."""
    control = _CONTROL.search(text)
    if control is None and text.isascii():
        return text
    try:
        text.encode("utf-8")
        bad = -1
    except UnicodeEncodeError as exc:  # an undecodable byte became a lone surrogate
        bad = exc.start
    if bad < 0 and control is None:
        return text
    at = control.start() if control is not None and (bad < 0 or control.start() < bad) else bad
    line += text.count("\n", 0, at)
    column = at - text.rfind("\n", 0, at)
    if control is not None and at == control.start():
        raise DataError(
            f"{path}: line {line} holds the control byte 0x{ord(text[at]):02x} (column {column}): this looks like "
            "a binary file (or UTF-16 text), not UTF-8 text"
        )
    byte = ord(text[at]) - 0xDC00
    raise DataError(
        f"{path}: line {line} is not UTF-8 text (byte 0x{byte:02x} at column {column}); save the file as UTF-8"
    )


def _check_row(row: Any, where: str) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object (a record), got {type(row).__name__}")
    return row


def _read_jsonl(path: Path) -> list[Located]:
    _refuse_foreign(path, "JSON Lines")
    rows: list[Located] = []
    # utf-8-sig skips a byte-order mark; surrogateescape lets _check_text name the line of a byte that is not UTF-8
    with path.open(encoding="utf-8-sig", errors="surrogateescape") as handle:
        for number, line in enumerate(handle, start=1):
            _check_text(line, path, number)
            if not line.strip():
                continue
            where = f"{path}:{number}"
            line = line.rstrip("\r\n")
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{where}: not valid JSON ({exc.msg} at column {exc.colno}) near {_excerpt(line, exc.pos)}"
                ) from None
            rows.append((where, _check_row(row, where)))
    return rows


def _columns_to_rows(data: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """A column-oriented object ``{"instruction": [...], "output": [...]}`` → rows."""
    lengths = {len(v) for v in data.values()}
    if len(lengths) != 1:
        raise DataError(f"{path}: column-oriented JSON needs columns of equal length, got lengths {sorted(lengths)}")
    keys = list(data)
    return [dict(zip(keys, values, strict=True)) for values in zip(*data.values(), strict=True)]


def _json_text(path: Path) -> str:
    """The text of a whole JSON file (a byte-order mark skipped); DataError when it is not UTF-8 text or empty."""
    _refuse_foreign(path, "JSON")
    text = _check_text(path.read_bytes().decode("utf-8-sig", errors="surrogateescape"), path)
    if not text.strip():
        raise DataError(f"{path}: the file is empty")
    return text


def _json_error(path: Path, text: str, exc: json.JSONDecodeError) -> DataError:
    """What is wrong with a JSON file, quoting a little of it around the position."""
    if exc.pos == len(text) - len(text.lstrip()):
        start = _excerpt(text.lstrip())
        return DataError(f"{path}: not JSON: expected a list or an object of records, but the file starts with {start}")
    near = _excerpt(text, exc.pos)
    return DataError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno}) near {near}")


def _read_json(path: Path) -> list[Located]:
    text = _json_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.lineno > 1 or "Extra data" in exc.msg:  # maybe JSON Lines under a .json name
            try:
                return _read_jsonl(path)
            except DataError:
                pass
        raise _json_error(path, text, exc) from None
    if isinstance(data, dict):
        if all(isinstance(v, list) for v in data.values()) and data:
            data = _columns_to_rows(data, path)
        else:
            list_keys = [k for k in ("data", "train", "records", "examples") if isinstance(data.get(k), list)]
            if not list_keys:
                raise DataError(f"{path}: expected a list of records (or an object with a 'data' list)")
            data = data[list_keys[0]]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a list of records, got {type(data).__name__}")
    return [(f"{path}[{i}]", _check_row(row, f"{path}[{i}]")) for i, row in enumerate(data)]


def _read_parquet(path: Path) -> list[Located]:
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise DataError(f"{path}: not a readable parquet file ({type(exc).__name__}: {_cut(str(exc))})") from None
    return [(f"{path}[{i}]", row) for i, row in enumerate(rows)]


def _read_hf_dir(path: Path) -> list[Located]:
    from datasets import DatasetDict, load_from_disk

    try:
        data = load_from_disk(str(path))
        if isinstance(data, DatasetDict):
            split = "train" if "train" in data else next(iter(data))
            data = data[split]
        return [(f"{path}[{i}]", dict(row)) for i, row in enumerate(data)]
    except Exception as exc:  # datasets / pyarrow raise many types for foreign or corrupt folders
        problem = f"{type(exc).__name__}: {_cut(str(exc))}"
        raise DataError(f"{path}: not a readable saved Hugging Face dataset ({problem})") from None


def read_located(path: str | Path) -> list[Located]:
    """Raw rows of a data file with their locations; raises DataError naming the file (and line) on problems."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    if path.is_dir():
        if not ((path / "state.json").is_file() or (path / "dataset_dict.json").is_file()):
            raise DataError(f"{path}: a folder must be a saved Hugging Face dataset (datasets.save_to_disk)")
        rows = _read_hf_dir(path)
    elif path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    elif path.suffix == ".jsonl":
        rows = _read_jsonl(path)
    elif path.suffix == ".json":
        rows = _read_json(path)
    elif path.suffix in (".parquet", ".pq"):
        rows = _read_parquet(path)
    else:
        raise DataError(f"{path}: unknown data file type '{path.suffix}' (expected .jsonl, .json, .parquet)")
    if not rows:
        raise DataError(f"{path}: holds no records")
    return rows


def read_text(path: str | Path, what: str = "text") -> str:
    """The UTF-8 text of a plain text file (a byte-order mark skipped); DataError naming the file (and the line) when
    it is missing, a folder, or not UTF-8 text (another encoding, binary data)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{what} file not found: {path}")
    if path.is_dir():
        raise DataError(f"{path}: a folder, not a {what} file")
    _refuse_foreign(path, what)
    return _check_text(path.read_bytes().decode("utf-8-sig", errors="surrogateescape"), path)


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Raw rows (dicts) of a JSONL/JSON/parquet file or saved HF dataset; DataError names file and line."""
    return [row for _, row in read_located(path)]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON Lines file the run itself wrote (an empty file is no rows)."""
    return read_records(path) if path.stat().st_size else []
