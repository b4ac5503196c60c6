"""Opening a round: its seeds (drawn by the seed plan), the fixed test set, its data cut into chunks with a held-out
split, and the deltas it will train.

Each function takes the run's config and directory, writes under ``rounds/<n>/`` (or the run's test set and seed
pool) and returns run-dir-relative paths; each is idempotent (re-opening a round after a crash writes the same
seeds).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evoforge.cycle import instruct_source, pool
from evoforge.cycle.pool import TEST_FILE, TEST_SEED_OFFSET
from evoforge.cycle.preferences import round_preferences, with_preferences
from evoforge.cycle.round_record import round_path
from evoforge.cycle.steering import allocate
from evoforge.data.chunking import chunk_dataset, write_chunks
from evoforge.data.formats import load_examples
from evoforge.data.sources import skills
from evoforge.runs import RunDir, atomic_write_jsonl
from evoforge.settings import Config
from evoforge.training.deltas import DeltaJob, plan_deltas


def first_plan(config: Config, run_path: Path) -> dict[str, int]:
    """The first round's seed plan, even over the categories: ``world.n_seeds`` over the world's, or (on the
    user's data, whose test set and seed pool this writes) a round's share of the pool over the pool's; on the
    instruct graph, each instructor's configured count of records."""
    if instruct_source.uses_instruct(config):
        return instruct_source.first_plan(config)
    if not pool.uses_pool(config):
        return allocate(config.world.n_seeds, {c: 1.0 for c in config.world.categories})
    pool.prepare(config, run_path)
    return allocate(pool.round_size(config, run_path), {c: 1.0 for c in pool.pool_categories(run_path)})


def _round_seeds(config: Config, n: int, plan: dict[str, int], max_level: int | None) -> list[dict[str, Any]]:
    level = max_level or config.world.max_level
    rows: list[dict[str, Any]] = []
    for category, count in sorted(plan.items()):
        if count > 0:
            rows += skills().seed_records(count, config.run.seed + 1000 * n, categories=[category], max_level=level)
    return rows


def open_round(
    config: Config, run_path: Path, n: int, plan: dict[str, int], max_level: int | None
) -> tuple[str, dict[str, int]]:
    """Create ``rounds/<n>`` as an evolve run directory whose seeds follow ``plan``; returns ``rounds/<n>`` and
    what was drawn (on the user's data: fresh, reused and bad-case seeds from :func:`pool.draw`).

    The round's seeds are ``rounds/<n>/seeds.jsonl``: generated from the skills world, or drawn from the pool. On
    the instruct graph the round is an instruct run directory whose instructors write ``plan``'s counts
    (:func:`instruct_source.open_round`), and nothing is drawn.
    """
    if instruct_source.uses_instruct(config):
        return instruct_source.open_round(config, run_path, n, plan), {}
    rounds = run_path / "rounds"
    path = rounds / str(n)
    seeds = path / "seeds.jsonl"
    if not (path / "manifest.json").is_file():
        round_cfg = config.model_copy(deep=True)
        round_cfg.run.runs_dir = rounds
        round_cfg.evolve.data_path = str(seeds.resolve())
        round_cfg.evolve.instruction_field, round_cfg.evolve.response_field = "instruction", "response"
        RunDir.create(round_cfg, "evolve", str(n))
    drawn: dict[str, int] = {}
    if pool.uses_pool(config):
        pool.prepare(config, run_path)
        rows, drawn = pool.draw(config, run_path, n, plan)
    else:
        rows = _round_seeds(config, n, plan, max_level)
        write_test_set(config, run_path)
    atomic_write_jsonl(seeds, rows)
    return f"rounds/{n}", drawn


def write_test_set(config: Config, run_path: Path) -> Path:
    """The skills world's fixed test set (``eval.test_path``'s rows, else oracle tasks): the same every round."""
    path, test, world = run_path / TEST_FILE, config.eval.test_path, config.world
    if not path.is_file():
        seed = config.run.seed + TEST_SEED_OFFSET
        rows = pool.user_test_set(test) if test else skills().eval_records(world.n_eval, seed, world.categories)
        atomic_write_jsonl(path, rows)
    return path


def chunk_round(config: Config, run_path: Path, round_dir: str, dataset: str) -> tuple[dict[str, str], str]:
    """Chunk the round's data (by ``train.chunk_by``; ``train.mix_other_chunks`` of the others mixed into each),
    plus the round's preference pairs (:mod:`.preferences`), with a held-out split; returns run-relative paths.
    The instruct graph's data loses its test prompts first."""
    examples = load_examples(run_path / dataset)
    if instruct_source.uses_instruct(config):
        examples = instruct_source.without_test_prompts(config, run_path, examples)
    split = config.train
    chunks, held_out = chunk_dataset(
        examples, split.chunk_by, split.eval_fraction, config.run.seed, split.mix_other_chunks
    )
    on_world = not pool.uses_pool(config) and not instruct_source.uses_instruct(config)
    pairs = round_preferences(config, int(Path(round_dir).name), on_world)
    chunks, held_out = with_preferences(chunks, held_out, pairs, split.eval_fraction, config.run.seed)
    write_chunks(round_path(run_path, round_dir), chunks, held_out, overwrite=True)
    return {name: f"{round_dir}/chunks/{name}.jsonl" for name in chunks}, f"{round_dir}/eval.jsonl"


def plan_training(config: Config, run_path: Path, round_dir: str) -> list[DeltaJob]:
    """The round's deltas: each chunk's methods (``train.method``) and train@all."""
    return plan_deltas(round_path(run_path, round_dir) / "chunks", config.train)
