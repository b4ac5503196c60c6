"""The plan's LLM requests per role against the requests an actual run makes (the gateway's usage per role)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from evoforge.cycle.plan import plan_run
from evoforge.settings import load_config

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "world.n_seeds=24",
    "evolve.train_size=8",
    "evolve.dev_size=8",
    "evolve.batch_size=4",
    "evolve.max_steps=2",  # with patience 1: one or two steps, the plan's low and high
    "evolve.loop=2",
    "evolve.candidate_size=2",
    "cycle.rounds=1",
]


def test_planned_requests_bound_the_requests_a_run_makes(runs_dir: Path) -> None:
    """On the quickstart (exact match) every LLM request of a round is the evolve graph's: the plan of one round
    must bound, role by role, the requests (provider calls + cache hits − repair requests) the graph makes."""
    sets = [arg for item in TINY for arg in ("--set", item)]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "evoforge.cli",
            "-q",
            "evolve",
            "--config",
            "quickstart",
            "--runs-dir",
            str(runs_dir),
            "--run-id",
            "tiny",
            *sets,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    usage = json.loads((runs_dir / "tiny" / "manifest.json").read_text())["llm_usage"]["roles"]
    made = {role: u["calls"] + u["cache_hits"] - u["repairs"] for role, u in usage.items()}
    planned = plan_run(load_config(ROOT / "configs" / "quickstart.yaml", TINY)).calls()
    assert set(made) == set(planned)
    for role, (low, high) in planned.items():
        failed = usage[role]["failures"]
        assert low - failed <= made[role] <= high, (role, made[role], (low, high))
    assert planned["generator"] == (48, 48) and made["generator"] == 48 - usage["generator"]["failures"]
