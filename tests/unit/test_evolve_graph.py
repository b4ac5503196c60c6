"""The evolve graph end to end with fake agents: wiring, selection, checkpoints, resume and outputs."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from evoforge.agents.analyzer import AnalyzeOutput
from evoforge.agents.bundle import Agents
from evoforge.agents.evolver import EvolveInput, EvolveOutput
from evoforge.agents.generator import AnswerInput, AnswerOutput
from evoforge.agents.optimizer import OptimizeOutput
from evoforge.graphs.driver import Result, drive
from evoforge.graphs.review import policy_decision
from evoforge.runs import RunDir
from evoforge.settings import load_config
from tests.evolve_fakes import FakeAgents, quality

SMALL = [
    "world.n_seeds=24",
    "evolve.train_size=8",
    "evolve.dev_size=10",
    "evolve.batch_size=4",
    "evolve.max_steps=3",
    "evolve.loop=2",
    "evolve.candidate_size=3",
    "evolve.concurrency=4",
]


def make_run(runs_dir: Path, *extra: str, run_id: str = "r1") -> RunDir:
    cfg = load_config(None, [*SMALL, f"run.runs_dir={runs_dir}", *extra])
    return RunDir.create(cfg, "evolve", run_id)


def run_graph(
    run: RunDir, agents: Agents, decide: Any = policy_decision, answer: dict[str, Any] | None = None
) -> Result:
    return asyncio.run(drive(run, decide, answer, agents=agents))


@pytest.fixture
def calls() -> FakeAgents:
    return FakeAgents()


def test_full_graph_selects_better_methods_and_writes_outputs(runs_dir: Path, calls: FakeAgents) -> None:
    run = make_run(runs_dir, "evolve.patience=3", "evolve.save_path=result.json")
    result = run_graph(run, calls.agents)
    assert result.outcome == "completed"
    history = result.values["history"]
    assert [p["step"] for p in history] == [1, 2, 3]
    rates = [result.values["candidates"]["s0c0"]["failure_rate"]] + [p["selected_rate"] for p in history]
    assert all(b <= a for a, b in itertools.pairwise(rates)) and rates[-1] < rates[0]
    assert result.values["method_id"] == history[-1]["selected"]
    step_best = {
        p["step"]: min(c["failure_rate"] for c in result.values["candidates"].values() if c["step"] == p["step"])
        for p in history
    }
    assert all(p["best_candidate_rate"] == step_best[p["step"]] for p in history)

    rows = [json.loads(line) for line in (run.path / "evolved.jsonl").read_text().splitlines()]
    assert rows and set(rows[0]) == {"instruction", "response", "root", "generation", "method_id", "category"}
    assert {r["generation"] for r in rows} == {1, 2} and {r["method_id"] for r in rows} == {result.values["method_id"]}
    assert all("please provide" not in r["response"] for r in rows)
    assert len({r["instruction"] for r in rows}) == len(rows)

    methods = json.loads((run.path / "methods.json").read_text())
    assert len(methods["candidates"]) == 1 + 3 * 3
    assert all(c["failure_rate"] is not None and "feedback" in c for c in methods["candidates"])
    columns = json.loads((run.path / "result.json").read_text())
    assert columns["instruction"] == [r["instruction"] for r in rows] and len(columns["root"]) == len(rows)
    assert (run.path / "evolve_lambda.png").read_bytes()[:4] == b"\x89PNG"
    report = (run.path / "report.md").read_text()
    assert "## Evolve" in report and "evolve_lambda.png" in report
    assert (run.path / "evolve_report.md").is_file()


def test_a_carried_start_method_is_validated_beside_e0_and_kept_when_better(runs_dir: Path, calls: FakeAgents) -> None:
    run = make_run(runs_dir, "evolve.max_steps=1")
    result = asyncio.run(drive(run, policy_decision, agents=calls.agents, start={"start_method": "method quality=3"}))
    candidates = result.values["candidates"]
    carried, e0 = candidates["s0c0"], candidates["s0c1"]
    assert carried["method"] == "method quality=3" and quality(e0["method"]) == 0 and "e0" in e0["feedback"]
    assert carried["failure_rate"] < e0["failure_rate"]
    assert candidates["s1c0"]["parent"] == "s0c0"  # step 1 optimised the carried method, not e0
    methods = json.loads((run.path / "methods.json").read_text())
    assert methods["e0_failure_rate"] == e0["failure_rate"]
    assert f"scored λ={e0['failure_rate']:.3f}" in (run.path / "evolve_report.md").read_text()


def test_a_carried_method_that_fails_more_than_e0_gives_way_to_it(runs_dir: Path, calls: FakeAgents) -> None:
    async def evolve(gw: Any, inp: EvolveInput, sample: int = 0, role: str = "evolver") -> EvolveOutput:
        out = await calls.evolve(gw, inp, sample, role)
        return EvolveOutput(instruction=out.instruction + (" (garbled)" if "stale" in inp.method else ""))

    async def answer(gw: Any, inp: AnswerInput, sample: int = 0, role: str = "generator") -> AnswerOutput:
        if "(garbled)" in inp.instruction:
            return AnswerOutput(response="Sure, could you please provide more details?")
        return await calls.answer(gw, inp, sample, role)

    agents = calls.with_(evolve_fn=evolve, answer_fn=answer)
    run = make_run(runs_dir, "evolve.max_steps=1")
    result = asyncio.run(drive(run, policy_decision, agents=agents, start={"start_method": "a stale method"}))
    candidates = result.values["candidates"]
    assert candidates["s0c0"]["failure_rate"] == 1.0 > candidates["s0c1"]["failure_rate"]
    assert candidates["s1c0"]["parent"] == "s0c1"


def test_without_a_carried_method_e0_is_the_only_start(runs_dir: Path, calls: FakeAgents) -> None:
    result = run_graph(make_run(runs_dir, "evolve.max_steps=1"), calls.agents)
    assert [c for c in result.values["candidates"] if c.startswith("s0")] == ["s0c0"]
    assert result.values["evolved"]["e0_lambda"] == result.values["candidates"]["s0c0"]["failure_rate"]


def test_patience_stops_when_lambda_stops_improving(runs_dir: Path, calls: FakeAgents) -> None:
    async def same(gw: Any, inp: Any, sample: int = 0) -> OptimizeOutput:
        return OptimizeOutput(method=inp.method + " (reworded)" * (sample + 1))

    result = run_graph(make_run(runs_dir, "evolve.patience=1"), calls.with_(optimize_fn=same))
    assert [p["improved"] for p in result.values["history"]] == [False]
    assert result.values["method_id"] == "s0c0" and calls.by_role["analyzer"] == 3


def test_pause_at_method_review_then_resume_with_an_edited_method(runs_dir: Path, calls: FakeAgents) -> None:
    run = make_run(runs_dir, "evolve.max_steps=1")
    waiting = run_graph(run, calls.agents, decide=lambda payload: None)
    assert waiting.outcome == "waiting" and waiting.pending is not None
    assert waiting.pending["checkpoint"] == "review_method" and "edit" in waiting.pending["actions"]
    assert run.manifest()["status"] == "awaiting_review"
    evolutions_before = calls.by_role["evolver"]

    edited = {"action": "edit", "method": "hand-written method quality=4", "by": "test"}
    result = run_graph(run, calls.agents, answer=edited)
    assert result.outcome == "completed"
    assert result.values["method_id"] == "s1-edit" and result.values["method"] == edited["method"]
    rows = [json.loads(line) for line in (run.path / "evolved.jsonl").read_text().splitlines()]
    assert rows and {r["method_id"] for r in rows} == {"s1-edit"}
    assert all(r["instruction"].endswith("[q4]") for r in rows)
    assert calls.by_role["evolver"] > evolutions_before  # the dataset was evolved after the resume
    reviews = [json.loads(line) for line in (run.path / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "review" and e["action"] == "edit" for e in reviews)


def test_rejecting_the_method_keeps_optimising(runs_dir: Path, calls: FakeAgents) -> None:
    run = make_run(runs_dir, "evolve.max_steps=1")
    answers = iter([{"action": "reject"}, {"action": "approve"}, {"action": "approve"}])
    result = run_graph(run, calls.agents, decide=lambda payload: next(answers))
    assert [p["step"] for p in result.values["history"]] == [1, 2]
    assert result.outcome == "completed"


def test_a_completed_run_resumes_to_nothing(runs_dir: Path, calls: FakeAgents) -> None:
    run = make_run(runs_dir, "evolve.max_steps=0")
    first = run_graph(run, calls.agents)
    before = dict(calls.by_role)
    again = run_graph(run, calls.agents)
    assert first.outcome == again.outcome == "completed" and calls.by_role == before


def test_an_answer_needs_a_waiting_checkpoint(runs_dir: Path, calls: FakeAgents) -> None:
    from evoforge.errors import ConfigError

    run = make_run(runs_dir, "evolve.max_steps=0")
    with pytest.raises(ConfigError, match="not waiting"):
        run_graph(run, calls.agents, answer={"action": "approve"})


def test_an_agent_whose_output_type_drifts_breaks_the_run(runs_dir: Path, calls: FakeAgents) -> None:
    async def drifted(gw: Any, inp: Any, sample: int = 0) -> AnalyzeOutput:  # e.g. optimize now returns the analysis
        return AnalyzeOutput(result="failure", feedback="the optimiser's output type changed")

    with pytest.raises(TypeError, match="agent 'optimize' returned AnalyzeOutput, expected OptimizeOutput"):
        run_graph(make_run(runs_dir), calls.with_(optimize_fn=drifted))
