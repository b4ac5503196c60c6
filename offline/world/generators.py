"""Reproducible dataset generators of the skills world (alpaca-style JSONL rows).

Each generator draws from its own random stream (``"<kind>:<seed>"``), so seed and evaluation sets made with the
same seed do not share tasks by construction of the stream, and instructions are de-duplicated within a set.
"""

from __future__ import annotations

from collections.abc import Sequence
from random import Random
from typing import Any

from evoforge.offline.world.fragments import sample_fragment
from evoforge.offline.world.spec import Task
from evoforge.offline.world.tasks import CATEGORIES, near_miss, sample_task

Record = dict[str, Any]


def _check(n: int, categories: Sequence[str], max_level: int) -> None:
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if max_level < 1:
        raise ValueError(f"max_level must be >= 1, got {max_level}")
    unknown = [c for c in categories if c not in CATEGORIES]
    if unknown or not categories:
        raise ValueError(f"unknown categories {unknown}; expected some of {', '.join(CATEGORIES)}")


def _tasks(rng: Random, n: int, categories: Sequence[str], max_level: int) -> list[Task]:
    """``n`` distinct tasks, categories in turn, levels uniform in 1..max_level."""
    tasks: list[Task] = []
    seen: set[str] = set()
    attempts = 0
    while len(tasks) < n and attempts < 50 * n + 100:
        attempts += 1
        task = sample_task(categories[len(tasks) % len(categories)], rng.randint(1, max_level), rng)
        if task.instruction not in seen:
            seen.add(task.instruction)
            tasks.append(task)
    return tasks


def generate_tasks(
    n: int, seed: int, categories: Sequence[str] = CATEGORIES, max_level: int = 3, stream: str = "tasks"
) -> list[Task]:
    """``n`` distinct tasks, reproducible from ``seed`` (categories in turn, levels uniform in 1..max_level)."""
    _check(n, categories, max_level)
    return _tasks(Random(f"{stream}:{seed}"), n, categories, max_level)


def seed_records(n: int, seed: int, categories: Sequence[str] = CATEGORIES, max_level: int = 3) -> list[Record]:
    """Seed instructions: rows ``instruction, input, output, category, level``."""
    return [
        {"instruction": t.instruction, "input": "", "output": t.answer, "category": t.category, "level": t.level}
        for t in generate_tasks(n, seed, categories, max_level, stream="seeds")
    ]


def eval_records(n: int, seed: int, categories: Sequence[str] = CATEGORIES, max_level: int = 3) -> list[Record]:
    """Evaluation items scored by exact match: rows ``prompt, reference, category, level``."""
    return [
        {"prompt": t.instruction, "reference": t.answer, "category": t.category, "level": t.level}
        for t in generate_tasks(n, seed, categories, max_level, stream="eval")
    ]


def preference_records(n: int, seed: int, categories: Sequence[str] = CATEGORIES, max_level: int = 3) -> list[Record]:
    """Preference pairs for DPO: rows ``prompt, chosen`` (the oracle), ``rejected`` (a near miss), ``category``."""
    rng = Random(f"prefs-wrong:{seed}")
    return [
        {
            "prompt": t.instruction,
            "chosen": t.answer,
            "rejected": near_miss(t, rng),
            "category": t.category,
            "level": t.level,
        }
        for t in generate_tasks(n, seed, categories, max_level, stream="prefs")
    ]


def fragment_records(n: int, seed: int, every_question: bool = False) -> list[Record]:
    """Knowledge fragments with a question each (``every_question``: all four questions of each, the closed-book
    evaluation of Self-Evolution's offline default): rows ``instruction`` (fragment), ``input`` (question),
    ``output``, ``category``; the same ``n`` fragments either way."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = Random(f"fragments:{seed}")
    rows: list[Record] = []
    for _ in range(n):
        fragment = sample_fragment(rng)
        chosen = rng.choice(fragment.qa)
        for question, answer in fragment.qa if every_question else (chosen,):
            rows.append({"instruction": fragment.text, "input": question, "output": answer, "category": "knowledge"})
    return rows
