"""Command-line options shared by the subcommands, and the one way a command resolves its config and run.

Kept light (typer only) so that ``evoforge --help`` stays fast: heavy libraries are imported inside the
command functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evoforge.config import Config, load_config
from evoforge.runs import RunDir

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML configuration file (default: built-in offline defaults)."),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a setting: section.key=value (repeatable)."),
]
RunsDirOpt = Annotated[Path | None, typer.Option("--runs-dir", help="Root of run directories (run.runs_dir).")]
RunIdOpt = Annotated[str | None, typer.Option("--run-id", help="Id of the new run (default: generated).")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Random seed (run.seed).")]


def resolve_config(
    config: Path | None,
    overrides: list[str] | None = None,
    runs_dir: Path | None = None,
    seed: int | None = None,
) -> Config:
    """Load ``config`` with ``--set`` overrides, then apply the dedicated options."""
    extra = list(overrides or [])
    if runs_dir is not None:
        extra.append(f"run.runs_dir={runs_dir}")
    if seed is not None:
        extra.append(f"run.seed={seed}")
    return load_config(config, extra)


def start_run(cfg: Config, command: str, run_id: str | None) -> RunDir:
    """Create the run directory of a command that makes a run."""
    return RunDir.create(cfg, command, run_id)
