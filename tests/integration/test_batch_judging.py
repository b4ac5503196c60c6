"""Batch generation for LLM-judge scoring: with ``batch: true`` on the judge's model entry, a judged set's grades
(and a pairwise comparison's verdicts, the cull's grades) go to the simulated server's batch endpoints as one batch,
with the scores of the same set judged one request at a time, at the batch price; a grade a batch failed goes into
the next batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sim_server import SimServer, running

from evoforge.data.records import Example
from evoforge.evals.judging import compare_sets, judge_set
from evoforge.instruct.cull import cull_records
from evoforge.llm.cache import response_cache_path
from evoforge.llm.gateway import LLMGateway
from evoforge.offline.world import generate_tasks
from evoforge.settings import load_config

TASKS = generate_tasks(6, seed=3)
RECORDS = [Example.for_eval(t.instruction, t.answer, t.category) for t in TASKS]
RIGHT = [t.answer for t in TASKS]
HALF = [t.answer if k % 2 == 0 else "no idea?" for k, t in enumerate(TASKS)]
PRICES = ["llm.models.sim.input_cost_per_token=0.000001", "llm.models.sim.output_cost_per_token=0.000002"]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with running() as server:
        yield server


def _gateway(sim: SimServer, folder: Path, batch: bool) -> LLMGateway:
    overrides = [*sim.entry(batch=batch), *PRICES, f"llm.cache_dir={folder}", "llm.retry_backoff=0"]
    cfg = load_config(None, overrides)
    return LLMGateway(cfg.llm, response_cache_path(cfg.llm))


def _judge(gw: LLMGateway) -> tuple[list[int], dict[str, Any]]:
    try:
        report = asyncio.run(judge_set(gw, RECORDS, HALF, threshold=7))
        return [e["score"] for e in report.per_example], gw.usage()["roles"]["judge"]
    finally:
        gw.close()


def test_judge_scores_through_one_batch_as_one_by_one_at_half_the_price(sim: SimServer, tmp_path: Path) -> None:
    sim.options.delay, sim.options.failures = 0.1, 0.0
    scores, plain = _judge(_gateway(sim, tmp_path / "plain", batch=False))
    before = len(sim.batches())
    batched, cheap = _judge(_gateway(sim, tmp_path / "batched", batch=True))
    [sent] = sim.batches()[before:]
    assert sent["status"] == "completed" and sent["request_counts"]["total"] == len(RECORDS)
    assert batched == scores == [10, 1, 10, 1, 10, 1]
    assert cheap["batched"] == cheap["calls"] == plain["calls"] == len(RECORDS) and plain["batched"] == 0
    assert cheap["cost_usd"] == pytest.approx(plain["cost_usd"] / 2)
    again, cached = _judge(_gateway(sim, tmp_path / "batched", batch=True))  # the cache answers: no batch
    assert again == scores and cached["cache_hits"] == len(RECORDS) and len(sim.batches()) == before + 1


def test_a_grade_a_batch_failed_goes_into_the_next_batch(sim: SimServer, tmp_path: Path) -> None:
    sim.options.delay, sim.options.failures = 0.0, 0.5
    before = len(sim.batches())
    gw = _gateway(sim, tmp_path, batch=True)
    try:
        report = asyncio.run(compare_sets(gw, RECORDS, RIGHT, HALF))
    finally:
        gw.close()
    sent = sim.batches()[before:]
    assert len(sent) >= 2 and sent[0]["request_counts"]["failed"] > 0
    asked = sent[0]["request_counts"]["total"]  # both orders of each pair, one request where the answers agree
    assert sum(b["request_counts"]["completed"] for b in sent) == asked == 9
    assert sent[1]["request_counts"]["total"] == sent[0]["request_counts"]["failed"]
    assert (report.wins, report.losses) == (3, 0) and report.position_consistency == 1.0


def test_the_cull_grades_a_group_of_near_duplicates_through_one_batch(sim: SimServer, tmp_path: Path) -> None:
    sim.options.delay, sim.options.failures = 0.0, 0.0
    task = TASKS[0]
    records = [
        {"category": "general", "instruction": task.instruction, "response": "no idea?"},
        {"category": "general", "instruction": TASKS[1].instruction, "response": TASKS[1].answer},
        {"category": "general", "instruction": task.instruction, "response": task.answer},
    ]
    before = len(sim.batches())
    gw = _gateway(sim, tmp_path, batch=True)
    try:
        cfg = load_config(None, ["instruct.dedup=exact"])
        result = asyncio.run(cull_records(gw, records, cfg.instruct))
    finally:
        gw.close()
    [sent] = sim.batches()[before:]
    assert sent["request_counts"]["total"] == 2  # the group's two members; the third record is near none
    assert result.kept == records[1:] and result.groups[0]["kept"] == 2
