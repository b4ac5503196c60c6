"""Seed records: read from a local JSONL / JSON / parquet file, a saved Hugging Face dataset directory or a hub
dataset name (the real ``datasets`` loader, which needs a network), and normalised. Every seed is normalised to
``{id, instruction, response, category}``; fields may be dotted paths with list indices (``instances.0.output``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evoforge.data.io import read_located
from evoforge.errors import DataError

Row = dict[str, Any]
_INDEX = re.compile(r"\[(\d+)\]")
_MISSING = object()


def field_value(record: Any, path: str) -> Any:
    """The value at a dotted path (``a.b``, ``instances.0.output`` or ``instances[0].output``), or a sentinel."""
    node = record
    for part in _INDEX.sub(r".\1", path).split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _read_hub(name: str) -> list[tuple[str, Any]]:
    """A dataset on the Hugging Face hub (train split), through the real ``datasets`` loader (needs a network)."""
    try:
        from datasets import load_dataset

        rows = list(load_dataset(name, split="train"))
    except Exception as exc:  # offline, unknown name, gated...: the user needs the name and the reason
        raise DataError(f"cannot load the Hugging Face dataset '{name}': {type(exc).__name__}: {exc}") from None
    return [(f"{name}[{i}]", dict(row)) for i, row in enumerate(rows)]


def read_raw(source: str) -> list[tuple[str, Any]]:
    """Records of ``source`` with where each one is (``file:line`` for JSONL, ``file[index]`` otherwise)."""
    path = Path(source)
    if not path.exists() and not path.suffix and source.count("/") == 1:
        return _read_hub(source)
    return list(read_located(path))


def normalise(records: Sequence[tuple[str, Any]], instruction_field: str, response_field: str) -> list[Row]:
    """``{id, instruction, response, category}`` per record; a record without an instruction is an error.

    The self-instruct format (``instances: [{input, output}]``) is recognised: a non-empty first input is appended
    to the instruction and, unless ``response_field`` names something present, the first output is the response.
    """
    out = []
    for index, (where, record) in enumerate(records):
        if not isinstance(record, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
        instruction = field_value(record, instruction_field)
        if instruction is _MISSING or not isinstance(instruction, str) or not instruction.strip():
            fields = ", ".join(sorted(record)) or "none"
            problem = "no" if instruction is _MISSING else "an empty or non-text"
            raise DataError(
                f"{where}: {problem} '{instruction_field}' field (fields present: {fields}); "
                f"set evolve.instruction_field to the field that holds the instruction"
            )
        response = field_value(record, response_field)
        first = field_value(record, "instances.0")
        if isinstance(first, dict):
            extra = str(first.get("input") or "").strip()
            instruction = f"{instruction.strip()}\n\n{extra}" if extra else instruction
            if response is _MISSING:
                response = first.get("output", _MISSING)
        ident = record.get("id")
        out.append(
            {
                "id": str(ident) if ident not in (None, "") else f"seed-{index}",
                "instruction": instruction.strip(),
                "response": None if response is _MISSING else response,
                "category": record.get("category"),
            }
        )
    return out
