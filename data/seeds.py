"""Seed records: read from a local JSONL / JSON / parquet file, a saved Hugging Face dataset directory or a hub
dataset name (the real ``datasets`` loader, which needs a network), and normalised. Every seed is normalised to
``{id, instruction, response, category}``; fields may be dotted paths with list indices (``instances.0.output``).

A hub name is ``owner/name``, optionally with a split after a colon in the ``datasets`` split syntax
(``tatsu-lab/alpaca:train[:1000]``; default ``train``). A gated or private dataset reads its token the way
``datasets`` does (``HF_TOKEN``, or a saved ``hf auth login``); the Auto Evol-Instruct seed's ``MY_HF_TOKEN`` is
passed on when ``HF_TOKEN`` is not set. The token is never logged or stored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evoforge.data.io import read_located
from evoforge.errors import DataError
from evoforge.settings import redact

Row = dict[str, Any]
HubLoader = Callable[..., Iterable[Mapping[str, Any]]]
"""A hub dataset loader with the signature of ``datasets.load_dataset(name, split=..., token=...)``."""
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


def _hub_token() -> str | None:
    """The token to pass to the hub: the seed's ``MY_HF_TOKEN`` when ``HF_TOKEN`` is not set, else None (the
    ``datasets`` default, which reads ``HF_TOKEN`` or a saved login itself)."""
    if os.environ.get("HF_TOKEN"):
        return None
    return os.environ.get("MY_HF_TOKEN") or None


def _read_hub(source: str, load: HubLoader | None) -> list[tuple[str, Any]]:
    """A split of a dataset on the Hugging Face hub, through ``load`` (default: ``datasets.load_dataset``)."""
    name, _, split = source.partition(":")
    split = split or "train"
    try:
        if load is None:
            from datasets import load_dataset

            load = load_dataset
        rows = list(load(name, split=split, token=_hub_token()))
    except Exception as exc:  # offline, unknown name, gated...: the user needs the name and the reason
        reason = redact(f"{type(exc).__name__}: {exc}")
        raise DataError(f"cannot load split '{split}' of the Hugging Face dataset '{name}': {reason}") from None
    return [(f"{name}[{i}]", dict(row)) for i, row in enumerate(rows)]


def read_raw(source: str, load: HubLoader | None = None) -> list[tuple[str, Any]]:
    """Records of ``source`` with where each one is (``file:line`` for JSONL, ``file[index]`` otherwise).

    ``source`` is a local file or directory, or (when no such path exists) a hub name ``owner/name[:split]``
    read through ``load`` (default: the real ``datasets.load_dataset``, which needs a network).
    """
    path = Path(source)
    name = source.partition(":")[0]
    if not path.exists() and not Path(name).suffix and name.count("/") == 1:
        return _read_hub(source, load)
    return list(read_located(path))


def normalise(records: Sequence[tuple[str, Any]], instruction_field: str, response_field: str) -> list[Row]:
    """``{id, instruction, response, category}`` per record; a record without an instruction is an error.

    The self-instruct format (``instances: [{input, output}]``) is recognised: a non-empty first input is appended
    to the instruction and, unless ``response_field`` names something present, the first output is the response.
    So is the alpaca format's ``input`` (the text the instruction works on): a non-empty one is appended too.
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
        extra = record.get("input") if instruction_field != "input" else None
        if isinstance(first, dict):
            extra = first.get("input")
            if response is _MISSING:
                response = first.get("output", _MISSING)
        extra = str(extra or "").strip()
        instruction = f"{instruction.strip()}\n\n{extra}" if extra else instruction
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
