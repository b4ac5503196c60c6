"""A cycle round whose data comes from the instruct graph (``cycle.data_source: instruct``): the round's instruct run
directory and counts, the fixed test set carved from generated records, and the categories that steer.

Round n is ``rounds/<n>/``, an instruct run directory whose config snapshot is the cycle's with the round's counts:
each instructor writes ``plan[name]`` records (round 1: its configured count; later rounds: the steering's plan,
more records for the categories the kept student did worst on) into ``rounds/<n>/instructions.jsonl`` (the instruct
section's own ``output_path`` is not used: every round writes its own file). The topics are ``instruct.topics_path``
or, unset, the run's ``topics.txt``, generated once by round 1. Round n's seed is ``run.seed + 1000 (n - 1)``, so
each round takes the topics in an order of its own.

Each category is a chunk, so each instructor's records train a delta: airoboros' experts (``train.mix_other_chunks``
adds a sample of the other experts' records to each). The fixed test set is ``eval.test_path``'s rows when given,
else ``eval.test_size`` records carved off round 1's data, taken in turn from each category (each keeps at least
:data:`KEPT_PER_CATEGORY`); a record whose instruction is a test prompt never reaches a chunk in any round.
"""

from __future__ import annotations

import random
from pathlib import Path

from evoforge.cycle import pool
from evoforge.cycle.pool import TEST_FILE, TEST_SEED_OFFSET
from evoforge.data.io import read_jsonl
from evoforge.data.records import NO_CATEGORY, Example
from evoforge.errors import ConfigError, DataError
from evoforge.evals.metrics import normalize
from evoforge.runs import RunDir, atomic_write_jsonl
from evoforge.settings import Config

ROUND_SEED_STEP = 1000
KEPT_PER_CATEGORY = 2  # records of a category the test set leaves for its chunk (one to train, one to hold out)
TOPICS_FILE = "topics.txt"


def uses_instruct(config: Config) -> bool:
    """Whether the cycle's rounds take their data from the instruct graph."""
    return config.cycle.data_source == "instruct"


def first_plan(config: Config) -> dict[str, int]:
    """Round 1's records per instructor: each one's configured count."""
    settings = config.instruct
    return {name: settings.count(name) for name in settings.instructors}


def steering_frame(config: Config) -> tuple[list[str], int]:
    """The categories the next round's plan is spread over (the instructors) and its total (their counts)."""
    plan = first_plan(config)
    return list(plan), sum(plan.values())


def round_config(config: Config, run_path: Path, n: int, plan: dict[str, int]) -> Config:
    """The config snapshot of round ``n``'s instruct run: the cycle's, with the round's counts, output and seed."""
    settings = config.instruct.with_absolute_paths()
    instructors = {
        name: own.model_copy(update={"count": plan.get(name, 0)}) for name, own in settings.instructors.items()
    }
    topics = settings.topics_path or str((run_path / TOPICS_FILE).resolve())
    update = {
        "output_path": None,
        "overwrite": False,
        "append": True,
        "topics_path": topics,
        "instructors": instructors,
    }
    out = config.model_copy(deep=True)
    out.run.runs_dir = run_path / "rounds"
    out.run.seed = config.run.seed + ROUND_SEED_STEP * (n - 1)
    out.instruct = settings.model_copy(update=update)
    return out


def open_round(config: Config, run_path: Path, n: int, plan: dict[str, int]) -> str:
    """Create ``rounds/<n>`` as an instruct run directory whose instructors write ``plan``'s counts (once: a round
    opened again after a crash keeps its snapshot); returns ``rounds/<n>``."""
    if not (run_path / "rounds" / str(n) / "manifest.json").is_file():
        RunDir.create(round_config(config, run_path, n, plan), "instruct", str(n))
    return f"rounds/{n}"


def without_test_prompts(config: Config, run_path: Path, examples: list[Example]) -> list[Example]:
    """``examples`` without those whose prompt is a test prompt (a conversation's turn stays: its prompt is asked
    after other turns); writes the fixed test set first when the run has
    none yet (round 1): ``eval.test_path``'s rows, else ``eval.test_size`` of ``examples`` carved off.

    Raises:
        ConfigError: too few records to carve the test set from. DataError: no record is left.
    """
    path = run_path / TEST_FILE
    if not path.is_file():
        test = pool.user_test_set(config.eval.test_path) if config.eval.test_path else _carve(config, examples)
        atomic_write_jsonl(path, test)
    prompts = {normalize(row["prompt"]) for row in read_jsonl(path)}
    kept = [example for example in examples if _in_chat(example) or normalize(example.prompt) not in prompts]
    if not kept:
        raise DataError(f"every generated record of this round is a test prompt ({path}); nothing is left to train on")
    return kept


def _in_chat(example: Example) -> bool:
    """Whether ``example`` is a turn of a conversation: it has earlier turns, or it is a chat airoboros wrote
    already formatted (``skip_prompt_formatting``: rp, gtkm, awareness in character)."""
    return example.history is not None or bool(example.get("skip_prompt_formatting"))


def _carve(config: Config, examples: list[Example]) -> list[dict[str, str]]:
    """``eval.test_size`` evaluation items, taken in turn from each category's shuffled records. A turn of a
    conversation (:func:`_in_chat`) is no test item: its prompt means nothing without the turns
    before it, which an evaluation item does not carry."""
    size = config.eval.test_size
    rng = random.Random(config.run.seed + TEST_SEED_OFFSET)
    by_category: dict[str, list[Example]] = {}
    for example in examples:
        if not _in_chat(example):
            by_category.setdefault(example.category or NO_CATEGORY, []).append(example)
    spare = {category: group[KEPT_PER_CATEGORY:] for category, group in sorted(by_category.items())}
    for group in spare.values():
        rng.shuffle(group)
    carved = [
        group[i] for i in range(max(map(len, spare.values()), default=0)) for group in spare.values() if i < len(group)
    ]
    if len(carved) < size:
        raise ConfigError(
            f"round 1 generated {len(examples)} records, too few to carve eval.test_size = {size} test items and "
            f"keep {KEPT_PER_CATEGORY} of each category for its delta; lower eval.test_size, raise the instructors' "
            "counts, or give eval.test_path"
        )
    return [example.eval_item() for example in carved[:size]]
