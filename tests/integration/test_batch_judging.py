"""Batch generation for LLM-judge scoring: with ``batch: true`` on the judge's model entry, a judged set's grades
(and a pairwise comparison's verdicts, the cull's grades) go to the simulated server's batch endpoints as one batch,
with the scores of the same set judged one request at a time, at the batch price; a grade a batch failed goes into
the next batch; a judge stopped while its batch is pending polls that batch when it runs again (recorded beside the
response cache), sending no request twice.
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
from evoforge.llm.batch_records import BatchRecords
from evoforge.llm.cache import CACHE_FILE, response_cache_path
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


def _stop_while_pending(gw: LLMGateway, folder: Path, records: list[Example], answers: list[str]) -> None:
    """Judge ``answers`` and stop (cancel) the judge once its batch is recorded as pending in ``folder``."""

    async def stop() -> None:
        task = asyncio.create_task(judge_set(gw, records, answers, threshold=7))
        while not BatchRecords(folder / CACHE_FILE).pending():
            assert not task.done(), "the judge ended before its batch was pending"
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(stop())
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


def _stopped(sim: SimServer, folder: Path, judged: int) -> int:
    """Judge the first ``judged`` answers with a batch entry caching in ``folder``, stopped while its batch is
    pending; the server's batches before it (the next batch it is sent completes at once)."""
    sim.options.delay, sim.options.failures = 30.0, 0.0
    before = len(sim.batches())
    _stop_while_pending(_gateway(sim, folder, batch=True), folder, RECORDS[:judged], HALF[:judged])
    [pending] = sim.batches()[before:]
    assert pending["status"] == "in_progress" and pending["request_counts"]["total"] == judged
    sim.options.delay = 0.1
    return before


def test_a_judge_stopped_while_its_batch_is_pending_polls_that_batch_when_run_again(
    sim: SimServer, tmp_path: Path
) -> None:
    before = _stopped(sim, tmp_path, len(RECORDS))
    scores, usage = _judge(_gateway(sim, tmp_path, batch=True))  # a new gateway on the same cache folder
    [sent] = sim.batches()[before:]  # the stopped judge's batch, polled again: no other
    assert sent["status"] == "completed"
    assert scores == _judge(_gateway(sim, tmp_path / "plain", batch=False))[0] == [10, 1, 10, 1, 10, 1]
    assert usage["batched"] == usage["calls"] == len(RECORDS)
    assert BatchRecords(tmp_path / CACHE_FILE).pending() == []


def test_a_pass_sends_only_the_requests_no_recorded_batch_holds(sim: SimServer, tmp_path: Path) -> None:
    before = _stopped(sim, tmp_path, 2)
    scores, usage = _judge(_gateway(sim, tmp_path, batch=True))
    first, rest = sim.batches()[before:]
    assert rest["request_counts"]["total"] == len(RECORDS) - 2
    assert first["status"] == rest["status"] == "completed"
    assert scores == [10, 1, 10, 1, 10, 1] and usage["batched"] == len(RECORDS)
    assert BatchRecords(tmp_path / CACHE_FILE).pending() == []


def test_a_recorded_batch_its_provider_lost_is_forgotten_and_its_requests_sent_again(
    sim: SimServer, tmp_path: Path
) -> None:
    before = _stopped(sim, tmp_path, len(RECORDS))
    records = BatchRecords(tmp_path / CACHE_FILE)
    [held] = records.pending()
    records.forget(held["id"])
    records.note({**held, "id": "batch_the_provider_never_had"}, held["custom_ids"])
    scores, _ = _judge(_gateway(sim, tmp_path, batch=True))
    stopped, sent = sim.batches()[before:]
    assert stopped["status"] == "in_progress" and sent["request_counts"]["total"] == len(RECORDS)
    assert scores == [10, 1, 10, 1, 10, 1] and records.pending() == []
