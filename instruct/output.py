"""The output file of airoboros' generation: JSON Lines of ``{instruction, response, category[, system]}``.

Records are appended one at a time and flushed to disk (fsync) before the next, so a stop — the budget, Ctrl-C, a
kill -9 — keeps every record written. Reopening the file reads what is there: a last line cut short by a kill is
dropped (it was never a whole record), a malformed line elsewhere is an error naming the file and line. The counts
per category and the instructions already written are where a resumed run continues from.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from evoforge.errors import ConfigError, DataError


def read_records(path: Path) -> list[dict[str, Any]]:
    """The whole records of ``path`` (none when it does not exist); a torn last line is cut off the file."""
    if not path.is_file():
        return []
    raw = path.read_bytes()
    records: list[dict[str, Any]] = []
    offset = 0
    for number, line in enumerate(raw.splitlines(keepends=True), 1):
        last = offset + len(line) == len(raw)
        offset += len(line)
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            if last and not line.endswith(b"\n"):  # the record being written when the process was killed
                with path.open("r+b") as handle:
                    handle.truncate(offset - len(line))
                break
            raise DataError(f"{path}, line {number}: not a JSON record; fix or remove the line") from None
        if not isinstance(row, dict) or not isinstance(row.get("instruction"), str) or "category" not in row:
            raise DataError(f"{path}, line {number}: expected a record with instruction, response and category")
        records.append(row)
    return records


def prepare(path: Path, overwrite: bool, append: bool) -> str:
    """Make ``path`` ready for a new run (airoboros' ``overwrite`` / ``append``); returns what was done.

    ``overwrite`` keeps the old file beside it as ``<name>.<time>.bak`` (nothing is lost); ``append`` continues it;
    with neither, an existing file is an error.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        return "new"
    if overwrite:
        backup = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}.bak")
        path.rename(backup)
        return f"overwrite (the old file is {backup})"
    if append:
        return "append"
    raise ConfigError(f"{path} exists and instruct.overwrite and instruct.append are both false; set one of them")


class RecordFile:
    """The records of one output file, opened for appending."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records = read_records(path)
        self.counts: Counter[str] = Counter(str(r["category"]) for r in self.records)
        self._handle = path.open("a", encoding="utf-8")

    def instructions(self) -> list[str]:
        """The instructions written so far, in order."""
        return [str(r["instruction"]) for r in self.records]

    def append(self, record: dict[str, Any]) -> None:
        """Write one record and make it durable before returning."""
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.records.append(record)
        self.counts[str(record["category"])] += 1

    def close(self) -> None:
        """Close the file."""
        self._handle.close()
