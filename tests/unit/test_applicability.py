"""Settings that do not apply are refused (issue 30): each mode-bound key is either used or refused by name, only
keys the user set count, and every shipped config loads for the commands it is meant for."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evoforge.cycle import pool
from evoforge.cycle.opening import write_test_set
from evoforge.errors import DataError
from evoforge.evolve.inputs import load_seeds
from evoforge.settings import SHIPPED_CONFIGS, load_config
from evoforge.settings.applicability import inapplicable

DATA = "evolve.data_path=seeds.jsonl"
INSTRUCT = ("cycle.data_source=instruct", "cycle.instruct_config=airoboros-example")


@pytest.mark.parametrize(
    ("command", "overrides", "key"),
    [
        ("run", ("eval.test_size=10",), "eval.test_size"),  # the skills world carves nothing off
        ("run", ("eval.test_path=t.jsonl", "world.n_eval=5"), "world.n_eval"),  # the file replaces the oracle tasks
        ("run", (DATA, "eval.test_path=t.jsonl", "eval.test_size=5"), "eval.test_size"),
        ("run", ("cycle.seeds_per_round=10",), "cycle.seeds_per_round"),
        ("run", ("cycle.bad_cases=3",), "cycle.bad_cases"),
        ("run", ("cycle.instruct_config=airoboros-example",), "cycle.instruct_config"),
        ("run", ("evolve.instruction_field=question",), "evolve.instruction_field"),
        ("run", ("self_evolve.end_id=3",), "self_evolve.end_id"),
        ("run", ("instruct.default_count=3",), "instruct.default_count"),
        ("run", ("instruct.embedding_model=/models/gte",), "instruct.embedding_model"),  # evolve.dedup is exact
        ("run", (DATA, "world.n_seeds=10"), "world.n_seeds"),
        ("run", (*INSTRUCT, "evolve.loop=2"), "evolve.loop"),
        ("run", (*INSTRUCT, "world.n_prefs=8"), "world.n_prefs"),
        ("run", (*INSTRUCT, "cycle.bad_cases=3"), "cycle.bad_cases"),
        ("evolve", ("self_evolve.mode=easy",), "self_evolve.mode"),
        ("evolve", (DATA, "world.categories=[arithmetic]"), "world.categories"),
        ("instruct", ("evolve.loop=2",), "evolve.loop"),
        ("instruct", ("world.n_seeds=10",), "world.n_seeds"),
        ("self-evolve", ("student.model=/models/qwen",), "student.model"),
        ("self-evolve", ("eval.metric=numeric",), "eval.metric"),
        ("self-evolve", ("train.epochs=5",), "train.epochs"),
        ("self-evolve", ("merge.trials=3",), "merge.trials"),
        ("self-evolve", ("instruct.default_count=3",), "instruct.default_count"),
    ],
)
def test_a_key_the_mode_ignores_is_refused_by_name(command: str, overrides: tuple[str, ...], key: str) -> None:
    messages = inapplicable(load_config(None, overrides), command)
    assert len(messages) == 1 and messages[0].startswith(key), messages


@pytest.mark.parametrize(
    ("command", "overrides"),
    [
        ("run", ("eval.test_path=t.jsonl",)),  # the skills world's test set is the file's rows
        ("run", (DATA, "eval.test_path=t.jsonl", "cycle.seeds_per_round=10", "cycle.bad_cases=3")),
        ("run", (DATA, "eval.test_size=5", "evolve.instruction_field=question")),
        ("run", (*INSTRUCT, "eval.test_size=5")),
        ("run", (*INSTRUCT, "instruct.default_count=3")),
        ("run", ("world.n_seeds=10", "world.categories=[arithmetic]", "student.model=tiny-reader")),
        ("run", ("evolve.dedup=embedding", "instruct.embedding_model=/models/gte")),
        ("evolve", ("world.categories=[arithmetic]", "world.max_level=2", "merge.trials=3", "cycle.rounds=4")),
        ("instruct", ("instruct.default_count=3", "cycle.rounds=3")),
        ("self-evolve", ("self_evolve.end_id=3", "train.lora_r=4", "eval.batch_size=8", "student.device=cpu")),
        ("train", ("self_evolve.end_id=3", "merge.trials=3", "world.n_seeds=10")),  # the tools refuse nothing
        ("eval", (DATA, "world.n_seeds=10", "evolve.instruction_field=question", "instruct.default_count=3")),
    ],
)
def test_a_key_the_mode_reads_is_accepted(command: str, overrides: tuple[str, ...]) -> None:
    assert inapplicable(load_config(None, overrides), command) == []


def test_only_keys_the_user_set_to_a_value_of_their_own_count(tmp_path: Path) -> None:
    shipped = load_config("quickstart", ["eval.test_path=t.jsonl", DATA])
    assert shipped.user_keys == {"eval.test_path", "evolve.data_path"}  # the quickstart's own keys are not the user's
    assert inapplicable(shipped, "run") == []  # its world.* keys are not refused on the user's data
    mine = tmp_path / "mine.yaml"
    mine.write_text("world:\n  n_seeds: 120\n  n_eval: 9\nevolve:\n  data_path: seeds.jsonl\n")
    assert {"world.n_seeds", "world.n_eval"} <= load_config(mine).user_keys
    (message,) = inapplicable(load_config(mine), "run")  # n_seeds: 120 is the default, as if not written
    assert message.startswith("world.n_eval=9: not read by evoforge run on the user's data")


@pytest.mark.parametrize(
    ("name", "commands"),
    [
        ("quickstart", ("run", "evolve")),
        ("deepseek", ("run", "evolve")),
        ("openai", ("run", "evolve")),
        ("vllm-local", ("run", "evolve")),
        ("self-evolve", ("self-evolve",)),
        ("airoboros-example", ("instruct",)),
    ],
)
def test_shipped_configs_and_users_copies_of_them_load_for_their_commands(
    name: str, commands: tuple[str, ...], tmp_path: Path
) -> None:
    copy = tmp_path / f"{name}.yaml"
    shutil.copy(SHIPPED_CONFIGS / f"{name}.yaml", copy)
    for config in (name, copy):
        cfg = load_config(config)
        assert all(inapplicable(cfg, command) == [] for command in commands), config
    assert load_config(copy).user_keys  # the copy's keys are the user's, and still apply


def test_the_skills_world_scores_eval_test_path_read_as_on_the_users_data(tmp_path: Path) -> None:
    test_file = tmp_path / "test.json"
    rows = [
        {"instruction": "Add 2 and 3.", "output": "5", "category": "arithmetic"},
        {"prompt": "Say hi", "completion": "hi"},
    ]
    test_file.write_text(json.dumps(rows))
    cfg = load_config(None, [f"eval.test_path={test_file}"])
    written = write_test_set(cfg, tmp_path)
    assert [json.loads(line) for line in written.read_text().splitlines()] == pool.user_test_set(str(test_file))
    assert [row["reference"] for row in pool.user_test_set(str(test_file))] == ["5", "hi"]
    with pytest.raises(DataError, match=r"missing\.jsonl"):
        write_test_set(load_config(None, ["eval.test_path=missing.jsonl"]), tmp_path / "other")


def test_evolve_on_the_skills_world_draws_its_seeds_from_world_categories() -> None:
    cfg = load_config(None, ["world.categories=[strings]", "world.n_seeds=12", "world.max_level=1"])
    seeds = load_seeds(cfg)
    assert len(seeds) == 12 and {seed["category"] for seed in seeds} == {"strings"}


@pytest.mark.parametrize(
    ("command", "setting", "culprit"),
    [
        (("run",), "eval.test_size=5", "eval.test_size"),
        (("run",), "eval.test_path=missing.jsonl", "missing.jsonl"),  # the skills world reads it: the preflight's
        (("evolve",), "self_evolve.end_id=3", "self_evolve.end_id"),
        (("instruct", "generate-topics"), "evolve.loop=2", "evolve.loop"),
        (("self-evolve",), "merge.trials=3", "merge.trials"),
    ],
)
def test_commands_refuse_before_anything_runs(
    command: tuple[str, ...], setting: str, culprit: str, tmp_path: Path
) -> None:
    args = [*command, "--set", setting, "--runs-dir", str(tmp_path / "runs")]
    out = subprocess.run(
        [sys.executable, "-m", "evoforge.cli", *args], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert out.returncode == 2 and culprit in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert not (tmp_path / "runs").exists()  # no run was made, so no LLM was called
