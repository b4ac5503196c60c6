"""``evoforge export RUN_ID``: a cycle run's round as folders to publish (:mod:`evoforge.cycle.export`), and
optionally their upload to the Hugging Face Hub."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evoforge.cli.options import RunsDirOpt, resolve_config


def export(
    run_id: Annotated[str, typer.Argument(help="The cycle run to export (see `evoforge runs list`).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write (must be empty or new).")],
    round_n: Annotated[
        int | None, typer.Option("--round", help="The round to export (default: the last finished round).")
    ] = None,
    merged: Annotated[
        bool,
        typer.Option("--merged/--adapter", help="The student as a full model (base + best merge) or as its adapter."),
    ] = True,
    push_to_hub: Annotated[
        str | None,
        typer.Option(
            "--push-to-hub",
            metavar="OWNER/NAME",
            help="Upload to OWNER/NAME (student), OWNER/NAME-<delta> (experts), OWNER/NAME-data (dataset repo).",
        ),
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="Create the Hub repositories public (default private).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an earlier export in --output.")] = False,
    runs_dir: RunsDirOpt = None,
) -> None:
    """Lay out a cycle run's round (student, experts, dataset) as folders the Hub takes as they are."""
    from rich.table import Table

    from evoforge.console import console
    from evoforge.cycle.export import check_repo, export_round, hub_uploads
    from evoforge.runs import RunDir

    run = RunDir.open(runs_dir or resolve_config(None).run.runs_dir, run_id)
    repo = check_repo(push_to_hub) if push_to_hub else "OWNER/NAME"
    summary = export_round(run, output, round_n, merged, force)
    uploads = hub_uploads(summary, output, repo)
    table = Table("folder", "holds", "hub repo", title=f"{run_id} round {summary['round']} → {output}")
    for folder, upload in zip(summary["folders"], uploads, strict=True):
        table.add_row(folder["path"], folder["what"], f"{upload['repo_id']} ({upload['repo_type']})")
    console.print(table)
    if not push_to_hub:
        console.print(
            f"upload each folder as it is: hf upload OWNER/NAME {output}/student . (the dataset with "
            "--repo-type dataset), or export again with --push-to-hub OWNER/NAME",
            highlight=False,
        )
        return
    from huggingface_hub import HfApi

    from evoforge.cycle.export import push

    for repo_id in push(uploads, HfApi(), private=not public):
        console.print(f"uploaded {repo_id}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``evoforge export``."""
    app.command("export")(export)
