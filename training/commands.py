"""``evoforge train`` (chunk a dataset and train one LoRA delta per chunk) and ``evoforge student build``.

Heavy libraries load inside the commands. On several GPUs run ``accelerate launch -m evoforge.cli train ...``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evoforge.options import ConfigOpt, RunIdOpt, RunsDirOpt, SeedOpt, SetOpt, resolve_config, start_run


def _build_student(output: Path | None, force: bool) -> None:
    import json

    from evoforge.console import info
    from evoforge.training.student import CARD_FILE, build_tiny_student

    path = build_tiny_student(output, force=force)
    card = json.loads((path / CARD_FILE).read_text(encoding="utf-8"))
    info(f"tiny student: {path}")
    if "eval" in card:
        scores = ", ".join(f"{k} {v:.0%}" for k, v in card["eval"].items())
        info(f"exact match on {card['config']['eval_tasks']} held-out tasks: {scores}")
    info(f"built in {card['build_seconds']} s")


def _train(
    data: Path,
    model: str | None,
    chunk_by: str | None,
    method: str | None,
    fmt: str | None,
    config: Path | None,
    set_: list[str] | None,
    runs_dir: Path | None,
    run_id: str | None,
    seed: int | None,
) -> None:
    from rich.table import Table

    from evoforge.console import console, info
    from evoforge.data.chunking import chunk_dataset, write_chunks
    from evoforge.data.formats import load_records
    from evoforge.runs import atomic_write_json
    from evoforge.training.deltas import train_deltas
    from evoforge.training.student import resolve_student

    overrides = list(set_ or [])
    overrides += [f"student.model={model}"] if model else []
    overrides += [f"train.chunk_by={chunk_by}"] if chunk_by else []
    overrides += [f"train.method={method}"] if method else []
    cfg = resolve_config(config, overrides, runs_dir, seed)
    records = load_records(data, fmt)
    chunks, held_out = chunk_dataset(records, cfg.train.chunk_by, cfg.train.eval_fraction, cfg.run.seed)
    student = resolve_student(cfg.student.model)
    run = start_run(cfg, "train", run_id)
    try:
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
    except BaseException:
        run.finish("failed")
        raise
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
    """Add ``evoforge train`` and ``evoforge student build``."""
    student_app = typer.Typer(help="The student model (the built-in tiny one).", no_args_is_help=True)
    app.add_typer(student_app, name="student")

    @student_app.command("build")
    def student_build(
        output: Annotated[Path | None, typer.Option("--output", "-o", help="Directory (default: the cache).")] = None,
        force: Annotated[bool, typer.Option("--force", help="Rebuild even if already built.")] = False,
    ) -> None:
        """Build (pre-train briefly on the skills world) and cache the tiny student; print its scores."""
        _build_student(output, force)

    @app.command("train")
    def train(
        data: Annotated[Path, typer.Option("--data", "-d", help="Dataset file, HF dataset dir or dataset_info.json.")],
        model: Annotated[str | None, typer.Option("--model", "-m", help="'tiny' or a local HF model dir.")] = None,
        chunk_by: Annotated[
            str | None, typer.Option("--chunk-by", help="Field, 'file' or 'parts:N' (train.chunk_by).")
        ] = None,
        method: Annotated[str | None, typer.Option("--method", help="sft | dpo | auto | both (train.method).")] = None,
        fmt: Annotated[str | None, typer.Option("--format", help="Record format (default: detected).")] = None,
        config: ConfigOpt = None,
        set_: SetOpt = None,
        runs_dir: RunsDirOpt = None,
        run_id: RunIdOpt = None,
        seed: SeedOpt = None,
    ) -> None:
        """Chunk a dataset, hold out an eval split, and train a LoRA delta per chunk (+ train@all) in a new run."""
        _train(data, model, chunk_by, method, fmt, config, set_, runs_dir, run_id, seed)
