"""Batch generation: an evolve run whose model entry says ``batch: true`` builds its dataset through the OpenAI
files and batches endpoints of the simulated LLM's HTTP server (LiteLLM as the client), with the rows of the same
run without batches, at the batch price; rows a batch failed come back as retryable lost rows; a run killed while
a batch is pending resumes by polling it and submits nothing twice (the server's batch list says so).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sim_server import SimServer, running
from small_runs import SIM_EVOLVE_SIZES

from evoforge.errors import ConfigError
from evoforge.graphs.driver import drive
from evoforge.graphs.review import policy_decision
from evoforge.llm.usage import usage_markdown
from evoforge.runs import RunDir
from evoforge.settings import load_config

EVOFORGE = str(Path(sys.executable).parent / "evoforge")
SMALL = ["run.seed=11", "world.n_seeds=16", *SIM_EVOLVE_SIZES, "llm.retry_backoff=0"]
PRICES = ["llm.models.sim.input_cost_per_token=0.000001", "llm.models.sim.output_cost_per_token=0.000002"]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with running() as server:
        yield server


def settings(sim: SimServer, folder: Path, batch: bool) -> list[str]:
    return [
        *SMALL,
        *PRICES,
        *sim.entry(batch=batch),
        f"run.runs_dir={folder / 'runs'}",
        f"llm.cache_dir={folder / 'cache'}",
    ]


def evolve(sim: SimServer, folder: Path, batch: bool) -> RunDir:
    run = RunDir.create(load_config(None, settings(sim, folder, batch)), "evolve", "run")
    assert asyncio.run(drive(run, policy_decision)).outcome == "completed"
    return run


def rows(run: RunDir, name: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run.path / name).read_text().splitlines()]


def usage(run: RunDir) -> dict[str, dict[str, float]]:
    return dict(run.manifest()["llm_usage"]["roles"])


@pytest.fixture(scope="module")
def one_by_one(sim: SimServer, tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """The same run without batches: one request per row."""
    return evolve(sim, tmp_path_factory.mktemp("one-by-one"), batch=False)


def test_batch_run_has_the_rows_of_a_run_without_batches_at_half_the_price(
    sim: SimServer, one_by_one: RunDir, tmp_path: Path
) -> None:
    sim.options.delay, sim.options.failures = 0.2, 0.0
    before = len(sim.batches())
    batched = evolve(sim, tmp_path, batch=True)
    assert rows(batched, "evolved.jsonl") == rows(one_by_one, "evolved.jsonl")
    assert len(sim.batches()) - before == 3  # generation 1 of every seed, generation 2, then the answers
    plain, cheap = usage(one_by_one)["generator"], usage(batched)["generator"]
    assert cheap["batched"] == cheap["calls"] > 0 and plain["batched"] == 0
    assert cheap["tokens_out"] == plain["tokens_out"]
    for role, figures in usage(one_by_one).items():  # a request is a call or a cache hit, as one by one
        assert (usage(batched)[role]["calls"], usage(batched)[role]["cache_hits"]) == (
            figures["calls"],
            figures["cache_hits"],
        ), role
    assert cheap["cost_usd"] == pytest.approx(plain["cost_usd"] / 2)
    assert "| batched |" in usage_markdown(batched.manifest()["llm_usage"])
    assert not list((batched.path / "batches").iterdir())  # each pass's record of its batches went when settled
    again = evolve(sim, tmp_path / "again", batch=True)  # a fresh cache: the same batches again, and nothing more
    assert len(sim.batches()) - before == 6 and rows(again, "evolved.jsonl") == rows(batched, "evolved.jsonl")


def test_rows_a_batch_failed_are_lost_rows_that_resume_fills_in(
    sim: SimServer, one_by_one: RunDir, tmp_path: Path
) -> None:
    sim.options.delay, sim.options.failures = 0.0, 0.2
    run = evolve(sim, tmp_path, batch=True)
    lost = rows(run, "dataset/lost.jsonl")
    assert lost and all("batch failed this request" in str(row["lost"]) for row in lost)
    assert run.manifest()["llm_usage"]["total"]["failures"] >= len(lost)
    # each resume sends the lost requests again (the sim fails a request only the first time it is sent; a chain
    # continued past a refilled generation sends new requests, which may fail once in their turn)
    counts = [len(lost)]
    while counts[-1] and len(counts) < 6:
        resumed = asyncio.run(drive(RunDir.open(tmp_path / "runs", "run"), policy_decision))
        counts.append(resumed.values["counts"]["lost"])
    assert counts[-1] == 0, counts
    assert not list((run.path / "batches").iterdir())
    assert rows(run, "evolved.jsonl") == rows(one_by_one, "evolved.jsonl")


def test_batch_needs_the_response_cache() -> None:
    with pytest.raises(ConfigError, match=r"batch: true, which needs llm\.cache"):
        load_config(None, ["llm.models.sim.model=openai/skills", "llm.models.sim.batch=true", "llm.cache=false"])


@pytest.mark.slow
def test_killed_while_a_batch_is_pending_resume_submits_nothing_twice(
    sim: SimServer, one_by_one: RunDir, tmp_path: Path
) -> None:
    sim.options.delay, sim.options.failures = 3.0, 0.0
    before = {str(b["id"]) for b in sim.batches()}
    config = tmp_path / "evolve.yaml"
    config.write_text("{}\n")
    sets = [arg for item in settings(sim, tmp_path, batch=True) for arg in ("--set", item)]
    env = {**os.environ, "EVOFORGE_LLM_CACHE_DIR": str(tmp_path / "cache")}
    command = [EVOFORGE, "-q", "evolve", "-c", str(config), *sets, "--auto-approve", "--run-id", "killed"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    events = tmp_path / "runs" / "killed" / "events.jsonl"
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if events.exists() and '"batch_submitted"' in events.read_text():
            break
        time.sleep(0.05)
    time.sleep(0.5)  # the checkpoint with the batch id is written; the batch is pending for seconds more
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    pending = [b for b in sim.batches() if b["id"] not in before]
    assert len(pending) == 1 and pending[0]["status"] == "in_progress"

    sim.options.delay = 0.2
    done = subprocess.run(
        [EVOFORGE, "-q", "resume", "killed", "--runs-dir", str(tmp_path / "runs")], env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    submitted = [b for b in sim.batches() if b["id"] not in before]
    assert len(submitted) == 3 and all(b["status"] == "completed" for b in submitted)
    assert rows(RunDir.open(tmp_path / "runs", "killed"), "evolved.jsonl") == rows(one_by_one, "evolved.jsonl")
