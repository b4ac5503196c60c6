"""Seed data for the evolve graph: formats, dotted fields, self-instruct, and clear errors on bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from evoforge.data.seeds import field_value, normalise
from evoforge.errors import DataError
from evoforge.evolve.inputs import TEST_RUN_SEEDS, columns, dataset_seeds, load_seeds, split
from evoforge.settings import load_config
from tests.conftest import DATASETS

EVOFORGE = str(Path(sys.executable).parent / "evoforge")


def test_dotted_and_indexed_fields() -> None:
    record = {"a": {"b": [{"c": 1}]}}
    assert field_value(record, "a.b.0.c") == 1 and field_value(record, "a.b[0].c") == 1
    rows = normalise([("f:1", {"q": "Do it", "meta": {"answer": "done"}})], "q", "meta.answer")
    assert rows[0]["instruction"] == "Do it" and rows[0]["response"] == "done"


def test_self_instruct_seed_tasks_load_with_their_outputs() -> None:
    path = DATASETS / "self-instruct" / "seed_tasks.jsonl"
    cfg = load_config(None, [f"evolve.data_path={path}"])
    seeds = load_seeds(cfg)
    first = json.loads(path.read_text().splitlines()[0])
    assert len(seeds) == 175 and seeds[0]["instruction"].startswith(first["instruction"])
    assert seeds[0]["response"] == first["instances"][0]["output"]
    with_input = next(json.loads(x) for x in path.read_text().splitlines() if json.loads(x)["instances"][0]["input"])
    match = next(s for s in seeds if s["id"] == with_input["id"])
    assert match["instruction"].endswith(with_input["instances"][0]["input"].strip())
    train, dev = split(seeds, cfg)
    assert len(train) == 20 and len(dev) == 50 and not {s["id"] for s in train} & {s["id"] for s in dev}


def test_world_seeds_and_column_output() -> None:
    cfg = load_config(None, ["world.n_seeds=12"])
    seeds = load_seeds(cfg)
    assert len(seeds) == 12 and all(s["category"] and s["response"] for s in seeds)
    cols = columns([{"instruction": "a", "response": "b", "root": "r", "generation": 1}])
    assert cols["instruction"] == ["a"] and cols["category"] == [None]


def test_test_run_cuts_only_the_final_dataset_to_10_seeds() -> None:
    sizes = ["world.n_seeds=30", "evolve.train_size=12", "evolve.dev_size=12"]
    cfg = load_config(None, [*sizes, "evolve.test_run=true"])
    seeds = load_seeds(cfg)
    train, dev = split(seeds, cfg)  # train + dev = 24 > 10: the split is made from all the seeds
    assert len(seeds) == 30 and len(train) == 12 and len(dev) == 12
    assert dataset_seeds(seeds, cfg) == seeds[:TEST_RUN_SEEDS] and TEST_RUN_SEEDS == 10
    off = load_config(None, sizes)
    assert load_seeds(off) == seeds and split(seeds, off) == (train, dev)
    assert dataset_seeds(seeds, off) == seeds and dataset_seeds(seeds[:4], cfg) == seeds[:4]


def test_too_few_seeds_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"instruction": "x"}\n')
    cfg = load_config(None, [f"evolve.data_path={path}"])
    with pytest.raises(Exception, match="train_size"):
        split(load_seeds(cfg), cfg)


def test_missing_instruction_field_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"instruction": "ok"}\n{"prompt": "no instruction"}\n')
    with pytest.raises(DataError, match=r"s\.jsonl:2.*'instruction' field.*prompt"):
        load_seeds(load_config(None, [f"evolve.data_path={path}"]))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "empty"),
        ('{"instruction": "a"}\n{"instruction": "b",\n', r"bad\.jsonl:2: not valid JSON"),
        ('{"prompt": "a"}\n', r"bad\.jsonl:1: no 'instruction' field"),
    ],
    ids=["empty", "malformed-line", "missing-field"],
)
def test_bad_input_exits_2_without_traceback(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    proc = subprocess.run(
        [EVOFORGE, "-q", "evolve", "--data", str(path), "--runs-dir", str(tmp_path / "runs"), "--auto-approve"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and str(path.name) in proc.stderr

    assert re.search(expected, " ".join(proc.stderr.split())), proc.stderr


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--data-path", "missing.jsonl"], r"data file not found: missing\.jsonl"),
        (["--test-run", "2"], r"--test-run"),
        (["--max-step", "-1"], r"evolve\.max_steps"),
    ],
    ids=["data-path-alias", "test-run-is-0-or-1", "max-step-alias-validated"],
)
def test_seed_001_flags_reach_the_config(tmp_path: Path, flags: list[str], expected: str) -> None:
    proc = subprocess.run(
        [EVOFORGE, "-q", "evolve", *flags, "--runs-dir", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and re.search(expected, " ".join(proc.stderr.split())), proc.stderr
