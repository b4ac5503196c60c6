"""The offline world's commands: ``evoforge world`` writes skills-world datasets (seeds, eval sets, preference
pairs, knowledge fragments); ``evoforge student build [--reader]`` builds and caches the tiny student or reader;
``evoforge student init --shape NAME`` writes a random-initialised model of a real model's shape."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from evoforge.errors import DataError


class WorldKind(StrEnum):
    """What ``evoforge world`` writes."""

    seeds = "seeds"
    eval = "eval"
    prefs = "prefs"
    fragments = "fragments"


def _write(
    kind: WorldKind,
    n: int,
    seed: int,
    output: Path,
    force: bool,
    categories: list[str] | None,
    max_level: int,
) -> None:
    from evoforge.console import info
    from evoforge.offline.world import CATEGORIES, generators
    from evoforge.runs import atomic_write_jsonl

    if output.exists() and not force:
        raise DataError(f"{output} already exists; pass --force to overwrite it")
    cats = tuple(categories or CATEGORIES)
    unknown = [c for c in cats if c not in CATEGORIES]
    if unknown:
        raise DataError(f"unknown categories {', '.join(unknown)}; expected some of {', '.join(CATEGORIES)}")
    if kind is WorldKind.fragments:
        records = generators.fragment_records(n, seed)
    else:
        make = {
            WorldKind.seeds: generators.seed_records,
            WorldKind.eval: generators.eval_records,
            WorldKind.prefs: generators.preference_records,
        }[kind]
        records = make(n, seed, cats, max_level)
    count = atomic_write_jsonl(output, records)
    info(f"wrote {count} {kind.value} records to {output}")


def _build_student(output: Path | None, force: bool, reader: bool) -> None:
    import json

    from evoforge.console import info
    from evoforge.offline.reader_recipe import ReaderBuildConfig
    from evoforge.offline.tiny_builds import CARD_FILE, build_tiny_student

    path = build_tiny_student(output, force=force, config=ReaderBuildConfig() if reader else None)
    card = json.loads((path / CARD_FILE).read_text(encoding="utf-8"))
    info(f"tiny {'reader' if reader else 'student'}: {path}")
    whats: list[tuple[str, str]] = [("eval", "questions valid, open-book and closed-book exact answers")]
    if not reader:
        whats = [
            ("eval", "exact match"),
            ("ability", "right once its habitual phrasing is taken off"),
            ("bare_ability", "right when made to answer bare (what instruction tuning can reach)"),
        ]
    for key, what in whats:
        if key in card:
            scores = ", ".join(f"{k} {v:.0%}" for k, v in card[key].items())
            info(f"{what} on {card['config']['eval_tasks']} held-out tasks: {scores}")
    info(f"built in {card['build_seconds']} s")


def _init_shape(shape: str, output: Path, config_only: bool, force: bool, seed: int) -> None:
    import json

    from evoforge.console import info
    from evoforge.offline.shapes import CARD_FILE, SHAPES, write_shape

    path = write_shape(shape, output, seed=seed, config_only=config_only, force=force)
    parameters = json.loads((path / CARD_FILE).read_text(encoding="utf-8"))["parameters"]
    what = "config and tokenizer" if config_only else f"random float32 weights ({parameters * 4 / 1e9:.2f} GB)"
    info(f"{shape} ({SHAPES[shape].source}): {parameters:,} parameters, {what}, in {path}")


def register(app: typer.Typer) -> None:
    """Add ``evoforge world``, ``evoforge student build`` and ``evoforge student init``."""
    student_app = typer.Typer(help="The student model (the built-in tiny ones).", no_args_is_help=True)
    app.add_typer(student_app, name="student")

    @student_app.command("build")
    def student_build(
        output: Annotated[Path | None, typer.Option("--output", "-o", help="Directory (default: the cache).")] = None,
        force: Annotated[bool, typer.Option("--force", help="Rebuild even if already built.")] = False,
        reader: Annotated[
            bool, typer.Option("--reader", help="The tiny reader (reads knowledge fragments) instead.")
        ] = False,
    ) -> None:
        """Build (pre-train briefly on the skills world, or on fragments with --reader) and cache the tiny student
        or reader; print its scores."""
        _build_student(output, force, reader)

    @student_app.command("init")
    def student_init(
        shape: Annotated[
            str, typer.Option("--shape", help="e.g. llama-30m, qwen2.5-0.5b (an unknown name lists them all).")
        ],
        output: Annotated[Path, typer.Option("--output", "-o", help="Directory to write.")],
        config_only: Annotated[bool, typer.Option("--config-only", help="Config and tokenizer, no weights.")] = False,
        force: Annotated[bool, typer.Option("--force", help="Replace an existing model directory.")] = False,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the random weights.")] = 0,
    ) -> None:
        """Write a random-initialised model of a real model's shape (its config, a tokenizer of its vocabulary
        size): rehearse a config at your model's size before downloading it."""
        _init_shape(shape, output, config_only, force, seed)

    @app.command("world")
    def world(
        kind: Annotated[WorldKind, typer.Argument(help="seeds | eval | prefs | fragments")],
        output: Annotated[Path, typer.Option("--output", "-o", help="JSONL file to write.")],
        n: Annotated[int, typer.Option("--n", min=1, help="Number of records.")] = 100,
        seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same file).")] = 42,
        category: Annotated[
            list[str] | None, typer.Option("--category", help="Only this category (repeatable).")
        ] = None,
        max_level: Annotated[int, typer.Option("--max-level", min=1, help="Highest complexity level.")] = 3,
        force: Annotated[bool, typer.Option("--force", help="Overwrite an existing output file.")] = False,
    ) -> None:
        """Write a skills-world dataset: seed instructions, an exact-match eval set, DPO pairs or fragments."""
        _write(kind, n, seed, output, force, category, max_level)
