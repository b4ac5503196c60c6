"""The cycle on user data: the fixed test set, the seed pool, disjoint round slices, bad cases (cycle/pool.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evoforge.cycle import opening, pool
from evoforge.errors import ConfigError
from evoforge.settings import load_config

SEED_TASKS = Path(__file__).resolve().parents[3] / "shared/datasets/self-instruct/seed_tasks.jsonl"
USER_TEST = Path(__file__).resolve().parents[3] / "shared/datasets/self-instruct/user_oriented_instructions.jsonl"


def _config(tmp_path: Path, *sets: str) -> object:
    base = [
        f"evolve.data_path={SEED_TASKS}",
        "evolve.response_field=instances.0.output",
        "evolve.train_size=10",
        "evolve.dev_size=10",
        f"run.runs_dir={tmp_path}",
    ]
    return load_config(None, overrides=[*base, *sets])


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_carved_test_set_is_fixed_and_never_in_the_pool(tmp_path: Path) -> None:
    config = _config(tmp_path, "eval.test_size=30", "cycle.rounds=3")
    opening.first_plan(config, tmp_path)
    test, seeds = _rows(tmp_path / pool.TEST_FILE), _rows(tmp_path / pool.POOL_FILE)
    assert len(test) == 30 and len(seeds) == 175 - 30
    assert all(row["reference"] for row in test)
    assert not {row["prompt"] for row in test} & {row["instruction"] for row in seeds}
    first = (tmp_path / pool.TEST_FILE).read_bytes()
    pool.prepare(config, tmp_path)  # a second call (resume) keeps the files as they are
    assert (tmp_path / pool.TEST_FILE).read_bytes() == first


def test_user_test_set_prompts_are_taken_out_of_the_pool(tmp_path: Path) -> None:
    overlap = _rows(SEED_TASKS)[:3]
    test_file = tmp_path / "my_test.jsonl"
    rows = [{"prompt": r["instruction"], "reference": r["instances"][0]["output"]} for r in overlap]
    rows += [{"prompt": "Name a prime number above 100.", "reference": "101"}]
    test_file.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    overlap_no_input = [r for r in overlap if not r["instances"][0]["input"]]
    config = _config(tmp_path, f"eval.test_path={test_file}")
    opening.first_plan(config, tmp_path)
    assert len(_rows(tmp_path / pool.TEST_FILE)) == 4
    instructions = {row["instruction"] for row in _rows(tmp_path / pool.POOL_FILE)}
    assert not instructions & {r["instruction"] for r in overlap_no_input}


def test_the_self_instruct_evaluation_set_loads_as_a_test_set(tmp_path: Path) -> None:
    config = _config(tmp_path, f"eval.test_path={USER_TEST}")
    pool.prepare(config, tmp_path)
    test = _rows(tmp_path / pool.TEST_FILE)
    assert len(test) >= 252 and all(set(r) == {"prompt", "reference", "category"} for r in test)


def test_rounds_draw_fresh_disjoint_slices_then_reuse(tmp_path: Path) -> None:
    config = _config(tmp_path, "eval.test_size=25", "cycle.seeds_per_round=60")
    plan = opening.first_plan(config, tmp_path)
    assert sum(plan.values()) == 60
    drawn = {}
    for n in (1, 2, 3):
        round_dir, drawn[n] = opening.open_round(config, tmp_path, n, plan, None)
        assert round_dir == f"rounds/{n}"
    ids = {n: {r["id"] for r in _rows(tmp_path / f"rounds/{n}/seeds.jsonl")} for n in (1, 2, 3)}
    assert not ids[1] & ids[2]  # 150 pool seeds: rounds 1 and 2 are fresh, round 3 gets the last 30 + 30 reused
    assert drawn[1] == {"fresh": 60, "reused": 0, "bad_cases": 0}
    assert drawn[3] == {"fresh": 30, "reused": 30, "bad_cases": 0}
    round_cfg = load_config(tmp_path / "rounds/1/config.yaml")
    assert round_cfg.evolve.data_path == str((tmp_path / "rounds/1/seeds.jsonl").resolve())
    again = opening.open_round(config, tmp_path, 2, plan, None)  # re-opened after a crash: the same seeds
    assert again[1] == drawn[2] and {r["id"] for r in _rows(tmp_path / "rounds/2/seeds.jsonl")} == ids[2]


def test_bad_cases_join_the_next_round(tmp_path: Path) -> None:
    config = _config(tmp_path, "eval.test_size=25", "cycle.seeds_per_round=40", "cycle.bad_cases=2")
    plan = opening.first_plan(config, tmp_path)
    opening.open_round(config, tmp_path, 1, plan, None)
    held_out = [
        {"prompt": f"evolved task {k}", "reference": f"answer {k}", "category": "all", "score": s}
        for k, s in enumerate([0.0, 1.0, 0.5, 0.2])
    ]
    assert pool.write_bad_cases(config, tmp_path / "rounds/1", 1, held_out, ceiling=1.0) == 2
    _, drawn = opening.open_round(config, tmp_path, 2, plan, None)
    seeds = _rows(tmp_path / "rounds/2/seeds.jsonl")
    assert drawn["bad_cases"] == 2
    assert [s["instruction"] for s in seeds if str(s["id"]).startswith("bad-")] == ["evolved task 0", "evolved task 3"]


def test_too_few_answered_seeds_for_the_test_set_is_a_clear_error(tmp_path: Path) -> None:
    config = _config(tmp_path, "eval.test_size=175")
    with pytest.raises(ConfigError, match=r"eval\.test_size"):
        pool.prepare(config, tmp_path)


def test_instruct_test_set_takes_no_turn_of_a_chat(tmp_path: Path) -> None:
    """airoboros' rp/gtkm rows are turns of a chat: none becomes a test item (its prompt means nothing alone), and
    none is taken out of training because its last prompt happens to equal a test prompt."""
    from evoforge.cycle import instruct_source
    from evoforge.data.records import Example, Turn

    plain = [Example(prompt=f"Question {i}?", completion=f"Answer {i}.", category="general") for i in range(8)]
    opening = Example(
        prompt="Question 7?", completion="Sam: hi", system="A chat.", category="rp",
        meta={"skip_prompt_formatting": True},
    )  # fmt: skip
    later = Example(
        prompt="Question 6?", completion="Sam: yo", system="A chat.", category="rp",
        history=(Turn("user", "Open the chat."), Turn("assistant", "Sam: hi")),
    )  # fmt: skip
    chats = [opening, later] * 3
    config = load_config(None, overrides=["eval.test_size=4", f"run.runs_dir={tmp_path}"])
    kept = instruct_source.without_test_prompts(config, tmp_path, [*plain, *chats])
    test = _rows(tmp_path / pool.TEST_FILE)
    assert len(test) == 4 and {row["category"] for row in test} == {"general"}
    assert kept.count(opening) == 3 and kept.count(later) == 3
    assert len([e for e in kept if e.category == "general"]) == 8 - 4
