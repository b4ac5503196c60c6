"""``evoforge train``: chunk a dataset and train one LoRA delta per chunk (+ train@all).

Heavy libraries load inside the commands. On several GPUs run ``accelerate launch -m evoforge.cli train ...``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evoforge.cli.options import RunOptions, run_options


def _train(
    data: Path,
    model: str | None,
    chunk_by: str | None,
    method: str | None,
    fmt: str | None,
    opts: RunOptions,
) -> None:
    from rich.table import Table

    from evoforge.console import console, info
    from evoforge.data.chunking import chunk_dataset, write_chunks
    from evoforge.data.formats import load_records
    from evoforge.offline.student import resolve_student, use_threads
    from evoforge.runs import atomic_write_json
    from evoforge.training.deltas import train_deltas

    settings = {"student.model": model, "train.chunk_by": chunk_by, "train.method": method}
    cfg = opts.resolve(*(f"{key}={value}" for key, value in settings.items() if value))
    records = load_records(data, fmt)
    split = cfg.train
    chunks, held_out = chunk_dataset(records, split.chunk_by, split.eval_fraction, cfg.run.seed, split.mix_other_chunks)
    student = resolve_student(cfg.student.model)
    use_threads(cfg.student)
    run = opts.start(cfg, "train")
    with run.recording():
        write_chunks(run.path, chunks, held_out)
        run.event("chunked", data=str(data), chunks={k: len(v) for k, v in chunks.items()}, eval=len(held_out))
        info(f"run {run.run_id}: {len(chunks)} chunks, {len(held_out)} held-out records, student {student}")
        results = train_deltas(
            student,
            run.path / "chunks",
            run.path / "adapters",
            cfg.train,
            eval_path=run.path / "eval.jsonl",
            seed=cfg.run.seed,
            device=cfg.student.device,
        )
    summary = [
        {"name": r.name, "method": r.method, "chunk": r.chunk, "adapter": str(r.adapter_path), "reused": r.reused}
        | {k: r.metrics.get(k) for k in ("records", "final_loss", "tokens_per_s", "wall_seconds", "eval_after")}
        for r in results
    ]
    atomic_write_json(run.file("deltas.json"), summary)
    run.finish("completed", student=str(student), deltas=[r.name for r in results])
    table = Table("delta", "records", "final loss", "held-out", "tok/s", "seconds")
    for row in summary:
        after = row["eval_after"] or {}
        held = ", ".join(f"{k} {v:.3f}" for k, v in after.items() if k in ("loss", "rewards/margins"))
        table.add_row(
            row["name"], str(row["records"]), str(row["final_loss"]), held, str(row["tokens_per_s"]),
            str(row["wall_seconds"]),
        )  # fmt: skip
    console.print(table)
    info(f"adapters in {run.path / 'adapters'}")


def register(app: typer.Typer) -> None:
    """Add ``evoforge train``."""

    @app.command("train")
    @run_options()
    def train(
        data: Annotated[Path, typer.Option("--data", "-d", help="Dataset file, HF dataset dir or dataset_info.json.")],
        model: Annotated[str | None, typer.Option("--model", "-m", help="'tiny' or a local HF model dir.")] = None,
        chunk_by: Annotated[
            str | None, typer.Option("--chunk-by", help="Field, 'file' or 'parts:N' (train.chunk_by).")
        ] = None,
        method: Annotated[str | None, typer.Option("--method", help="sft | dpo | auto | both (train.method).")] = None,
        fmt: Annotated[str | None, typer.Option("--format", help="Record format (default: detected).")] = None,
        *,
        opts: RunOptions,
    ) -> None:
        """Chunk a dataset, hold out an eval split, and train a LoRA delta per chunk (+ train@all) in a new run."""
        _train(data, model, chunk_by, method, fmt, opts)
