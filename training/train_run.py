"""The run of ``evoforge train``: chunk a dataset, hold out an eval split (or take the validation records), and train
a LoRA delta per chunk (+ train@all) or, with ``train.method: full``, one whole model on every chunk; writes the
chunks, the adapters or model, their cards and ``deltas.json`` in a run of its own. The command parses, checks and
prints what it returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evoforge.runs import RunDir
    from evoforge.settings import Config
    from evoforge.training.trainer import DeltaResult

StartRun = Callable[["Config", str], "RunDir"]  # (config, command) → the new run directory
WriteCards = Callable[["Config", Path, list[Path], str], object]  # (config, run, adapters, data) → their model cards
RESULT_KEYS = ("records", "final_loss", "tokens_per_s", "wall_seconds", "eval_after", "eval_per_epoch")


@dataclass(frozen=True)
class TrainRun:
    """What a train run did: its directory, the ``deltas.json`` rows, what the evaluation records were called
    (``validation`` or ``held-out``) and each delta's (or the full model's) result."""

    run: RunDir
    summary: list[dict[str, Any]]
    held: str
    results: list[DeltaResult]


def train_run(
    cfg: Config, train: Path, valid_dir: Path | None, fmt: str | None, start: StartRun, write_cards: WriteCards
) -> TrainRun:
    """Train on the records of ``train`` (``fmt``: their format, None to detect it) in a run opened by ``start``,
    evaluating each delta on ``valid_dir``'s records when given, else on a held-out split (``train.eval_fraction``);
    ``write_cards`` writes the trained adapters' (or model's) cards."""
    from evoforge.console import info
    from evoforge.data.chunking import chunk_dataset, write_chunks
    from evoforge.data.folders import load_dataset_path
    from evoforge.data.records import Example
    from evoforge.runs import atomic_write_json
    from evoforge.training.deltas import train_deltas
    from evoforge.training.full import train_full
    from evoforge.training.student import resolve_student, use_threads

    records = load_dataset_path(train, fmt)
    valid = load_dataset_path(valid_dir, fmt) if valid_dir else None
    split = cfg.train
    fraction = 0.0 if valid is not None else split.eval_fraction
    chunks, held_out = chunk_dataset(records, split.chunk_by, fraction, cfg.run.seed, split.mix_other_chunks)
    if valid is not None:  # no chunk: every delta is evaluated on all of it
        held_out = [Example.from_row(row, f"{valid_dir} record {i}") for i, row in enumerate(valid)]
    student = resolve_student(cfg.student.model)
    use_threads(cfg.student)
    run = start(cfg, "train")
    held = "validation" if valid is not None else "held-out"
    with run.recording():
        write_chunks(run.path, chunks, held_out)
        run.event("chunked", data=str(train), chunks={k: len(v) for k, v in chunks.items()}, eval=len(held_out))
        info(f"run {run.run_id}: {len(chunks)} chunks, {len(held_out)} {held} records, student {student}")
        if split.method == "full":
            results = [train_full(student, run.path, split, seed=cfg.run.seed, device=cfg.student.device)]
        else:
            results = train_deltas(
                student,
                run.path / "chunks",
                run.path / "adapters",
                split,
                eval_path=run.path / "eval.jsonl",
                seed=cfg.run.seed,
                device=cfg.student.device,
            )
        write_cards(cfg, run.path, [r.adapter_path for r in results], str(train))
    summary = [
        {"name": r.name, "method": r.method, "chunk": r.chunk, "adapter": str(r.adapter_path), "reused": r.reused}
        | {k: r.metrics.get(k) for k in RESULT_KEYS}
        for r in results
    ]
    atomic_write_json(run.file("deltas.json"), summary)
    run.finish("completed", student=str(student), deltas=[r.name for r in results])
    return TrainRun(run, summary, held, results)
