"""CLI: ``evoforge run`` (the main job, the cycle graph), ``evoforge evolve`` (Auto Evol-Instruct) and
``evoforge resume RUN_ID`` (any resumable graph).

Top-level imports stay light (typer, options); the graph, LangGraph and the gateway load inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from evoforge.cli.drive import execute
from evoforge.cli.options import (
    AutoApproveOpt,
    InteractiveOpt,
    RunOptions,
    RunsDirOpt,
    either_config,
    resolve_config,
    run_options,
    seed_spellings,
)
from evoforge.console import info
from evoforge.errors import ConfigError
from evoforge.preflight import ensure
from evoforge.runs import RunDir
from evoforge.settings import SHIPPED_CONFIGS, Config


def warn_unsupported(cfg: Config) -> None:
    """Print what the instruct settings asked for that evoforge does not honour (an airoboros file's keys)."""
    from evoforge.console import console

    for item in cfg.instruct.unsupported:
        console.print(f"[yellow]warning:[/yellow] {item}", highlight=False)


# The Korean Auto Evol-Instruct's flags (seed 001's main.py), each setting its evolve.<key>.
TrainSizeOpt = Annotated[int | None, typer.Option("--train-size", help="Optimisation seeds (evolve.train_size).")]
DevSizeOpt = Annotated[int | None, typer.Option("--dev-size", help="Validation seeds (evolve.dev_size).")]
BatchSizeOpt = Annotated[int | None, typer.Option("--batch-size", help="Mini-batch per step (evolve.batch_size).")]
MaxStepsOpt = Annotated[
    int | None, typer.Option("--max-steps", "--max-step", help="Optimisation steps (evolve.max_steps).")
]
LoopOpt = Annotated[int | None, typer.Option("--loop", help="Generations (evolve.loop).")]
CandidateSizeOpt = Annotated[
    int | None, typer.Option("--candidate-size", help="Methods per step (evolve.candidate_size).")
]
EvolLLMOpt = Annotated[
    str | None,
    typer.Option(
        "--evol-llm-config",
        help="The evolver's model: a YAML file with one llm.models entry, or the seed's 'key=value ...'.",
    ),
]
OptimLLMOpt = Annotated[
    str | None,
    typer.Option(
        "--optim-llm-config",
        help="The analyzer's and optimizer's model: a YAML file with one llm.models entry, or 'key=value ...'.",
    ),
]
IsLocalDataOpt = Annotated[
    int | None,
    typer.Option("--is-local-data", min=0, max=1, help="1 = --data-path is a local JSON file (checked)."),
]
TestRunOpt = Annotated[
    int | None,
    typer.Option("--test-run", min=0, max=1, help="1 = dataset from 10 seeds (evolve.test_run)."),
]


@run_options(review=True)
@seed_spellings("evol_llm_config", "optim_llm_config")
def evolve(
    data: Annotated[
        str | None,
        typer.Option("--data", "--data-path", help="Seed data file, HF dir or hub name (evolve.data_path)."),
    ] = None,
    instruction_field: Annotated[str | None, typer.Option(help="Instruction field (evolve.instruction_field).")] = None,
    response_field: Annotated[
        str | None, typer.Option(help="Response field, dotted ok (evolve.response_field).")
    ] = None,
    train_size: TrainSizeOpt = None,
    dev_size: DevSizeOpt = None,
    batch_size: BatchSizeOpt = None,
    max_steps: MaxStepsOpt = None,
    loop: LoopOpt = None,
    candidate_size: CandidateSizeOpt = None,
    test_run: TestRunOpt = None,
    save_path: Annotated[
        str | None,
        typer.Option(help="Extra output, relative to this directory; .json = columns (evolve.save_path)."),
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --save-path file.")] = False,
    evol_llm_config: EvolLLMOpt = None,
    optim_llm_config: OptimLLMOpt = None,
    is_local_data: IsLocalDataOpt = None,
    *,
    opts: RunOptions,
) -> None:
    """Optimise the evolving method on seed data (Auto Evol-Instruct), then evolve and answer the dataset.

    Takes seed 001's flags too (--data-path, --max-step, --test-run 0/1, --evol-llm-config, ...), each setting its
    evolve.* key or the roles' model.
    """
    if is_local_data and not (data and Path(data).expanduser().is_file()):
        raise ConfigError(f"--is-local-data 1: --data-path {data} is not a file here")
    if save_path:
        save_path = str(Path.cwd() / Path(save_path).expanduser())
    fields: dict[str, object] = {
        "data_path": data,
        "instruction_field": instruction_field,
        "response_field": response_field,
        "train_size": train_size,
        "dev_size": dev_size,
        "batch_size": batch_size,
        "max_steps": max_steps,
        "loop": loop,
        "candidate_size": candidate_size,
        "test_run": None if test_run is None else str(bool(test_run)).lower(),
        "save_path": save_path,
    }
    overrides = [f"evolve.{key}={value}" for key, value in fields.items() if value is not None]
    cfg = opts.resolve(*overrides)
    models = {"evol": evol_llm_config, "optim": optim_llm_config}
    if any(models.values()):
        from evoforge.settings.role_models import with_role_models

        cfg = with_role_models(cfg, {prefix: value for prefix, value in models.items() if value})
    _refuse_existing_save_path(cfg.evolve.save_path, overwrite)
    ensure(cfg, "evolve")
    execute(opts.start(cfg, "evolve"), opts.interactive, cfg.run.auto_approve)


def _refuse_existing_save_path(save_path: str | None, overwrite: bool) -> None:
    """Refuse a save path that holds a file already, unless ``--overwrite`` says to replace it."""
    path = Path(save_path).expanduser() if save_path else None
    if path is not None and path.is_absolute() and path.exists():
        if overwrite:
            info(f"--overwrite: {path} will be replaced when the run ends")
            return
        raise ConfigError(f"evolve.save_path {save_path} exists; give --overwrite to replace it, or another path")


def resume(
    run_id: Annotated[str, typer.Argument(help="The run to continue.")],
    runs_dir: RunsDirOpt = None,
    interactive: InteractiveOpt = False,
    auto_approve: AutoApproveOpt = None,
    approve: Annotated[bool, typer.Option("--approve", help="Approve the checkpoint the run waits at.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Reject the checkpoint the run waits at.")] = False,
    edit: Annotated[Path | None, typer.Option("--edit", help="Replace the method with this file's text.")] = None,
) -> None:
    """Continue a run after a checkpoint, a Ctrl-C or a crash (the manifest says which graph it runs)."""
    if sum([approve, reject, edit is not None]) > 1:
        raise ConfigError("give at most one of --approve, --reject, --edit")
    from evoforge.preflight import ensure_resumable

    root = runs_dir or resolve_config(None).run.runs_dir
    run = RunDir.open(root, run_id)
    ensure_resumable(run.config(), str(run.manifest().get("command", "")))
    answer: dict[str, Any] | None = None
    if approve or reject:
        answer = {"action": "approve" if approve else "reject", "by": "cli"}
    elif edit is not None:
        if not edit.is_file():
            raise ConfigError(f"--edit: file not found: {edit}")
        answer = {"action": "edit", "method": edit.read_text(encoding="utf-8"), "by": "cli"}
    policy = run.config().run.auto_approve if auto_approve is None else auto_approve
    execute(run, interactive, policy, answer)


@run_options(review=True)
def run(
    config_file: Annotated[
        Path | None,
        typer.Argument(
            help="YAML configuration or a shipped config's name, the same as --config (default: the shipped "
            "quickstart, the offline world)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and its cost (as `evoforge plan`), run nothing.")
    ] = False,
    *,
    opts: RunOptions,
) -> None:
    """The main job: rounds of evolve → train deltas → merge-weight search → evaluate → feed back."""
    config = either_config(config_file, opts.config) or SHIPPED_CONFIGS / "quickstart.yaml"
    cfg = opts.resolve(config=config)
    if cfg.train.method == "full":
        raise ConfigError(
            "train.method full trains one whole model (evoforge train); a cycle merges deltas (sft, dpo, auto, both)"
        )
    if cfg.cycle.data_source == "instruct":  # the rounds' instruct settings may come from an airoboros file
        warn_unsupported(cfg)
    if dry_run:
        from evoforge.cli.plan import show_plan

        show_plan(cfg)
        return
    ensure(cfg, "run")
    execute(opts.start(cfg, "cycle"), opts.interactive, cfg.run.auto_approve)


def register(app: typer.Typer) -> None:
    """Add ``run``, ``evolve`` and ``resume`` to the ``evoforge`` command."""
    app.command("run")(run)
    app.command("evolve")(evolve)
    app.command("resume")(resume)
