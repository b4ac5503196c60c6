"""Reading raw dataset rows: JSONL, JSON, parquet, or a saved Hugging Face dataset directory.

:func:`read_located` yields each row with its location (``file:line`` for JSONL, ``file[index]`` otherwise) so
that later checks can name the offending row; :func:`read_records` gives the bare rows. Both raise
:class:`~evoforge.errors.DataError` for a missing or empty file, malformed JSON, or a row that is not an object.
Formats (alpaca, sharegpt, ...) are the business of :mod:`evoforge.data.formats`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evoforge.errors import DataError

Located = tuple[str, dict[str, Any]]


def _check_row(row: Any, where: str) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object (a record), got {type(row).__name__}")
    return row


def _read_jsonl(path: Path) -> list[Located]:
    rows: list[Located] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            rows.append((where, _check_row(row, where)))
    return rows


def _columns_to_rows(data: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """A column-oriented object ``{"instruction": [...], "output": [...]}`` → rows."""
    lengths = {len(v) for v in data.values()}
    if len(lengths) != 1:
        raise DataError(f"{path}: column-oriented JSON needs columns of equal length, got lengths {sorted(lengths)}")
    keys = list(data)
    return [dict(zip(keys, values, strict=True)) for values in zip(*data.values(), strict=True)]


def _read_json(path: Path) -> list[Located]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.lineno > 1 or "Extra data" in exc.msg:  # maybe JSON Lines under a .json name
            try:
                return _read_jsonl(path)
            except DataError:
                pass
        raise DataError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
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
        raise DataError(f"{path}: not a readable parquet file ({exc})") from None
    return [(f"{path}[{i}]", row) for i, row in enumerate(rows)]


def _read_hf_dir(path: Path) -> list[Located]:
    from datasets import DatasetDict, load_from_disk

    try:
        data = load_from_disk(str(path))
    except Exception as exc:  # datasets raises FileNotFoundError/ValueError for foreign folders
        raise DataError(f"{path}: not a saved Hugging Face dataset ({exc})") from None
    if isinstance(data, DatasetDict):
        split = "train" if "train" in data else next(iter(data))
        data = data[split]
    return [(f"{path}[{i}]", dict(row)) for i, row in enumerate(data)]


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


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Raw rows (dicts) of a JSONL/JSON/parquet file or saved HF dataset; DataError names file and line."""
    return [row for _, row in read_located(path)]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON Lines file the run itself wrote (an empty file is no rows)."""
    return read_records(path) if path.stat().st_size else []
