"""Scaling a cycle out, on real servers: run state in PostgreSQL (kill -9 mid-round, resume from a fresh process),
deltas as Ray tasks and merge workers as Ray actors on a local Ray cluster — each against one uninterrupted local
run of the same reduced cycle (SQLite in the run directory, one process)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers_models import build_tiny_lm
from postgres_cluster import postgres_url
from small_runs import EVOLVE_SIZES

ROOT = Path(__file__).resolve().parents[2]
DB_ENV = "EVOFORGE_TEST_RUN_DATABASE"  # the variable run.database_url_env names
KEY_ENV, KEY = "EVOFORGE_TEST_SIM_KEY", "sk-evoforge-scale-5d1e9b7c3a"
REDUCED = [
    "world.n_seeds=16",
    "world.categories=[arithmetic, strings]",
    *EVOLVE_SIZES,
    "world.n_eval=8",
    "train.epochs=1",
    "merge.trials=4",  # the 3 baselines (2 single deltas, the average) and 1 searched
    "eval.max_new_tokens=16",
    "eval.metric=bleu4",
    "cycle.rounds=1",
    "student.device=cpu",
    f"llm.models.sim.api_key_env={KEY_ENV}",  # the key travels through the gateway; it must land nowhere
]
ONE_THREAD = {"OMP_NUM_THREADS": "1"}  # a Ray task with one CPU trains with one torch thread: so does the reference


def _cli(*args: str, env: dict[str, str], wait: bool = True) -> Any:
    cmd = [sys.executable, "-m", "evoforge.cli", *args]
    full = {**os.environ, "TOKENIZERS_PARALLELISM": "false", KEY_ENV: KEY, **ONE_THREAD, **env}
    if not wait:
        return subprocess.Popen(cmd, cwd=ROOT, env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, cwd=ROOT, env=full, capture_output=True, text=True, timeout=900, check=False)


def _sets(student: Path, *extra: str) -> list[str]:
    return [a for s in (*REDUCED, f"student.model={student}", *extra) for a in ("--set", s)]


def _digests(run: Path) -> dict[str, str]:
    """The bytes of every trained delta, by name."""
    files = sorted(run.glob("rounds/1/adapters/*/adapter_model.safetensors"))
    return {p.parent.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _results(run: Path) -> dict[str, Any]:
    saved = json.loads((run / "rounds/1/merge/results.json").read_text())
    tests = {p.name: json.loads(p.read_text())["score"] for p in sorted(run.glob("rounds/1/evals/test-*.json"))}
    return {"table": saved["table"], "merges": saved["merges"], "test": tests}


def _events(run: Path) -> list[str]:
    path = run / "events.jsonl"
    return [json.loads(line)["event"] for line in path.read_text().splitlines()] if path.is_file() else []


def _files_with(root: Path, needle: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama as the user's student (a Hugging Face model directory)."""
    return build_tiny_lm(tmp_path_factory.mktemp("student") / "model")


@pytest.fixture(scope="module")
def reference(student: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reduced cycle run once, uninterrupted, locally (SQLite in the run directory)."""
    runs = tmp_path_factory.mktemp("reference")
    cache = {"EVOFORGE_LLM_CACHE_DIR": str(tmp_path_factory.mktemp("reference-cache"))}
    done = _cli("run", "--runs-dir", str(runs), "--run-id", "ref", *_sets(student), env=cache)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return runs / "ref"


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A PostgreSQL database (CI's, or a throwaway cluster)."""
    with postgres_url() as url:
        yield url


@pytest.mark.slow
def test_postgres_run_killed_mid_round_resumes_elsewhere_with_the_same_results(
    student: Path, reference: Path, database: str, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    env = {DB_ENV: database, "EVOFORGE_LLM_CACHE_DIR": str(tmp_path / "unused-cache")}
    sets = _sets(student, f"run.database_url_env={DB_ENV}")
    proc = _cli("run", "--runs-dir", str(runs), "--run-id", "pg", *sets, env=env, wait=False)
    run = runs / "pg"
    deadline = time.monotonic() + 600
    while "delta_trained" not in _events(run):  # mid-round: one delta trained, the others not yet
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "no delta was trained in time"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    out = proc.communicate()[0]
    assert json.loads((run / "manifest.json").read_text())["status"] == "running"

    done = _cli("resume", "pg", "--runs-dir", str(runs), env=env)  # a fresh process: state from the database
    out += done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert json.loads((run / "manifest.json").read_text())["status"] == "completed"
    assert _digests(run) == _digests(reference) and len(_digests(run)) == 3
    assert _results(run) == _results(reference)
    assert not [*run.rglob("*.sqlite"), *run.rglob("*.db"), *run.rglob("*.journal")]  # all run state is in Postgres
    assert not (tmp_path / "unused-cache").exists()  # so is the response cache

    password = database.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    for secret in (password, KEY):
        assert _files_with(run, secret) == [] and secret not in out
    dump = _pg_dump(database)
    assert "checkpoint_blobs" in dump and "evoforge_llm_responses" in dump and "pg/rounds/1" in dump
    assert password not in dump and KEY not in dump  # no checkpoint, study or cached answer holds a secret


def _pg_dump(url: str) -> str:
    from postgres_cluster import _binary

    pg_dump = _binary("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump is not installed")
    done = subprocess.run([pg_dump, "--dbname", url], capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A local Ray cluster of two CPUs, started and stopped by this process."""
    ray = pytest.importorskip("ray", reason="needs the ray extra")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_ray_tasks_train_the_same_deltas_and_ray_workers_share_one_study(
    student: Path, reference: Path, ray_address: str, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    sets = _sets(student, "train.backend=ray", "merge.backend=ray", "merge.workers=2", "merge.trials=12")
    env = {"RAY_ADDRESS": ray_address, "EVOFORGE_LLM_CACHE_DIR": str(tmp_path / "cache")}
    done = _cli("run", "--runs-dir", str(runs), "--run-id", "ray", *sets, env=env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    run = runs / "ray"
    assert _digests(run) == _digests(reference) and len(_digests(run)) == 3  # bit for bit on CPU
    import optuna

    study = optuna.load_study(study_name="merge", storage=_journal(run / "rounds/1/merge/optuna.journal"))
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) >= 12
    labels = [t.user_attrs.get("label") for t in study.trials[:3]]
    assert labels == ["train@arithmetic-sft", "train@strings-sft", "average_merge"]  # baselines first, once
    searched = {"auto_merge"}  # the only row that depends on which trials the two workers ran
    ours, theirs = _results(run)["table"], _results(reference)["table"]
    assert {k: v for k, v in ours.items() if k not in searched} == {
        k: v for k, v in theirs.items() if k not in searched
    }


def _journal(path: Path) -> Any:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(path)))
