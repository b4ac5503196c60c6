"""The cycle mounts the compiled evolve graph as a real subgraph: Studio sees its nodes, its human reviews stop
the cycle, and the cycle resumes into the subgraph where it stopped (fake agents of the real types)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from small_runs import SMALL_CYCLE

from evoforge.graphs.cycle.graph import graph as cycle_graph
from evoforge.graphs.driver import Result, drive
from evoforge.runs import RunDir
from evoforge.settings import load_config
from tests.evolve_fakes import FakeAgents


def wait_for_review(run: RunDir, fakes: FakeAgents, answer: dict[str, Any] | None = None) -> Result:
    return asyncio.run(drive(run, lambda payload: None, answer, agents=fakes.agents))


def test_studio_draws_the_evolve_nodes_inside_the_cycle() -> None:
    nodes = set(cycle_graph.get_graph(xray=True).nodes)
    assert {"evolve:review_method", "evolve:optimize_candidate", "evolve:write_outputs", "chunk"} <= nodes


def test_a_review_inside_the_evolve_subgraph_stops_the_cycle_and_resumes_into_it(runs_dir: Path) -> None:
    cfg = load_config(None, [*SMALL_CYCLE, f"run.runs_dir={runs_dir}"])
    run = RunDir.create(cfg, "cycle", "c1")
    fakes = FakeAgents()

    first = wait_for_review(run, fakes)
    assert first.outcome == "waiting" and first.pending is not None
    assert first.pending["checkpoint"] == "review_method"
    assert first.values["round"] == 1 and first.values["workdir"] == "rounds/1"
    assert run.manifest()["status"] == "awaiting_review"
    round_dir = run.path / "rounds" / "1"
    assert (round_dir / "data" / "seeds.jsonl").is_file()  # the subgraph worked in the round's folder
    assert not (run.path / "data").exists()
    optimisations = fakes.by_role["optimizer"]

    second = wait_for_review(run, fakes, answer={"action": "approve", "by": "test"})
    assert second.outcome == "waiting" and second.pending is not None
    assert second.pending["checkpoint"] == "review_dataset"
    assert fakes.by_role["optimizer"] == optimisations  # resumed where it stopped: nothing optimised again
    assert second.pending["sample"] and second.pending["counts"]["kept"] > 0
    reviews = [json.loads(line) for line in (run.path / "events.jsonl").read_text().splitlines()]
    assert [e["checkpoint"] for e in reviews if e["event"] == "review"] == ["review_method"]
