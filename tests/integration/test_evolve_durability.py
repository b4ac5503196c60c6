"""Durability of the evolve graph: a run killed with SIGKILL mid-way and resumed gives the same dataset as an
uninterrupted run with the same seed, and pays no LLM call twice (the sim LLM, in process, with a small latency).

The uninterrupted run and the killed one each get their own response cache (``EVOFORGE_LLM_CACHE_DIR``): the cache
is shared by all runs, so with one cache the killed run would be answered entirely by the uninterrupted run's calls.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

EVOFORGE = str(Path(sys.executable).parent / "evoforge")
CONFIG = """
run: {seed: 11}
llm:
  models:
    sim: {model: sim/skills, params: {latency: 0.01}}
world: {n_seeds: 30}
evolve: {train_size: 10, dev_size: 12, batch_size: 4, max_steps: 2, loop: 2, candidate_size: 3,
         concurrency: 8, patience: 2}
"""


def cache_env(folder: Path) -> dict[str, str]:
    """The environment of a command whose response cache is in ``folder``."""
    return {**os.environ, "EVOFORGE_LLM_CACHE_DIR": str(folder)}


def evoforge(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([EVOFORGE, "-q", *map(str, args)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def paid_calls(run: Path) -> int:
    return int(json.loads((run / "manifest.json").read_text())["llm_usage"]["total"]["calls"])


def cached_answers(cache: Path) -> int:
    with sqlite3.connect(cache / "responses.sqlite") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])


@pytest.mark.slow
def test_kill_9_mid_run_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    config = tmp_path / "evolve.yaml"
    config.write_text(CONFIG)
    runs = tmp_path / "runs"
    common = ("-c", config, "--runs-dir", runs, "--auto-approve")
    killed_cache = cache_env(tmp_path / "cache-killed")
    evoforge("evolve", *common, "--run-id", "whole", env=cache_env(tmp_path / "cache-whole"))

    proc = subprocess.Popen(
        [EVOFORGE, "-q", "evolve", *map(str, common), "--run-id", "killed"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=killed_cache,
    )
    marker = runs / "killed" / "steps" / "step-01" / "trajectories.jsonl"
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)  # into the candidates' optimisation and validation
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = runs / "killed"
    assert not (killed / "evolved.jsonl").exists()
    paid_before_kill = cached_answers(tmp_path / "cache-killed")

    evoforge("resume", "killed", "--runs-dir", runs, env=killed_cache)
    whole = runs / "whole"
    assert (killed / "evolved.jsonl").read_text() == (whole / "evolved.jsonl").read_text()
    methods = [json.loads((r / "methods.json").read_text()) for r in (whole, killed)]
    assert methods[0] == methods[1]
    assert paid_before_kill > 0 and paid_before_kill + paid_calls(killed) == paid_calls(whole)
    assert json.loads((killed / "manifest.json").read_text())["status"] == "completed"
