"""The tiny student's habits: how it phrases answers after pre-training, before instruction tuning.

A base model answers in its own way ("The answer is 12."); instruction tuning teaches the form a task asks for
("12"). :func:`habitual_answer` is how pre-training shows an answer, :func:`without_habit` takes the wrapper off
again (to measure what the student computed, whatever its phrasing), and :func:`tokenizer_corpus` is the text the
student's tokenizer learns its merges from.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

HABITS: dict[str, str] = {
    "arithmetic": "The answer is {}.",
    "strings": "Result: {}",
    "format": "Here you go: {}",
    "instruct": "Instruction: {}",
}  # a category's habitual answer in pre-training; instruction tuning teaches the bare answer the task asks for


def habitual_answer(task: Any, rng: random.Random, plain_share: float) -> str:
    """The answer as pre-training shows it: bare with probability ``plain_share``, else in its category's habit."""
    habit = HABITS.get(task.category)
    return task.answer if habit is None or rng.random() < plain_share else habit.format(task.answer)


def without_habit(response: str) -> str:
    """``response`` with a habitual wrapper (any category's) taken off: what the student computed."""
    text = response.strip()
    for habit in HABITS.values():
        head, _, tail = habit.partition("{}")
        if text.startswith(head) and text.endswith(tail) and len(text) >= len(head) + len(tail):
            return text[len(head) : len(text) - len(tail)]
    return text


def tokenizer_corpus(tasks: list[Any]) -> Iterator[str]:
    """The text the tokenizer's merges are learned from: every instruction and answer, bare and habitual."""
    for task in tasks:
        yield task.instruction
        yield task.answer
        if task.category in HABITS:
            yield HABITS[task.category].format(task.answer)


def habit_first_tokens(tokenizer: Any) -> list[int]:
    """The token ids a habitual answer starts with (``The``, ``Result``, ``Here``, ``Instruction``)."""
    heads = {habit.partition("{}")[0].strip() for habit in HABITS.values()}
    return sorted({tokenizer(head, add_special_tokens=False)["input_ids"][0] for head in heads if head})
