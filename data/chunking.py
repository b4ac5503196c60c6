"""Cutting a normalised dataset into chunks (one delta each) and holding out an evaluation split.

``by`` is a record field (``category``, ``level``, ...), ``file`` (the record's ``source_file``) or ``parts:N``
(N near-equal random parts). The held-out split takes ``eval_fraction`` of every chunk (stratified, seeded; a
chunk of one record gives none) and no delta ever trains on it. :func:`write_chunks` writes
``chunks/<name>.jsonl`` and ``eval.jsonl`` (rows ``prompt, reference, category, chunk``, the evaluation set format).
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from evoforge.errors import ConfigError, DataError
from evoforge.runs import atomic_write_jsonl

Records = list[dict[str, Any]]


def chunk_name(value: Any) -> str:
    """A file-safe chunk name for a field value."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(value)).strip("._") or "chunk"
    return name[:60]


def _group(records: Records, by: str, seed: int) -> dict[str, Records]:
    if by.startswith("parts:"):
        try:
            parts = int(by.split(":", 1)[1])
        except ValueError:
            parts = 0
        if parts < 1:
            raise ConfigError(f"chunk_by '{by}': expected parts:N with N a positive whole number")
        order = list(range(len(records)))
        random.Random(seed).shuffle(order)
        width = len(str(parts))
        return {f"part{i + 1:0{width}d}": [records[j] for j in sorted(order[i::parts])] for i in range(parts)}
    field = "source_file" if by == "file" else by
    groups: dict[str, Records] = {}
    owners: dict[str, Any] = {}
    for i, record in enumerate(records):
        if record.get(field) in (None, ""):
            raise DataError(
                f"record {i} (prompt {str(record.get('prompt', ''))[:40]!r}) has no '{field}' to chunk by; "
                "choose another field, 'file' or 'parts:N'"
            )
        value = record[field]
        name = base = chunk_name(value)
        while owners.setdefault(name, value) != value:  # two values that sanitise to the same name
            name = f"{base}-{len(owners)}"
        groups.setdefault(name, []).append(record)
    return dict(sorted(groups.items()))


def chunk_dataset(
    records: Records, by: str = "category", eval_fraction: float = 0.2, seed: int = 0
) -> tuple[dict[str, Records], Records]:
    """Split ``records`` into named chunks and a held-out evaluation list (stratified by chunk, seeded).

    Every held-out record gets a ``chunk`` field. Raises DataError for no records or a record without the field,
    ConfigError for a bad ``by``.
    """
    if not records:
        raise DataError("no records to chunk")
    if not 0 <= eval_fraction < 1:
        raise ConfigError(f"eval_fraction must be in [0, 1), got {eval_fraction}")
    chunks: dict[str, Records] = {}
    held_out: Records = []
    for name, group in _group(records, by, seed).items():
        order = list(range(len(group)))
        random.Random(f"{seed}:{name}").shuffle(order)
        n_eval = round(len(group) * eval_fraction) if len(group) > 1 else 0
        n_eval = min(max(n_eval, 1 if eval_fraction > 0 and len(group) > 1 else 0), len(group) - 1)
        held = set(order[:n_eval])
        chunks[name] = [r for i, r in enumerate(group) if i not in held]
        held_out += [{**group[i], "chunk": name} for i in sorted(held)]
    return chunks, held_out


def eval_row(record: dict[str, Any]) -> dict[str, Any]:
    """A held-out record as an evaluation row: ``prompt, reference`` (completion or chosen), category, chunk."""
    reference = record.get("completion", record.get("chosen"))
    category = record.get("category", record.get("chunk", "all"))
    return {**record, "reference": reference, "category": str(category)}


def write_chunks(out_dir: Path, chunks: dict[str, Records], held_out: Records, *, overwrite: bool = False) -> Path:
    """Write ``out_dir/chunks/<name>.jsonl`` and ``out_dir/eval.jsonl``.

    Existing chunks are refused unless ``overwrite`` (which also removes chunk files the new split lacks).
    """
    chunk_dir = out_dir / "chunks"
    if chunk_dir.is_dir() and any(chunk_dir.iterdir()) and not overwrite:
        raise DataError(f"{chunk_dir} already holds chunks; use a new run directory")
    for stale in chunk_dir.glob("*.jsonl") if overwrite else ():
        if stale.stem not in chunks:  # a chunk of an earlier split must not be trained again
            stale.unlink()
    for name, records in chunks.items():
        atomic_write_jsonl(chunk_dir / f"{name}.jsonl", records)
    atomic_write_jsonl(out_dir / "eval.jsonl", [eval_row(r) for r in held_out])
    return chunk_dir
