"""Per-model limits across processes: two processes sharing one rpm (or concurrency) limit through the run-state
database never exceed it together, measured from the access log of the simulated LLM's server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres_cluster import postgres_url

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "tests" / "limit_worker.py"


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A PostgreSQL database (CI's, or a throwaway cluster)."""
    with postgres_url() as url:
        yield url


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The simulated LLM's app under uvicorn on a free loopback port, logging each answered request's time."""
    log = tmp_path / "access.log"
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"times": {"()": "uvicorn.logging.AccessFormatter", "fmt": "%(created).6f %(request_line)s"}},
        "handlers": {
            "file": {"class": "logging.FileHandler", "filename": str(log), "formatter": "times"},
            "stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        },
        "loggers": {
            "uvicorn.access": {"handlers": ["file"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
    }
    (tmp_path / "log.json").write_text(json.dumps(config))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = ["-m", "uvicorn", "evoforge.offline.server:create_app", "--factory", "--host", "127.0.0.1"]
    cmd = [sys.executable, *app, "--port", str(port), "--log-config", str(tmp_path / "log.json")]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}/v1"
    assert proc.stderr is not None
    for line in proc.stderr:  # uvicorn says when it serves (its access log goes to the file)
        if "Application startup complete" in line:
            break
    assert proc.poll() is None, "the sim server did not start"
    yield base, log
    proc.terminate()
    proc.wait(timeout=20)


def _two_processes(base: str, database: str, phases: list[tuple[int, int, int, float]], go: Path) -> list[float]:
    """Run the phases (N, RPM, PARALLEL, LATENCY) in two processes; returns when each phase was started (both
    processes ready, then told at once)."""
    env = {**os.environ, "EVOFORGE_TEST_RUN_DATABASE": database}
    cmd = [sys.executable, str(WORKER), base, str(go), *(",".join(map(str, phase)) for phase in phases)]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    starts = []
    try:
        for i in range(len(phases)):
            assert [p.stdout.readline().strip() for p in procs if p.stdout] == ["ready", "ready"]
            starts.append(time.time())
            go.with_name(f"{go.name}-{i}").touch()
            assert [p.stdout.readline().strip() for p in procs if p.stdout] == ["done", "done"]
        assert [p.wait(timeout=120) for p in procs] == [0, 0]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    return starts


def _answered(log: Path, since: float, until: float = float("inf")) -> list[float]:
    """When the server answered each chat completion from ``since`` until before ``until``, in order."""
    lines = [line.split(" ", 1) for line in log.read_text().splitlines() if "/v1/chat/completions" in line]
    return sorted(t for t in (float(t) for t, _ in lines) if since <= t < until)


@pytest.mark.slow
def test_two_processes_share_one_rpm_and_one_concurrency_limit(server: tuple[str, Path], database: str) -> None:
    base, log = server
    latency = 0.3
    phases = [(8, 240, 16, 0.0), (6, 0, 2, latency)]  # a shared rate limit, then a shared concurrency limit
    rpm_start, slots_start = _two_processes(base, database, phases, go=log.with_name("go"))
    times = _answered(log, rpm_start, slots_start)
    assert len(times) == 16
    per_second = [sum(1 for u in times if t <= u < t + 1.0) for t in times]
    assert max(per_second) <= 240 // 60 + 1, per_second  # alone, each process would send 4 a second: 8 together
    assert times[-1] - times[0] >= 0.9 * 15 * 60 / 240

    ends = _answered(log, slots_start)
    assert len(ends) == 12
    in_flight = [sum(1 for e in ends if e - latency <= t - latency / 2 <= e) for t in ends]
    assert max(in_flight) <= 2, in_flight
    assert ends[-1] - ends[0] >= 0.9 * latency * (12 / 2 - 1)  # six waves of two, not two waves of six
