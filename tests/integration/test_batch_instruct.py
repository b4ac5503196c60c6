"""Batch generation in the instruct graph: with ``batch: true`` on the model entry, every instructor's instruction
requests and responses go through the simulated server's files and batches endpoints (LiteLLM as the client) in
passes, and the run writes the records of the same run without batches, at the batch price; stopped while a batch
is pending, the resumed run polls that batch and submits nothing twice.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sim_server import SimServer, running

from evoforge.graphs.driver import drive
from evoforge.graphs.review import policy_decision
from evoforge.llm.usage import usage_markdown
from evoforge.runs import RunDir
from evoforge.settings import load_config

INSTRUCTORS = {"general": {"count": 5}, "coding": {"count": 3}, "card": {"count": 2}}
TOPICS = ["astronomy", "cooking", "sailing", "chess", "gardening", "music", "history", "poetry", "bridges", "bees"]
TOPICS += ["volcanoes", "trains", "painting", "tax law", "glaciers", "typography", "fungi", "opera", "robots", "tea"]
PRICES = ["llm.models.sim.input_cost_per_token=0.000001", "llm.models.sim.output_cost_per_token=0.000002"]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with running() as server:
        yield server


SECOND_PASS = {
    "writing": {"count": 3},
    "character": {"count": 2, "batch_size": 1, "output_dir": "characters"},
    "rp": {"count": 1, "turn_count": 4},
    "gtkm": {"count": 1, "question_count": 3},
    "stylized_response": {"count": 3, "categories": ["general", "coding"]},
    "editor": {"count": 2},
}


def _config(folder: Path, instructors: dict[str, Any] = INSTRUCTORS) -> Path:
    settings = {
        "output_path": str(folder / "instructions.jsonl"),
        "topics_path": str(folder / "topics.txt"),
        "dedup": "rouge",
        "default_batch_size": 3,
        "response_filters": ["please note that"],
        "instructors": instructors,
    }
    (folder / "topics.txt").write_text("\n".join(TOPICS) + "\n")
    path = folder / "instruct.yaml"
    config = {"run": {"runs_dir": str(folder / "runs")}, "llm": {"cache_dir": str(folder / "cache")}}
    path.write_text(yaml.safe_dump({**config, "instruct": settings}))
    return path


def _instruct(
    sim: SimServer, folder: Path, batch: bool, run_id: str = "ins", instructors: dict[str, Any] = INSTRUCTORS
) -> RunDir:
    folder.mkdir(parents=True, exist_ok=True)
    overrides = [*sim.entry(batch=batch), *PRICES, "llm.retry_backoff=0"]
    return RunDir.create(load_config(_config(folder, instructors), overrides), "instruct", run_id)


def _drive(run: RunDir) -> dict[str, Any]:
    result = asyncio.run(drive(run, policy_decision, start={"mode": "instructions"}))
    assert result.outcome == "completed"
    return result.values


def _records(folder: Path) -> list[str]:
    return sorted((folder / "instructions.jsonl").read_text().splitlines())


def _usage(run: RunDir) -> dict[str, dict[str, float]]:
    return dict(RunDir.open(run.path.parent, run.path.name).manifest()["llm_usage"]["roles"])


FIGURES = ("target", "before", "written", "total", "stopped")  # batches: those the last pass asked


def _figures(values: dict[str, Any]) -> dict[str, list[Any]]:
    return {name: [p[key] for key in FIGURES] for name, p in values["progress"].items()}


@pytest.fixture(scope="module")
def one_by_one(sim: SimServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunDir, dict[str, Any]]:
    """The same run without batches: one request per record."""
    folder = tmp_path_factory.mktemp("one-by-one")
    run = _instruct(sim, folder, batch=False)
    return folder, run, _drive(run)


@pytest.fixture(scope="module")
def batched(sim: SimServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunDir, dict[str, Any], int]:
    """The run with batches: its folder, run, final state and the batches it sent."""
    sim.options.delay, sim.options.failures = 0.1, 0.0
    folder, before = tmp_path_factory.mktemp("batched"), len(sim.batches())
    run = _instruct(sim, folder, batch=True)
    values = _drive(run)
    sent = sim.batches()[before:]
    assert all(b["status"] == "completed" for b in sent)
    return folder, run, values, len(sent)


def test_instruct_through_batches_writes_the_records_of_a_run_without_at_half_the_price(
    one_by_one: tuple[Path, RunDir, dict[str, Any]], batched: tuple[Path, RunDir, dict[str, Any], int]
) -> None:
    (plain_folder, plain, plain_values), (folder, run, values, sent) = one_by_one, batched
    assert _records(folder) == _records(plain_folder)
    assert _figures(values) == _figures(plain_values)  # what each pass wrote counts as new, as one by one
    assert values["counts"] == Counter(json.loads(line)["category"] for line in _records(plain_folder))
    assert sum(values["counts"].values()) >= 8
    assert sent >= 2  # the instructions, then their answers (and a later round for what fell short)
    cheap, full = _usage(run)["generator"], _usage(plain)["generator"]
    assert cheap["batched"] == cheap["calls"] == full["calls"] > 0 and full["batched"] == 0
    assert cheap["tokens_out"] == full["tokens_out"]
    assert cheap["cost_usd"] == pytest.approx(full["cost_usd"] / 2)
    assert "| batched |" in usage_markdown(run.manifest()["llm_usage"])
    assert not list((run.path / "batches").iterdir())
    progress = values["progress"]["general"]
    assert progress["skipped"].get("request_lost", 0) == progress["skipped"].get("response_lost", 0) == 0


def test_stopped_while_a_batch_is_pending_resume_submits_nothing_twice(
    sim: SimServer, batched: tuple[Path, RunDir, dict[str, Any], int], tmp_path: Path
) -> None:
    sim.options.delay, sim.options.failures = 30.0, 0.0
    before = len(sim.batches())
    run = _instruct(sim, tmp_path, batch=True, run_id="stopped")
    events = run.path / "events.jsonl"

    async def stop_while_pending() -> None:
        task = asyncio.create_task(drive(run, policy_decision, start={"mode": "instructions"}))
        while '"batch_submitted"' not in (events.read_text() if events.exists() else ""):
            assert not task.done(), "the run ended before a batch was pending"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # the checkpoint holds the batch id; the node polls it
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(stop_while_pending())
    [pending] = sim.batches()[before:]
    assert pending["status"] == "in_progress"
    sim.options.delay = 0.1
    values = asyncio.run(drive(RunDir.open(tmp_path / "runs", "stopped"), policy_decision)).values
    sent = sim.batches()[before:]
    assert len(sent) == batched[3] and all(b["status"] == "completed" for b in sent)
    assert _records(tmp_path) == _records(batched[0]) and values["counts"] == batched[2]["counts"]


def test_requests_a_batch_failed_are_lost_calls_and_the_run_completes(sim: SimServer, tmp_path: Path) -> None:
    sim.options.delay, sim.options.failures = 0.0, 0.3
    run = _instruct(sim, tmp_path, batch=True, run_id="failing")
    values = _drive(run)
    skipped = [p["skipped"] for p in values["progress"].values()]
    lost = sum(s.get("request_lost", 0) + s.get("response_lost", 0) for s in skipped)
    assert lost > 0 and _usage(run)["generator"]["failures"] >= lost
    assert values["counts"] == Counter(json.loads(line)["category"] for line in _records(tmp_path))
    assert not list((run.path / "batches").iterdir())


def test_the_second_pass_batches_editor_and_stylized_response_and_chats_one_by_one(
    sim: SimServer, tmp_path: Path
) -> None:
    sim.options.delay, sim.options.failures = 0.0, 0.0
    instructors = {**INSTRUCTORS, **SECOND_PASS}
    plain = _instruct(sim, tmp_path / "plain", batch=False, instructors=instructors)
    plain_values = _drive(plain)
    before = len(sim.batches())
    run = _instruct(sim, tmp_path / "batched", batch=True, instructors=instructors)
    values = _drive(run)
    assert _records(tmp_path / "batched") == _records(tmp_path / "plain")
    assert _figures(values) == _figures(plain_values)
    assert all(values["counts"][name] >= 1 for name in SECOND_PASS if name != "character")
    assert values["progress"]["character"]["total"] == 2  # cards, not records
    cheap, full = _usage(run)["generator"], _usage(plain)["generator"]
    assert (cheap["calls"], cheap["cache_hits"]) == (full["calls"], full["cache_hits"])  # counted as one by one
    assert 0 < cheap["batched"] < cheap["calls"]  # cards and chats went one by one
    sent = [b["request_counts"]["total"] for b in sim.batches()[before:]]
    assert cheap["batched"] == sum(sent)
    events = [json.loads(line) for line in (run.path / "events.jsonl").read_text().splitlines()]
    nodes = {e["node"] for e in events if e["event"] == "batch_submitted"}
    assert nodes == {"generate", "generate_dependent"}
