"""CLI: ``evoforge self-evolve`` (Self-Evolution's rounds, the self_evolve graph, with the seed's flags) and
``evoforge draw-scores`` (the seed's ``draw_scores.py``: the grouped bar chart of a run's generations)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evoforge.cli.graphs import AutoApproveOpt, InteractiveOpt, _approval, _decider, _execute
from evoforge.cli.options import RunOptions, run_options, seed_spellings
from evoforge.config import SHIPPED_CONFIGS, Config
from evoforge.console import info
from evoforge.errors import ConfigError
from evoforge.preflight import ensure
from evoforge.runs import RunDir
from evoforge.selfevolve.devices import device_plan

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


@run_options()
@seed_spellings(*SEED_FLAGS)
def self_evolve(
    start_id: Annotated[int | None, typer.Option("--start-id", help="First round; > 0 continues --identify.")] = None,
    end_id: Annotated[int | None, typer.Option("--end-id", help="Rounds run: start-id .. end-id - 1.")] = None,
    source_data_file: Annotated[
        str | None, typer.Option("--source-data-file", help="Fragments: a JSON list of {instruction}.")
    ] = None,
    identify: Annotated[str | None, typer.Option("--identify", help="The run id (the seed's identify).")] = None,
    model_path: Annotated[str | None, typer.Option("--model-path", help="Base model directory or tiny-reader.")] = None,
    eval_data: Annotated[
        str | None, typer.Option("--eval-data", help="Closed-book eval: a JSON list of {instruction, input, output}.")
    ] = None,
    eval_to_path: Annotated[
        str | None,
        typer.Option("--eval-to-path", help="Root of the predict files (relative: to this directory, as the seed)."),
    ] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="Replay by IFD: random, easy, even, hard, all.")] = None,
    train_epoch: Annotated[float | None, typer.Option("--train-epoch", help="Epochs per round.")] = None,
    ifd_k: Annotated[int | None, typer.Option("--ifd-k", help="Earlier Q&A replayed per round.")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Fragments per writer call.")] = None,
    worker_number: Annotated[int | None, typer.Option("--worker-number", help="Concurrent generation calls.")] = None,
    infer_gpu: Annotated[
        int | None, typer.Option("--infer-gpu", help="GPUs vLLM generates on (tensor parallel size).")
    ] = None,
    cuda_device: Annotated[
        int | None, typer.Option("--cuda-device", help="The GPU id training uses (CUDA_VISIBLE_DEVICES).")
    ] = None,
    use_vllm: Annotated[bool, typer.Option("--use-vllm", help="Generate with vLLM (the vllm extra, a GPU).")] = False,
    export_merged: Annotated[
        bool, typer.Option("--export-merged", help="Save each round's merged model in rounds/<i>/merged.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the outputs of an existing --identify run (as the seed).")
    ] = False,
    interactive: InteractiveOpt = False,
    auto_approve: AutoApproveOpt = None,
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
    cfg = opts.resolve(*overrides, *_approval(auto_approve), config=DEFAULT_CONFIG)
    settings = cfg.self_evolve
    ensure(cfg, "self-evolve")  # before a run is made, so that a bad input leaves no failed run behind
    devices, notices = device_plan(settings)
    for notice in notices:
        info(notice)
    if devices:
        cfg = opts.resolve(*overrides, *devices, *_approval(auto_approve), config=DEFAULT_CONFIG)
    start = {"start_id": settings.start_id, "end_id": settings.end_id}
    if settings.start_id > 0:
        if overwrite:
            raise ConfigError("--overwrite replaces a run and --start-id continues one; give one of them")
        run = _continued(cfg, opts.run_id)
    else:
        if overwrite or opts.run_id:
            _clear(cfg, opts.run_id, overwrite)
        run = opts.start(cfg, "self_evolve")
    _execute(run, _decider(interactive, cfg.run.auto_approve), start=start)


def _continued(cfg: Config, run_id: str | None) -> RunDir:
    """The run that ``--start-id`` continues, its settings checked against this command's."""
    if not run_id:
        raise ConfigError(f"--start-id {cfg.self_evolve.start_id} continues a run: name it with --identify")
    run = RunDir.open(cfg.run.runs_dir, run_id)
    if run.manifest().get("command") != "self_evolve":
        raise ConfigError(f"run {run_id} is not a self-evolve run; --start-id continues only those")
    _refuse_changed(run, cfg.self_evolve.model_dump(exclude={"start_id", "end_id"}))
    run.update_manifest(thread=f"{run.run_id}@{cfg.self_evolve.start_id}-{cfg.self_evolve.end_id}")
    return run


def _clear(cfg: Config, run_id: str | None, overwrite: bool) -> None:
    """Refuse a new run whose folder or predict files already exist, or, with ``overwrite``, delete them (the old
    run's predict files too): the seed's behaviour when an ``--identify`` repeats."""
    import shutil

    from evoforge.selfevolve.rounds import generations_dir

    if not run_id:
        raise ConfigError("--overwrite replaces the run that --identify names; give --identify")
    path = cfg.run.runs_dir / run_id
    found = [generations_dir(cfg, path)]
    if path.exists():
        if not (path / "manifest.json").is_file() or RunDir(path).manifest().get("command") != "self_evolve":
            raise ConfigError(f"{path} exists and is not a self-evolve run; choose another --identify")
        found += [generations_dir(RunDir(path).config(), path), path]
    found = [p for p in dict.fromkeys(found) if p.exists()]
    if found and not overwrite:
        raise ConfigError(
            f"--identify {run_id}: {', '.join(map(str, found))} exist from an earlier run; give --overwrite to "
            "replace them (the seed's behaviour), --start-id N to continue that run, or another --identify"
        )
    for target in found:
        info(f"--overwrite: deleting {target}")
        shutil.rmtree(target)


def _refuse_changed(run: RunDir, wanted: dict[str, object]) -> None:
    """A continued run keeps its settings: refuse self_evolve keys that differ from its snapshot's."""
    kept = run.config().self_evolve.model_dump(exclude={"start_id", "end_id"})
    changed = [f"{key} ({kept[key]!r} there, {value!r} here)" for key, value in wanted.items() if kept[key] != value]
    if changed:
        raise ConfigError(
            f"run {run.run_id} was made with other self_evolve settings: {', '.join(changed)}; a continued run keeps "
            "its own (start a new run to change them)"
        )


@seed_spellings("father_dir")
def draw_scores(
    father_dir: Annotated[Path, typer.Option("--father-dir", help="A run's <id>_generations folder.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="PNG to write.")] = None,
) -> None:
    """Draw the grouped bar chart (BLEU-4, ROUGE-1/2/L per generation) of a Self-Evolution run's predict files."""
    from evoforge.console import info
    from evoforge.selfevolve.chart import draw_scores as draw
    from evoforge.selfevolve.predictions import read_generations

    target = output or father_dir / "scores.png"
    if target.exists():
        info(f"replacing {target}")
    info(f"wrote {draw(read_generations(father_dir), target)}")


def register(app: typer.Typer) -> None:
    """Add ``self-evolve`` and ``draw-scores`` to the ``evoforge`` command."""
    app.command("self-evolve")(self_evolve)
    app.command("draw-scores")(draw_scores)
