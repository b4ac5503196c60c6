"""The tiny reader: its reading tasks, its evaluation set (facts unseen in pre-training), the build hooks, the
shipped build and its card."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from string import Template

from evoforge.offline.reader_recipe import ReaderBuildConfig, reader_tasks
from evoforge.offline.tiny_builds import (
    CARD_FILE,
    SHIPPED,
    SHIPPED_READER,
    build_tiny_student,
    shipped_digest,
)
from evoforge.offline.world.fragments import answer_from_fragments
from evoforge.prompts import PROMPTS_DIR
from evoforge.training.student import resolve_student

MICRO = ReaderBuildConfig(
    hidden_size=64, intermediate_size=128, num_layers=2, num_heads=1, train_tasks=300, steps=0, eval_tasks=0
)


def _template(role: str) -> Template:
    text = (PROMPTS_DIR / "en" / f"{role}.md").read_text(encoding="utf-8")
    return Template(text.split("[user]", 1)[1].strip())


def test_reader_tasks_are_deterministic_per_seed_and_use_the_shipped_templates() -> None:
    tasks = reader_tasks(60, 3)
    assert tasks == reader_tasks(60, 3) and tasks != reader_tasks(60, 4)
    assert {t.category for t in tasks} == {"question", "answer"} and {t.level for t in tasks} == {1}
    ask, read = _template("self_evolve_question"), _template("self_evolve_answer")
    for task in tasks:
        text = task.fragment.text
        if task.category == "question":
            assert task.instruction == ask.substitute(fragment=text) and task.answer in task.questions
            assert task.question == ""
        else:
            assert task.instruction == read.substitute(fragment=text, question=task.question)
            assert task.answer == dict(task.fragment.qa)[task.question]
            assert answer_from_fragments(task.instruction) == task.answer  # open book: the text holds it
            assert answer_from_fragments(task.question) is None  # closed book: the question alone does not


def test_the_evaluation_facts_never_appear_in_pre_training() -> None:
    config = ReaderBuildConfig()
    training = config.tasks()
    evaluation = config.evaluation_tasks()
    assert len(evaluation) == config.eval_tasks and {t.category for t in evaluation} == {"question", "answer"}
    seen_facts = {pair for task in training for pair in task.fragment.qa}
    seen_texts = {task.fragment.text for task in training}
    for task in evaluation:
        assert seen_facts.isdisjoint(task.fragment.qa), task.fragment.text
        assert task.fragment.text not in seen_texts
    assert evaluation == ReaderBuildConfig().evaluation_tasks()  # a fixed set


def test_a_reader_recipe_builds_into_its_own_cache_entry_and_evaluates(tmp_path: Path) -> None:
    assert MICRO.digest() != ReaderBuildConfig().digest() and MICRO.tasks()[0].category in ("question", "answer")
    path = build_tiny_student(tmp_path / "r", config=MICRO)
    card = json.loads((path / CARD_FILE).read_text())
    assert card["digest"] == MICRO.digest() and card["config"]["question_share"] == 0.25
    assert resolve_student(path) == path
    tasks = ReaderBuildConfig(**{**asdict(MICRO), "eval_tasks": 6}).evaluation_tasks()
    assert len(tasks) == 6
    scores = ReaderBuildConfig(**{**asdict(MICRO), "eval_tasks": 6}).evaluate(path)["eval"]
    assert set(scores) == {"question_valid", "open_book", "closed_book"}
    assert all(0.0 <= v <= 1.0 for v in scores.values())


def test_the_shipped_reader_matches_the_recipe_and_reads() -> None:
    """The reader in the package is what `evoforge student build --reader` makes from today's recipe."""
    from typer.testing import CliRunner

    from evoforge.cli import app
    from evoforge.offline.habits import tokenizer_corpus
    from evoforge.offline.pretrain import greedy_generate
    from evoforge.offline.tokenizer import build_tokenizer
    from evoforge.training.student import load_student

    config = ReaderBuildConfig()
    assert shipped_digest(SHIPPED_READER) == config.digest(), (
        "the shipped tiny reader is stale: run `evoforge student build --reader --output offline/tiny_reader --force`"
    )
    assert resolve_student("tiny-reader") == SHIPPED_READER != SHIPPED
    assert (SHIPPED_READER / "config.json").is_file() and (SHIPPED_READER / "model.safetensors").is_file()
    card = json.loads((SHIPPED_READER / CARD_FILE).read_text())
    assert card["config"] == json.loads(json.dumps(asdict(config)))
    rebuilt = build_tokenizer(tokenizer_corpus(config.tasks()), config.max_positions, config.vocab_size)
    shipped = json.loads((SHIPPED_READER / "tokenizer.json").read_text())
    assert rebuilt.backend_tokenizer.get_vocab() == shipped["model"]["vocab"] | {
        t["content"]: t["id"] for t in shipped["added_tokens"]
    }
    scores = card["eval"]
    assert scores["question_valid"] >= 0.9 and scores["open_book"] >= 0.9 and scores["closed_book"] <= 0.1
    model, tokenizer = load_student(resolve_student("tiny-reader"), device="cpu")
    task = next(t for t in config.evaluation_tasks() if t.category == "answer")
    assert greedy_generate(model, tokenizer, [task.instruction], max_new_tokens=16) == [task.answer]
    result = CliRunner().invoke(app, ["student", "build", "--reader"])
    assert result.exit_code == 0 and "question_valid" in result.output, result.output
