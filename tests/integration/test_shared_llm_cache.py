"""One LLM response cache shared by all runs: a repeated `evoforge evolve` into another run directory pays nothing.

Every run here is its own ``evoforge`` process on the default offline world (the simulated LLM), with the shared
cache of this module named explicitly in its environment; the first run fills it once for all the tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from small_runs import SMALL_EVOLVE as SMALL

EVOFORGE = str(Path(sys.executable).parent / "evoforge")


def evolve(runs: Path, run_id: str, cache_dir: Path, *settings: str) -> dict[str, Any]:
    """Run `evoforge evolve` with the shared cache in ``cache_dir``; the run's usage totals and output hash."""
    args = [EVOFORGE, "-q", "evolve", "--runs-dir", str(runs), "--run-id", run_id, "--auto-approve"]
    args += [f"--set={item}" for item in [*SMALL, *settings]]
    env = {**os.environ, "EVOFORGE_LLM_CACHE_DIR": str(cache_dir)}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = runs / run_id
    total = json.loads((run / "manifest.json").read_text())["llm_usage"]["total"]
    return {**total, "evolved": hashlib.sha256((run / "evolved.jsonl").read_bytes()).hexdigest()}


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The first run, which fills the module's shared cache; its usage, output hash, runs root and cache folder."""
    root = tmp_path_factory.mktemp("shared-cache")
    usage = evolve(root / "runs-1", "first", root / "cache")
    assert usage["calls"] > 0 and usage["failures"] == 0
    return {**usage, "root": root, "cache": root / "cache"}


def test_a_second_run_in_another_run_directory_pays_no_call(first: dict[str, Any]) -> None:
    second = evolve(first["root"] / "runs-2", "second", first["cache"])
    assert second["calls"] == 0 and second["tokens_in"] == 0 and second["cost_usd"] == 0.0
    assert second["cache_hits"] == first["calls"] + first["cache_hits"]  # every request, served from the file
    assert second["evolved"] == first["evolved"]
    assert not (first["root"] / "runs-2" / "second" / "llm_cache.sqlite").exists()  # no cache of its own


def test_cache_false_makes_the_second_run_pay_again(first: dict[str, Any]) -> None:
    again = evolve(first["root"] / "runs-3", "uncached", first["cache"], "llm.cache=false")
    assert again["cache_hits"] == 0 and again["calls"] == first["calls"] + first["cache_hits"]
    assert again["evolved"] == first["evolved"]


def test_cache_dir_in_the_config_wins_over_the_environment_variable(first: dict[str, Any]) -> None:
    own = first["root"] / "own-cache"
    other = evolve(first["root"] / "runs-4", "own", first["cache"], f"llm.cache_dir={own}")
    assert (own / "responses.sqlite").is_file()
    # a fresh cache pays as the first run did; how repeats split between "joined an identical call in flight" and
    # "served from the file" depends on timing, so only the total of requests is exact
    assert other["calls"] > 0 and other["calls"] + other["cache_hits"] == first["calls"] + first["cache_hits"]
    assert other["evolved"] == first["evolved"]
