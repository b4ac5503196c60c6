"""The tiny reader: a second offline student that reads a knowledge fragment, for the Self-Evolution loop.

Pre-training shows it two skills on made-up fragments (:mod:`evoforge.offline.world.fragments`), prompted with the
shipped Self-Evolution templates (``prompts/en/self_evolve_question.md`` and ``self_evolve_answer.md``):

- ``question``: write one question that the fragment answers (the target is one of its four, chosen at random);
- ``answer``: answer a question from the fragment, open book (the target is the bare short answer: ``1742``).

Both are copying skills: the facts are random, so it knows none of them closed book (asked a question alone, it can
only guess). Its card (``student.json``) reports ``question_valid``, ``open_book`` and ``closed_book`` on fragments
whose facts never appear in pre-training. The architecture and the loop are the tiny student's
(:mod:`evoforge.offline.pretrain`); the answers are bare (its categories have no habit).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any, ClassVar

from evoforge.offline.pretrain import EVAL_SEED_OFFSET, StudentBuildConfig, greedy_generate
from evoforge.offline.world.fragments import Fragment, sample_fragment
from evoforge.prompts import load_prompt

READER_CATEGORIES = ("question", "answer")
QUESTION_ROLE, ANSWER_ROLE = "self_evolve_question", "self_evolve_answer"  # the prompt files (English)


@dataclass(frozen=True)
class ReaderTask:
    """One reading task: the prompt, its target, and the fragment it is about.

    Attributes:
        instruction: the user message (a shipped prompt template with the fragment filled in).
        answer: the pre-training target (a question of the fragment, or the short answer).
        category: ``question`` (write a question) or ``answer`` (answer one from the text).
        fragment: the knowledge fragment in the prompt.
        question: the question asked (``answer`` tasks; empty for ``question`` tasks).
        level: always 1 (the skills world's task shape).
    """

    instruction: str
    answer: str
    category: str
    fragment: Fragment = field(repr=False)
    question: str = ""
    level: int = 1

    @property
    def questions(self) -> tuple[str, ...]:
        """The fragment's questions (any of them is a valid answer to a ``question`` task)."""
        return tuple(q for q, _ in self.fragment.qa)


def question_prompt(fragment: str) -> str:
    """The user message asking for one question that ``fragment`` answers."""
    return load_prompt(QUESTION_ROLE, "en").messages(fragment=fragment)[-1]["content"]


def answer_prompt(fragment: str, question: str) -> str:
    """The user message asking to answer ``question`` from ``fragment`` (open book)."""
    return load_prompt(ANSWER_ROLE, "en").messages(fragment=fragment, question=question)[-1]["content"]


def reader_tasks(n: int, seed: int, question_share: float = 0.25) -> list[ReaderTask]:
    """``n`` reading tasks, each on its own fragment drawn from ``Random(f"reader:{seed}")``: a ``question`` task
    with probability ``question_share``, else an ``answer`` task on one of its questions."""
    return list(_reader_tasks(n, seed, question_share))


@functools.lru_cache(maxsize=4)  # a build asks three times (digest, tokenizer, pre-training)
def _reader_tasks(n: int, seed: int, question_share: float) -> tuple[ReaderTask, ...]:
    rng = Random(f"reader:{seed}")
    tasks = []
    for _ in range(n):
        fragment = sample_fragment(rng)
        question, answer = rng.choice(fragment.qa)
        if rng.random() < question_share:
            tasks.append(ReaderTask(question_prompt(fragment.text), question, "question", fragment=fragment))
        else:
            prompt = answer_prompt(fragment.text, question)
            tasks.append(ReaderTask(prompt, answer, "answer", fragment=fragment, question=question))
    return tuple(tasks)


@dataclass(frozen=True)
class ReaderBuildConfig(StudentBuildConfig):
    """The tiny reader's recipe: the tiny student's fields, reading tasks instead of the skills world, its defaults.

    The defaults differ from the tiny student's where that meets the card's targets (questions valid and open-book
    answers >= 0.9) in under 6 CPU-minutes: two layers (the least a copying circuit needs; four learned slower per
    CPU-second), a 512-token vocabulary (place names stay split into syllables, so copying one needs no token of its
    own), three answer tasks per question task (writing a question is learned first) and 20,000 pre-training tasks
    (its shipped recipe, kept when the student's grew to 40,000).

    Attributes:
        question_share: share of ``question`` tasks in pre-training and evaluation (the rest are ``answer`` tasks).
    """

    LABEL: ClassVar[str] = "tiny reader"
    num_layers: int = 2
    vocab_size: int = 512
    train_tasks: int = 20000
    steps: int = 3000
    plain_share: float = 1.0  # no habit: the reader's categories have none, its answers are always bare
    max_level: int = 1
    categories: tuple[str, ...] = READER_CATEGORIES
    question_share: float = 0.25

    def tasks(self) -> list[Any]:
        """The pre-training reading tasks of this recipe."""
        return reader_tasks(self.train_tasks, self.seed, self.question_share)

    def evaluation_tasks(self) -> list[ReaderTask]:
        """The fixed evaluation set: ``eval_tasks`` tasks from a seed disjoint from pre-training, on fragments none
        of whose facts (question and answer) occur in pre-training, so closed book can only guess."""
        seen = {pair for task in self.tasks() for pair in task.fragment.qa}
        tasks: list[ReaderTask] = []
        batch, seed = max(1, self.eval_tasks), self.seed + EVAL_SEED_OFFSET
        while len(tasks) < self.eval_tasks:
            fresh = [t for t in reader_tasks(batch, seed, self.question_share) if seen.isdisjoint(t.fragment.qa)]
            tasks += fresh[: self.eval_tasks - len(tasks)]
            seed += EVAL_SEED_OFFSET
        return tasks

    def evaluate(self, path: Path) -> dict[str, dict[str, float]]:
        """Greedy answers of the reader at ``path`` on :meth:`evaluation_tasks`: ``question_valid`` (the question
        written is one of the fragment's), ``open_book`` (exact answers from the text), ``closed_book`` (exact
        answers to the question alone: near chance, it knows no facts)."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tasks = self.evaluation_tasks()
        asks = [t for t in tasks if t.category == "question"]
        reads = [t for t in tasks if t.category == "answer"]
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        written = greedy_generate(model, tokenizer, [t.instruction for t in asks], max_new_tokens=32)
        open_book = greedy_generate(model, tokenizer, [t.instruction for t in reads], max_new_tokens=16)
        closed_book = greedy_generate(model, tokenizer, [t.question for t in reads], max_new_tokens=16)
        return {
            "eval": {
                "question_valid": _share(w.strip() in t.questions for t, w in zip(asks, written, strict=True)),
                "open_book": _share(a.strip() == t.answer for t, a in zip(reads, open_book, strict=True)),
                "closed_book": _share(a.strip() == t.answer for t, a in zip(reads, closed_book, strict=True)),
            }
        }


def _share(hits: Any) -> float:
    hits = list(hits)
    return round(sum(hits) / len(hits), 3) if hits else 0.0
