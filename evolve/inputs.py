"""The evolve run's data: seeds in (a file or the skills world), the train/dev split, the optimisation
mini-batches, the seeds the final dataset is evolved from (10 in a test run), and the public rows of the evolved
dataset (``evolved.jsonl``, the column-oriented save path)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evoforge.data import seeds as seeds_io
from evoforge.data.sources import skills
from evoforge.errors import ConfigError
from evoforge.settings import Config

Row = dict[str, Any]


def load_seeds(config: Config) -> list[Row]:
    """The run's seed records: the configured file, or the skills world when ``evolve.data_path`` is None."""
    settings = config.evolve
    if settings.data_path is None:
        world = config.world
        rows = skills().seed_records(world.n_seeds, config.run.seed, world.categories, world.max_level)
        raw = [(f"skills world record {i + 1}", row) for i, row in enumerate(rows)]
        seeds = seeds_io.normalise(raw, "instruction", "output")
    else:
        seeds = seeds_io.normalise(
            seeds_io.read_raw(settings.data_path), settings.instruction_field, settings.response_field
        )
    return seeds


TEST_RUN_SEEDS = 10  # seed 001: "with test_run 1 only 10 instructions are evolved"


def dataset_seeds(seeds: Sequence[Row], config: Config) -> list[Row]:
    """The seeds the final dataset is evolved from: all of them, or the first ``TEST_RUN_SEEDS`` with
    ``evolve.test_run`` (the optimisation's train/dev split is made from all the seeds either way)."""
    return list(seeds[:TEST_RUN_SEEDS] if config.evolve.test_run else seeds)


def split(seeds: Sequence[Row], config: Config) -> tuple[list[Row], list[Row]]:
    """A seeded shuffle, then ``train_size`` records for optimisation and the next ``dev_size`` for validation."""
    settings = config.evolve
    need = settings.train_size + settings.dev_size
    if len(seeds) < need:
        raise ConfigError(
            f"evolve.train_size + evolve.dev_size = {need} but the seed data has {len(seeds)} records; "
            f"lower them (e.g. --set evolve.train_size=... --set evolve.dev_size=...)"
        )
    order = list(seeds)
    random.Random(config.run.seed).shuffle(order)
    return order[: settings.train_size], order[settings.train_size : need]


def mini_batch(train: Sequence[Row], size: int, seed: int, step: int) -> list[Row]:
    """The mini-batch of optimisation ``step`` (a deterministic sample of the train split)."""
    return random.Random(f"{seed}:{step}").sample(list(train), min(size, len(train)))


OUTPUT_FIELDS = ("instruction", "response", "root", "generation", "method_id", "category")


def output_records(rows: Sequence[Row]) -> list[Row]:
    """The public rows of ``evolved.jsonl``: instruction, response, root, generation, method id, category."""
    return [{key: row.get(key) for key in OUTPUT_FIELDS} for row in rows]


def columns(rows: Sequence[Row]) -> dict[str, list[Any]]:
    """The column-oriented JSON of seed 001 (``{"instruction": [...], "response": [...], "root": [...], ...}``)."""
    return {key: [row.get(key) for row in rows] for key in OUTPUT_FIELDS}


def resolve_save_path(config: Config, run_path: Path) -> Path | None:
    """Where ``evolve.save_path`` points (relative paths are inside the run directory)."""
    if not config.evolve.save_path:
        return None
    path = Path(config.evolve.save_path).expanduser()
    return path if path.is_absolute() else run_path / path
