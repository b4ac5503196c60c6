"""A cycle on the user's own seed data: the fixed test set, the seed pool, each round's fresh slice, bad cases.

At round 1 the user's seeds (``evolve.data_path``) are read once and split into two files of the run directory:

- ``test.jsonl``, the fixed test set scored every round and never searched on: the rows of ``eval.test_path``
  when given (any supported data format), else ``eval.test_size`` seeds with a response, carved off;
- ``pool.jsonl``, every other seed, normalised (``id, instruction, response, category``); a seed whose
  instruction is a test prompt is dropped from it, so the test set never feeds seeds or training.

Round n evolves ``rounds/<n>/seeds.jsonl``: seeds no earlier round drew, as many per category as the round's plan
says (weighted toward the categories the kept model scored worst on, see :mod:`.steering`), topped up from other
categories and, once the pool is spent, from seeds drawn before; plus the previous round's bad cases — held-out
examples the kept model got wrong (AutoLLM: "data can also be generalized from … evaluation bad cases").
Everything is derived from files on disk, so a round opened again after a crash draws the same seeds.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evoforge.data import seeds as seeds_io
from evoforge.data.formats import load_examples
from evoforge.data.io import read_jsonl
from evoforge.data.records import NO_CATEGORY
from evoforge.errors import ConfigError
from evoforge.evals.metrics import normalize
from evoforge.runs import atomic_write_jsonl
from evoforge.settings import Config

Row = dict[str, Any]
TEST_FILE = "test.jsonl"
POOL_FILE = "pool.jsonl"
BAD_CASES_FILE = "bad_cases.jsonl"
TEST_SEED_OFFSET = 99_991  # the fixed test set never shares a random stream with seeds or held-out splits


def uses_pool(config: Config) -> bool:
    """Whether the cycle runs on the user's seed data (else on the skills world)."""
    return config.evolve.data_path is not None


def _category(row: Row) -> str:
    return str(row.get("category") or NO_CATEGORY)


def user_test_set(path: str) -> list[Row]:
    """The rows of the user's test set file (``eval.test_path``, any supported format) as evaluation items."""
    return [example.eval_item() for example in load_examples(path)]


def prepare(config: Config, run_path: Path) -> None:
    """Write ``test.jsonl`` and ``pool.jsonl`` from the user's data, once (later calls leave them as they are)."""
    test_path, pool_path = run_path / TEST_FILE, run_path / POOL_FILE
    if test_path.is_file() and pool_path.is_file():
        return
    settings = config.evolve
    assert settings.data_path is not None
    seeds = seeds_io.normalise(
        seeds_io.read_raw(settings.data_path), settings.instruction_field, settings.response_field
    )
    if config.eval.test_path:
        test = user_test_set(config.eval.test_path)
    else:
        order = list(seeds)
        random.Random(config.run.seed + TEST_SEED_OFFSET).shuffle(order)
        answered = [s for s in order if isinstance(s.get("response"), str) and s["response"].strip()]
        if len(answered) < config.eval.test_size + 1:
            raise ConfigError(
                f"{settings.data_path}: {len(answered)} seeds have a response, too few to carve eval.test_size = "
                f"{config.eval.test_size} test items and keep seeds; lower eval.test_size or give eval.test_path"
            )
        carved = answered[: config.eval.test_size]
        test = [{"prompt": s["instruction"], "reference": s["response"], "category": _category(s)} for s in carved]
    prompts = {normalize(row["prompt"]) for row in test}
    pool = [s for s in seeds if normalize(s["instruction"]) not in prompts]
    if not pool:
        raise ConfigError(f"{settings.data_path}: no seed is left once the test set's prompts are taken out")
    atomic_write_jsonl(test_path, test)
    atomic_write_jsonl(pool_path, pool)


def pool_categories(run_path: Path) -> list[str]:
    """The categories of the pool's seeds (``all`` for seeds without one)."""
    return sorted({_category(row) for row in read_jsonl(run_path / POOL_FILE)})


def round_size(config: Config, run_path: Path) -> int:
    """Seeds each round draws: ``cycle.seeds_per_round``, else the pool over the rounds (at least train + dev)."""
    if config.cycle.seeds_per_round:
        return config.cycle.seeds_per_round
    n_pool = sum(1 for _ in read_jsonl(run_path / POOL_FILE))
    return max(n_pool // config.cycle.rounds, config.evolve.train_size + config.evolve.dev_size)


def _drawn_before(run_path: Path, n: int) -> set[str]:
    ids: set[str] = set()
    for k in range(1, n):
        path = run_path / "rounds" / str(k) / "seeds.jsonl"
        if path.is_file():
            ids |= {str(row["id"]) for row in read_jsonl(path)}
    return ids


def draw(config: Config, run_path: Path, n: int, plan: dict[str, int]) -> tuple[list[Row], dict[str, int]]:
    """Round ``n``'s seeds by ``plan`` (category → count) plus round ``n-1``'s bad cases; and what was drawn.

    The counts say how many seeds are fresh, how many were drawn by an earlier round (the pool was spent) and how
    many are bad cases.
    """
    pool = list(read_jsonl(run_path / POOL_FILE))
    random.Random(config.run.seed + 1000 * n).shuffle(pool)
    used = _drawn_before(run_path, n)
    fresh = [row for row in pool if str(row["id"]) not in used]
    by_category: dict[str, list[Row]] = defaultdict(list)
    for row in fresh:
        by_category[_category(row)].append(row)
    chosen: list[Row] = []
    for category, count in sorted(plan.items()):
        chosen += by_category[category][:count]
    total = sum(plan.values())
    taken = {str(row["id"]) for row in chosen}
    top_up = [row for row in fresh if str(row["id"]) not in taken][: max(total - len(chosen), 0)]
    chosen += top_up
    n_fresh = len(chosen)
    reused = [row for row in pool if str(row["id"]) in used][: max(total - n_fresh, 0)]
    bad = _bad_cases(run_path, n - 1)
    return [*chosen, *reused, *bad], {"fresh": n_fresh, "reused": len(reused), "bad_cases": len(bad)}


def _bad_cases(run_path: Path, n: int) -> list[Row]:
    path = run_path / "rounds" / str(n) / BAD_CASES_FILE
    return list(read_jsonl(path)) if n > 0 and path.is_file() else []


def write_bad_cases(config: Config, round_path: Path, n: int, per_example: Sequence[Row], ceiling: float) -> int:
    """Keep up to ``cycle.bad_cases`` held-out examples scored below ``ceiling`` as next round's seeds; returns how
    many (the worst first)."""
    failed = sorted((ex for ex in per_example if float(ex["score"]) < ceiling), key=lambda ex: float(ex["score"]))
    rows = [
        {"id": f"bad-r{n}-{k}", "instruction": ex["prompt"], "response": ex["reference"], "category": ex["category"]}
        for k, ex in enumerate(failed[: config.cycle.bad_cases])
    ]
    atomic_write_jsonl(round_path / BAD_CASES_FILE, rows)
    return len(rows)
