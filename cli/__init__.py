"""The ``evoforge`` command.

Each group of subcommands is a module of this package (``cli/<group>.py``, each with a ``register(app)``); they
sit above every package they drive and import heavy libraries only inside their functions, so ``evoforge --help``
answers fast.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from evoforge import __version__
from evoforge.cli.options import ConfigOpt, RunsDirOpt, SetOpt, either_config, resolve_config
from evoforge.console import console, set_verbosity
from evoforge.errors import EvoforgeError

app = typer.Typer(
    name="evoforge",
    help="Evolve instruction data, train LoRA deltas, search merge weights, and repeat.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect configuration.", no_args_is_help=True)
runs_app = typer.Typer(help="Inspect run directories.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(runs_app, name="runs")

# Modules that add subcommands; each defines register(app) and keeps its top-level imports light.
COMMAND_MODULES: tuple[str, ...] = (
    "evoforge.cli.world",
    "evoforge.cli.graphs",
    "evoforge.cli.serve",
    "evoforge.cli.merge",
    "evoforge.cli.evaluate",
    "evoforge.cli.train",
    "evoforge.cli.instruct",
    "evoforge.cli.self_evolve",
    "evoforge.cli.plan",
    "evoforge.cli.export",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"evoforge {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or info messages.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More detail.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Evolve instruction data, train LoRA deltas, search merge weights, and repeat."""
    from dotenv import load_dotenv

    load_dotenv(override=False)  # secrets may come from ./.env; real environment variables win
    set_verbosity(0 if quiet else 2 if verbose else 1)


@config_app.command("show")
def config_show(
    config: Annotated[
        Path | None, typer.Argument(help="YAML file or a shipped config's name (same as --config).")
    ] = None,
    set_: SetOpt = None,
    config_opt: ConfigOpt = None,
) -> None:
    """Print the resolved configuration (defaults + FILE + --set overrides) as YAML."""
    cfg = resolve_config(either_config(config, config_opt), set_)
    typer.echo(cfg.to_yaml(), nl=False)


@runs_app.command("list")
def runs_list(runs_dir: RunsDirOpt = None) -> None:
    """List runs, newest first."""
    from rich.table import Table

    from evoforge.runs import list_runs

    root = runs_dir or resolve_config(None).run.runs_dir
    table = Table("run id", "command", "status", "started", "ended")
    for m in list_runs(root):
        table.add_row(*(str(m.get(k) or "") for k in ("run_id", "command", "status", "started", "ended")))
    console.print(table) if table.row_count else typer.echo(f"no runs in {root}")


@runs_app.command("show")
def runs_show(run_id: str, runs_dir: RunsDirOpt = None) -> None:
    """Show a run's manifest and its files."""
    from evoforge.runs import RunDir

    root = runs_dir or resolve_config(None).run.runs_dir
    run = RunDir.open(root, run_id)
    typer.echo(json.dumps(run.manifest(), indent=2))
    for path in sorted(p for p in run.path.rglob("*") if p.is_file()):
        typer.echo(f"  {path.relative_to(run.path)}  ({path.stat().st_size} bytes)")


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    """Entry point: run the app; user errors print a message and exit non-zero without a traceback."""
    try:
        app()
    except EvoforgeError as exc:
        console.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]")
        sys.exit(130)
