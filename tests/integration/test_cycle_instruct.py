"""A cycle whose rounds take their data from the instruct graph (``cycle.data_source: instruct``): offline, the
simulated LLM plays every instructor of an airoboros config file, each category trains its own delta (with a sample
of the other categories' records mixed in), and the round ends with AutoLLM's table."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from evoforge.graphs.cycle.graph import graph as cycle_graph
from evoforge.graphs.driver import drive
from evoforge.graphs.review import policy_decision
from evoforge.offline.tiny_builds import StudentBuildConfig, build_tiny_student
from evoforge.runs import RunDir
from evoforge.settings import load_config

MICRO = StudentBuildConfig(hidden_size=64, intermediate_size=128, num_layers=2, num_heads=1, steps=0, eval_tasks=0)
CATEGORIES = ["coding", "general", "trivia"]
AIROBOROS = {  # an airoboros config file as airoboros reads it, on the simulated LLM
    "model": "sim/skills",
    "topic_request_count": 2,
    "default_count": 8,
    "default_batch_size": 4,
    "instructors": {name: {} for name in CATEGORIES},
}


@pytest.fixture(scope="module")
def micro(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A random-weight micro student (no pre-training): the test is about the plumbing, not the scores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is faster, and the machine is shared
    yield build_tiny_student(tmp_path_factory.mktemp("student") / "micro", config=MICRO)
    torch.set_num_threads(threads)


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_studio_draws_the_instruct_nodes_inside_the_cycle() -> None:
    nodes = set(cycle_graph.get_graph(xray=True).nodes)
    assert {"instruct:generate", "instruct:review_sample", "evolve:review_method", "chunk"} <= nodes


def test_a_cycle_on_the_instruct_graph_trains_one_delta_per_category(micro: Path, tmp_path: Path) -> None:
    source = tmp_path / "airoboros.yaml"
    source.write_text(yaml.safe_dump(AIROBOROS))
    settings = {
        "run": {"runs_dir": str(tmp_path / "runs")},
        "student": {"model": str(micro), "device": "cpu"},
        "cycle": {"rounds": 2, "patience": 2, "data_source": "instruct", "instruct_config": str(source)},
        "instruct": {"dedup": "exact"},  # over the file's section: no embedding model to load here
        "eval": {"test_size": 6, "max_new_tokens": 8, "metric": "bleu4"},
        "train": {"epochs": 1, "mix_other_chunks": 0.25, "max_length": 256},
        "merge": {"trials": 5},
    }
    config = tmp_path / "cycle.yaml"
    config.write_text(yaml.safe_dump(settings))
    cfg = load_config(config)
    assert cfg.llm.roles["instructor"].model == "airoboros" and cfg.cycle.instruct_config is None  # copied in
    run = RunDir.create(cfg, "cycle", "instructed")

    result = asyncio.run(drive(run, policy_decision))

    assert result.outcome == "completed"
    round_1, round_2 = result.values["results"]
    assert round_1["records"] == {name: 8 for name in CATEGORIES} and sum(round_2["records"].values()) > 0
    first, second = (_rows(run.path / name) for name in result.values["earlier_datasets"])
    assert first and second and not {r["instruction"] for r in first} & {r["instruction"] for r in second}
    assert set(round_1["rows"]) == {
        "raw",
        "train@all",
        *(f"train@{name}-sft" for name in CATEGORIES),
        "average_merge",
        "auto_merge",
        "routed_experts",  # merge.route: each test prompt answered by the category delta the LMoE router picks
    }
    assert set(round_1["test"]) == set(round_1["rows"])
    router = json.loads((run.path / "rounds" / "1" / "evals" / "router.json").read_text())
    assert router["n"] == 6 and set(router["routed"]) == {f"{name}-sft" for name in CATEGORIES}
    assert 0.0 <= router["accuracy"] <= 1.0 and round_1["promotion"]["kept"] in ("auto_merge", "routed_experts")
    assert set(round_1["steering"]["plan"]) == set(CATEGORIES) and sum(round_1["steering"]["plan"].values()) == 24
    root = run.path / "rounds" / "1"
    assert json.loads((root / "manifest.json").read_text())["command"] == "instruct"
    test = _rows(run.path / "test.jsonl")
    assert len(test) == 6 and {row["category"] for row in test} == set(CATEGORIES)  # carved from every category
    prompts = {row["prompt"] for row in test}
    for name in CATEGORIES:
        rows = _rows(root / "chunks" / f"{name}.jsonl")
        own = [r for r in rows if "mixed_from" not in r]
        mixed = [r for r in rows if "mixed_from" in r]
        assert own and {r["category"] for r in own} == {name}
        assert {r["mixed_from"] for r in mixed} == set(CATEGORIES) - {name}  # a sample of every other expert
        assert all(r["category"] == r["mixed_from"] for r in mixed) and not prompts & {r["prompt"] for r in rows}
    trained = json.loads((root / "adapters" / "all-sft" / "training.json").read_text())
    own_total = sum(
        len([r for r in _rows(root / "chunks" / f"{n}.jsonl") if "mixed_from" not in r]) for n in CATEGORIES
    )
    assert trained["metrics"]["records"] == own_total  # train@all counts a mixed-in record once
    report = (run.path / "report.md").read_text()
    assert "| train@coding-sft |" in report and "Records from the instruct graph" in report
    assert "| routed_experts |" in report and "promoted: " in report
