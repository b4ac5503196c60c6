"""CLI: ``evoforge self-evolve`` (Self-Evolution's rounds, the self_evolve graph, with the seed's flags) and
``evoforge draw-scores`` (the seed's ``draw_scores.py``: the grouped bar chart of a run's generations)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evoforge.cli.drive import execute
from evoforge.cli.options import RunOptions, run_options, seed_spellings
from evoforge.console import info
from evoforge.errors import ConfigError
from evoforge.graphs.continuation import self_evolve_run
from evoforge.preflight import ensure
from evoforge.self_evolve.devices import device_plan
from evoforge.settings import SHIPPED_CONFIGS

DEFAULT_CONFIG = SHIPPED_CONFIGS / "self-evolve.yaml"


SEED_FLAGS = (
    "start_id",
    "end_id",
    "source_data_file",
    "model_path",
    "eval_data",
    "eval_to_path",
    "train_epoch",
    "ifd_k",
    "batch_size",
    "worker_number",
    "infer_gpu",
    "cuda_device",
    "use_vllm",
)
"""The seed's flags with an underscore, taken as they are."""

SourceDataFileOpt = Annotated[
    str | None, typer.Option("--source-data-file", help="Fragments: a JSON list of {instruction}.")
]
EvalDataOpt = Annotated[
    str | None, typer.Option("--eval-data", help="Closed-book eval: a JSON list of {instruction, input, output}.")
]
EvalToPathOpt = Annotated[
    str | None,
    typer.Option("--eval-to-path", help="Root of the predict files (relative: to this directory, as the seed)."),
]
InferGpuOpt = Annotated[int | None, typer.Option("--infer-gpu", help="GPUs vLLM generates on (tensor parallel size).")]
CudaDeviceOpt = Annotated[
    int | None, typer.Option("--cuda-device", help="The GPU id training uses (CUDA_VISIBLE_DEVICES).")
]
ExportMergedOpt = Annotated[
    bool, typer.Option("--export-merged", help="Save each round's merged model in rounds/<i>/merged.")
]
OverwriteOpt = Annotated[
    bool, typer.Option("--overwrite", help="Replace the outputs of an existing --identify run (as the seed).")
]


@run_options(review=True)
@seed_spellings(*SEED_FLAGS)
def self_evolve(
    start_id: Annotated[int | None, typer.Option("--start-id", help="First round; > 0 continues --identify.")] = None,
    end_id: Annotated[int | None, typer.Option("--end-id", help="Rounds run: start-id .. end-id - 1.")] = None,
    source_data_file: SourceDataFileOpt = None,
    identify: Annotated[str | None, typer.Option("--identify", help="The run id (the seed's identify).")] = None,
    model_path: Annotated[str | None, typer.Option("--model-path", help="Base model directory or tiny-reader.")] = None,
    eval_data: EvalDataOpt = None,
    eval_to_path: EvalToPathOpt = None,
    mode: Annotated[str | None, typer.Option("--mode", help="Replay by IFD: random, easy, even, hard, all.")] = None,
    train_epoch: Annotated[float | None, typer.Option("--train-epoch", help="Epochs per round.")] = None,
    ifd_k: Annotated[int | None, typer.Option("--ifd-k", help="Earlier Q&A replayed per round.")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Fragments per writer call.")] = None,
    worker_number: Annotated[int | None, typer.Option("--worker-number", help="Concurrent generation calls.")] = None,
    infer_gpu: InferGpuOpt = None,
    cuda_device: CudaDeviceOpt = None,
    use_vllm: Annotated[bool, typer.Option("--use-vllm", help="Generate with vLLM (the vllm extra, a GPU).")] = False,
    export_merged: ExportMergedOpt = False,
    overwrite: OverwriteOpt = False,
    *,
    opts: RunOptions,
) -> None:
    """Self-Evolution: rounds in which the model writes Q&A about knowledge fragments and learns them closed-book.

    Takes the seed's flags, with dashes or with its underscores (each sets its self_evolve.<key>); with none it runs
    the offline default (the tiny reader on the skills world's made-up facts). --identify names the run; --start-id
    N > 0 continues that run at round N; --overwrite replaces an existing run of that name.
    """
    fields: dict[str, object] = {
        "start_id": start_id,
        "end_id": end_id,
        "source_data_file": source_data_file,
        "model_path": model_path,
        "eval_data": eval_data,
        "eval_to_path": eval_to_path and str(Path.cwd() / Path(eval_to_path).expanduser()),
        "mode": mode,
        "train_epoch": train_epoch,
        "ifd_k": ifd_k,
        "batch_size": batch_size,
        "worker_number": worker_number,
        "infer_gpu": infer_gpu,
        "cuda_device": cuda_device,
        "use_vllm": "true" if use_vllm else None,
        "export_merged": "true" if export_merged else None,
    }
    overrides = [f"self_evolve.{key}={value}" for key, value in fields.items() if value is not None]
    if identify and opts.run_id and identify != opts.run_id:
        raise ConfigError(f"--identify {identify} and --run-id {opts.run_id} name two runs; give one")
    opts.run_id = identify or opts.run_id
    cfg = opts.resolve(*overrides, config=DEFAULT_CONFIG)
    settings = cfg.self_evolve
    ensure(cfg, "self-evolve")  # before a run is made, so that a bad input leaves no failed run behind
    devices, notices = device_plan(settings)
    for notice in notices:
        info(notice)
    if devices:
        cfg = opts.resolve(*overrides, *devices, config=DEFAULT_CONFIG)
    run = self_evolve_run(cfg, opts.run_id, overwrite, lambda: opts.start(cfg, "self_evolve"))
    execute(
        run, opts.interactive, cfg.run.auto_approve, start={"start_id": settings.start_id, "end_id": settings.end_id}
    )


@seed_spellings("father_dir")
def draw_scores(
    father_dir: Annotated[Path, typer.Option("--father-dir", help="A run's <id>_generations folder.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="PNG to write.")] = None,
) -> None:
    """Draw the grouped bar chart (BLEU-4, ROUGE-1/2/L per generation) of a Self-Evolution run's predict files."""
    from evoforge.console import info
    from evoforge.self_evolve.chart import draw_scores as draw
    from evoforge.self_evolve.predictions import read_generations

    target = output or father_dir / "scores.png"
    if target.exists():
        info(f"replacing {target}")
    info(f"wrote {draw(read_generations(father_dir), target)}")


def register(app: typer.Typer) -> None:
    """Add ``self-evolve`` and ``draw-scores`` to the ``evoforge`` command."""
    app.command("self-evolve")(self_evolve)
    app.command("draw-scores")(draw_scores)
