"""Time per phase: every top-level node of a driven graph is timed into events.jsonl, report.md and the console."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from evoforge.graphs.driver import drive
from evoforge.graphs.phases import PhaseClock, phase_rows
from evoforge.graphs.review import policy_decision
from evoforge.report import read_section
from evoforge.runs import RunDir
from evoforge.settings import load_config
from tests.evolve_fakes import FakeAgents

SMALL = ["world.n_seeds=12", "evolve.train_size=4", "evolve.dev_size=4", "evolve.batch_size=4", "evolve.max_steps=1"]


def test_a_driven_run_reports_the_wall_time_of_each_node(runs_dir: Path) -> None:
    run = RunDir.create(load_config(None, [*SMALL, f"run.runs_dir={runs_dir}"]), "evolve", "timed")
    assert asyncio.run(drive(run, policy_decision, agents=FakeAgents().agents)).outcome == "completed"
    events = [json.loads(line) for line in (run.path / "events.jsonl").read_text().splitlines()]
    phases = [e for e in events if e["event"] == "phase"]
    assert phases and all(e["seconds"] >= 0 and not e["error"] and e["peak_rss"] > 10e6 for e in phases)
    rows, peak = phase_rows(run)
    assert peak == max(e["peak_rss"] for e in phases) / 1e9
    assert [row[0] for row in rows] == list(dict.fromkeys(e["node"] for e in phases))
    section = read_section(run.path / "report.md", "phases")
    assert section is not None and "| phase (graph node) | tasks | wall s | share | peak RSS GB |" in section
    assert f"| {rows[0][0]} | {rows[0][1]} |" in section and f"| 100% | peak {peak:.2f} |" in section


def test_parallel_tasks_of_a_node_count_once_in_its_wall_time(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    clock = PhaseClock(run)
    clock.observe({"id": "a", "name": "train_delta", "input": {}, "triggers": []})
    clock.observe({"id": "b", "name": "train_delta", "input": {}, "triggers": []})
    clock.observe({"id": "a", "name": "train_delta", "error": None, "result": {}, "interrupts": []})
    clock.observe({"id": "b", "name": "train_delta", "error": "boom", "result": {}, "interrupts": []})
    clock.observe({"id": "never-started", "name": "merge", "error": None, "result": {}, "interrupts": []})
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [(e["node"], e["error"]) for e in events] == [("train_delta", False), ("train_delta", True)]
    spans = [("train", 0.0, 10.0, 2e9), ("train", 2.0, 4.0, 3e9), ("train", 12.0, 1.0, 3e9), ("merge", 13.0, 5.0, 4e9)]
    (tmp_path / "events.jsonl").write_text(
        "".join(
            json.dumps({"event": "phase", "node": node, "start": start, "seconds": seconds, "peak_rss": rss}) + "\n"
            for node, start, seconds, rss in spans
        )
    )
    # the peak rose by 1 GB while training (2 -> 3 GB; the first task sets the baseline), then by 1 GB merging
    assert phase_rows(run) == ([("train", 3, 11.0, 1.0), ("merge", 1, 5.0, 1.0)], 4.0)
