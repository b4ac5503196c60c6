"""Cutting a normalised dataset (:class:`~evoforge.data.records.Example`s) into chunks (one delta each) and holding
out an evaluation split.

``by`` is a record field (``category``, ``level``, ...), ``file`` (the record's ``source_file``) or ``parts:N``
(N near-equal random parts). The held-out split takes ``eval_fraction`` of every chunk (stratified, seeded; a
chunk of one record gives none) and no delta ever trains on it. ``mix_other`` adds to each chunk a share of every
other chunk's training records (airoboros' expert segmentation: a sampling of the other experts' data, in case a
request is routed to the wrong expert); each mixed record carries ``mixed_from`` (:data:`MIXED_FROM`), the chunk it
belongs to, so train@all counts it once. :func:`write_chunks` writes ``chunks/<name>.jsonl`` (the examples' rows)
and ``eval.jsonl`` (rows ``prompt, reference, category, chunk``, the evaluation set format).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from evoforge.data.records import Example
from evoforge.errors import ConfigError, DataError
from evoforge.runs import atomic_write_jsonl

Examples = list[Example]
MIXED_FROM = "mixed_from"  # the chunk a record mixed into another chunk belongs to
PREFERENCES_CHUNK = "preferences"  # a cycle round's preference pairs: the DPO delta's chunk, no category's expert
RowT = TypeVar("RowT", bound=Mapping[str, Any])


def chunk_name(value: Any) -> str:
    """A file-safe chunk name for a field value."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(value)).strip("._") or "chunk"
    return name[:60]


def _group(records: Examples, by: str, seed: int) -> dict[str, Examples]:
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
    groups: dict[str, Examples] = {}
    owners: dict[str, Any] = {}
    for i, record in enumerate(records):
        value = record.get(field)
        if value in (None, ""):
            raise DataError(
                f"record {i} (prompt {record.prompt[:40]!r}) has no '{field}' to chunk by; "
                "choose another field, 'file' or 'parts:N'"
            )
        name = base = chunk_name(value)
        while owners.setdefault(name, value) != value:  # two values that sanitise to the same name
            name = f"{base}-{len(owners)}"
        groups.setdefault(name, []).append(record)
    return dict(sorted(groups.items()))


def chunk_dataset(
    records: Sequence[Example | Mapping[str, Any]],
    by: str = "category",
    eval_fraction: float = 0.2,
    seed: int = 0,
    mix_other: float = 0.0,
) -> tuple[dict[str, Examples], Examples]:
    """Split ``records`` into named chunks and a held-out evaluation list (stratified by chunk, seeded).

    ``records`` are examples, or normalised rows (read with :meth:`Example.from_row`). Every held-out example gets
    a ``chunk`` field. ``mix_other`` > 0 then adds :func:`mix_other_chunks` to the chunks. Raises DataError for no
    records or a record without the field, ConfigError for a bad ``by`` or share.
    """
    if not records:
        raise DataError("no records to chunk")
    if not 0 <= eval_fraction < 1:
        raise ConfigError(f"eval_fraction must be in [0, 1), got {eval_fraction}")
    examples = [r if isinstance(r, Example) else Example.from_row(r, f"record {i}") for i, r in enumerate(records)]
    chunks: dict[str, Examples] = {}
    held_out: Examples = []
    for name, group in _group(examples, by, seed).items():
        order = list(range(len(group)))
        random.Random(f"{seed}:{name}").shuffle(order)
        n_eval = round(len(group) * eval_fraction) if len(group) > 1 else 0
        n_eval = min(max(n_eval, 1 if eval_fraction > 0 and len(group) > 1 else 0), len(group) - 1)
        held = set(order[:n_eval])
        chunks[name] = [r for i, r in enumerate(group) if i not in held]
        held_out += [group[i].with_meta(chunk=name) for i in sorted(held)]
    return (mix_other_chunks(chunks, mix_other, seed) if mix_other else chunks), held_out


def mix_other_chunks(chunks: Mapping[str, Sequence[Example]], share: float, seed: int = 0) -> dict[str, Examples]:
    """Each chunk followed by a sample of every other chunk: ``share`` of its records (at least one), drawn once per
    chunk (seeded), as airoboros' segment_experts does; the sampled records carry ``mixed_from`` = their chunk."""
    if not 0 <= share < 1:
        raise ConfigError(f"the share of other chunks mixed in must be in [0, 1), got {share}")
    samples: dict[str, Examples] = {}
    for name, examples in chunks.items():
        picked = random.Random(f"{seed}:mix:{name}").sample(range(len(examples)), max(1, round(len(examples) * share)))
        samples[name] = [examples[i].with_meta(**{MIXED_FROM: name}) for i in sorted(picked)]
    return {
        name: [*own, *(r for other, sample in samples.items() if other != name for r in sample)]
        for name, own in chunks.items()
    }


def own_records(rows: Sequence[RowT]) -> list[RowT]:
    """The rows of a chunk file that are the chunk's own (not mixed in from another chunk)."""
    return [row for row in rows if MIXED_FROM not in row]


def eval_row(record: Example) -> dict[str, Any]:
    """A held-out example as an evaluation row: its row plus ``reference`` (completion or chosen) and category."""
    row = record.to_row()
    category = row.get("category", row.get("chunk", "all"))
    return {**row, "reference": record.reference, "category": str(category)}


def write_chunks(
    out_dir: Path, chunks: Mapping[str, Sequence[Example]], held_out: Sequence[Example], *, overwrite: bool = False
) -> Path:
    """Write ``out_dir/chunks/<name>.jsonl`` and ``out_dir/eval.jsonl``.

    Existing chunks are refused unless ``overwrite`` (which also removes chunk files the new split lacks).
    """
    chunk_dir = out_dir / "chunks"
    if chunk_dir.is_dir() and any(chunk_dir.iterdir()) and not overwrite:
        raise DataError(f"{chunk_dir} already holds chunks; use a new run directory")
    for stale in chunk_dir.glob("*.jsonl") if overwrite else ():
        if stale.stem not in chunks:  # a chunk of an earlier split must not be trained again
            stale.unlink()
    for name, examples in chunks.items():
        atomic_write_jsonl(chunk_dir / f"{name}.jsonl", [example.to_row() for example in examples])
    atomic_write_jsonl(out_dir / "eval.jsonl", [eval_row(r) for r in held_out])
    return chunk_dir
