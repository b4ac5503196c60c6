"""The skills world: render/parse round trips, evolution operations, failures, generators and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from random import Random

import pytest

from evoforge.offline.world import (
    BREADTH,
    CATEGORIES,
    DEPTH_OPS,
    FAILURES,
    check_answer,
    complexity,
    eval_records,
    evolve_task,
    failed_evolution,
    fragment_records,
    generate_tasks,
    has_scaffolding,
    parse_instruction,
    preference_records,
    sample_task,
    seed_records,
    strip_scaffolding,
)
from evoforge.offline.world.arithmetic import ArithmeticSpec
from evoforge.offline.world.fragments import answer_from_fragments
from evoforge.offline.world.instructions import InstructSpec
from evoforge.offline.world.spec import Task


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_family_round_trips_through_its_text(category: str) -> None:
    rng = Random(category)
    for level in (1, 2, 3, 4, 5):
        for _ in range(15):
            task = sample_task(category, level, rng)
            parsed = parse_instruction(task.instruction)
            assert parsed is not None, task.instruction
            assert (parsed.category, parsed.level, parsed.answer) == (category, task.level, task.answer)
            assert parsed.instruction == task.instruction
            assert check_answer(task, task.answer)


def test_levels_one_to_three_are_short() -> None:
    tasks = generate_tasks(200, seed=5, max_level=3)
    assert {t.category for t in tasks} == set(CATEGORIES)
    assert {t.level for t in tasks} == {1, 2, 3}
    assert max(len(t.instruction) for t in tasks) <= 200
    for category in ("arithmetic", "strings", "format"):
        answers = [len(t.answer) for t in tasks if t.category == category]
        assert sum(answers) / len(answers) <= 40


@pytest.mark.parametrize("op", DEPTH_OPS)
@pytest.mark.parametrize("category", CATEGORIES)
def test_each_depth_operation_raises_the_level(category: str, op: str) -> None:
    rng = Random(f"{category}-{op}")
    for _ in range(10):
        task = sample_task(category, rng.randint(1, 3), rng)
        evolved = evolve_task(task, op, rng)
        assert evolved is not None
        assert evolved.category == category
        assert evolved.level > task.level
        assert complexity(evolved.instruction) == evolved.level
        assert parse_instruction(evolved.instruction) is not None


def test_breadth_gives_a_new_task_of_the_same_category_and_level() -> None:
    rng = Random(3)
    for category in CATEGORIES:
        task = sample_task(category, 2, rng)
        new = evolve_task(task, BREADTH, rng)
        assert new is not None and new.instruction != task.instruction
        assert (new.category, new.level) == (category, task.level)


@pytest.mark.parametrize("category", CATEGORIES)
def test_failed_evolutions_fail_as_specified(category: str) -> None:
    rng = Random(category)
    task = sample_task(category, 2, rng)
    outcomes = {kind: failed_evolution(task, kind, rng) for kind in FAILURES}
    assert outcomes["unchanged"] == task.instruction
    assert parse_instruction(outcomes["loss"]) is None and "given" in outcomes["loss"]
    assert parse_instruction(outcomes["vague"]) is None
    assert parse_instruction(outcomes["stagnant"]) is None and complexity(outcomes["stagnant"]) == 0
    assert has_scaffolding(outcomes["scaffold"]) and not has_scaffolding(task.instruction)
    restored = parse_instruction(strip_scaffolding(outcomes["scaffold"]))
    assert restored is not None and restored.level > task.level


def test_check_answer_is_exact_but_lenient_for_written_instructions() -> None:
    task = sample_task("arithmetic", 1, Random(0))
    assert check_answer(task, f" {task.answer} ")
    assert not check_answer(task, task.answer + "1")
    instruct = Task.from_spec(InstructSpec(ArithmeticSpec((7, 5), "+")))
    assert instruct.answer == "Compute 7 + 5."
    assert check_answer(instruct, "Compute 5 + 7.")  # another instruction with the same answer
    assert not check_answer(instruct, "Compute 6 + 5.")
    assert not check_answer(instruct, "Sure, could you please provide the numbers?")


def test_generators_are_reproducible_and_well_formed() -> None:
    assert seed_records(30, 7) == seed_records(30, 7)
    assert seed_records(30, 7) != seed_records(30, 8)
    seeds = seed_records(40, 7)
    assert set(seeds[0]) == {"instruction", "input", "output", "category", "level"}
    evals = eval_records(40, 7)
    assert [r["prompt"] for r in evals] != [r["instruction"] for r in seeds]  # separate random streams
    assert all(set(r) >= {"prompt", "reference", "category"} for r in evals)
    prefs = preference_records(40, 7)
    for row in prefs:
        task = parse_instruction(row["prompt"])
        assert task is not None and check_answer(task, row["chosen"]) and not check_answer(task, row["rejected"])
    frags = fragment_records(10, 7)
    for row in frags:
        assert row["output"] in row["instruction"]
        assert answer_from_fragments(f"{row['instruction']}\n{row['input']}") == row["output"]
        assert answer_from_fragments(row["input"]) is None  # closed book: the fact is not in the text
    assert fragment_records(10, 7) == frags


def test_world_cli_writes_and_refuses_to_overwrite(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from evoforge.cli import app

    out = tmp_path / "seeds.jsonl"
    runner = CliRunner()
    result = runner.invoke(app, ["world", "seeds", "--n", "12", "--seed", "3", "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 12 and rows == seed_records(12, 3)
    again = runner.invoke(app, ["world", "seeds", "--n", "5", "--output", str(out)])
    assert again.exit_code != 0 and len(out.read_text().splitlines()) == 12
    forced = runner.invoke(app, ["world", "eval", "--n", "5", "--output", str(out), "--force"])
    assert forced.exit_code == 0 and len(out.read_text().splitlines()) == 5
