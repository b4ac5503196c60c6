"""Scaling a cycle out, on real servers: run state in PostgreSQL (kill -9 mid-round, resume from a fresh process),
deltas as Ray tasks and merge workers as Ray actors on a local Ray cluster — each against one uninterrupted local
run of the same reduced cycle (SQLite in the run directory, one process); and on the same Ray cluster and tiny
student, a merge worker killed mid-trial, which leaves the study whole and resumable."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from postgres_cluster import postgres_url
from small_runs import EVOLVE_SIZES

from evoforge.testing.merge_toy import one_torch_thread
from evoforge.testing.tiny_models import build_lora_adapter, build_tiny_lm

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
DB_ENV = "EVOFORGE_TEST_RUN_DATABASE"  # the variable run.database_url_env names
KEY_ENV, KEY = "EVOFORGE_TEST_SIM_KEY", "sk-evoforge-scale-5d1e9b7c3a"
REDUCED = [
    "world.n_seeds=16",
    "world.categories=[arithmetic, strings]",
    *EVOLVE_SIZES,
    "world.n_eval=8",
    "train.epochs=1",
    "world.n_prefs=0",  # no DPO delta: this test is about where state lives, not about what trains
    "merge.human_weights=null",
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
    runs, rid = tmp_path / "runs", f"pg-{secrets.token_hex(3)}"  # a run id new to this database
    env = {DB_ENV: database, "EVOFORGE_LLM_CACHE_DIR": str(tmp_path / "unused-cache")}
    sets = _sets(student, f"run.database_url_env={DB_ENV}")
    proc = _cli("run", "--runs-dir", str(runs), "--run-id", rid, *sets, env=env, wait=False)
    run = runs / rid
    deadline = time.monotonic() + 600
    while "delta_trained" not in _events(run):  # mid-round: one delta trained, the others not yet
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "no delta was trained in time"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    out = proc.communicate()[0]
    assert json.loads((run / "manifest.json").read_text())["status"] == "running"

    done = _cli("resume", rid, "--runs-dir", str(runs), env=env)  # a fresh process: state from the database
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
    assert "checkpoint_blobs" in dump and "evoforge_llm_responses" in dump and f"{rid}/rounds/1" in dump
    assert password not in dump and KEY not in dump  # no checkpoint, study or cached answer holds a secret

    # the same run id started again, on a machine with its own run directory: refused, resume is the way on
    wide = {**env, "COLUMNS": "1000"}  # the message on one line
    elsewhere = _cli("run", "--runs-dir", str(tmp_path / "elsewhere"), "--run-id", rid, *sets, env=wide)
    said = elsewhere.stdout + elsewhere.stderr
    assert elsewhere.returncode == 2 and "already has state in the run-state database" in said, said[-2000:]
    assert f"evoforge resume {rid}" in said and str(run.resolve()) in said and password not in said
    assert not (tmp_path / "elsewhere" / rid).exists()

    # `evoforge merge` on the round's deltas keeps its study in the run-state database too
    adapters = [a for name in ("arithmetic-sft", "strings-sft") for a in ("-a", str(run / "rounds/1/adapters" / name))]
    merge_args = ["--eval", str(run / "rounds/1/eval.jsonl"), "--base", str(student), "--trials", "3"]
    db_set = ["--set", f"run.database_url_env={DB_ENV}", "--set", "eval.max_new_tokens=4"]
    merged = _cli("merge", *adapters, *merge_args, *db_set, "--runs-dir", str(runs), "--run-id", f"{rid}-m", env=env)
    assert merged.returncode == 0, (merged.stdout + merged.stderr)[-3000:]
    assert json.loads((runs / f"{rid}-m/merge/results.json").read_text())["n_trials"] == 3
    assert not [*(runs / f"{rid}-m").rglob("optuna.*")]
    import optuna

    from evoforge.merging.search import completed, open_storage

    assert len(completed(optuna.load_study(study_name=f"{rid}-m/merge", storage=open_storage(database)))) == 3


def _pg_dump(url: str) -> str:
    from postgres_cluster import _binary

    pg_dump = _binary("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump is not installed")
    done = subprocess.run([pg_dump, "--dbname", url], capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A local Ray cluster of two CPUs, started and stopped by this process (whose actors import test helpers)."""
    ray = pytest.importorskip("ray", reason="needs the ray extra")
    runtime_env = {"env_vars": {"PYTHONPATH": str(TESTS)}}  # for this process's jobs; the CLI's are their own
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", runtime_env=runtime_env)
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


def _kill_mid_trial(ray: Any, storage: Any, actor: str, killed: list[int], done: threading.Event) -> None:
    """Kill ``actor`` once two trials run at once (the worker's and the one this process holds until then), then
    let this process's trial go on."""
    import optuna
    import scale_toy

    while not done.is_set():
        try:
            study = optuna.load_study(study_name="merge", storage=storage)
        except KeyError:  # not created yet
            time.sleep(0.1)
            continue
        running = [t.number for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
        if len(running) >= 2:
            ray.kill(ray.get_actor(actor))
            killed.extend(running)
            scale_toy.KILLED.set()
            return
        time.sleep(0.1)


_one_thread = pytest.fixture(one_torch_thread)


@pytest.mark.slow
@pytest.mark.usefixtures("_one_thread")
def test_a_ray_merge_worker_killed_mid_trial_leaves_the_study_whole_and_resumable(
    student: Path, ray_address: str, tmp_path: Path
) -> None:
    import optuna
    import ray
    import scale_toy
    import torch

    from evoforge.merging.job import MergeJob, run_job
    from evoforge.runs import RunDir
    from evoforge.settings import Config, MergeSettings

    adapters = {f"delta_{i}": build_lora_adapter(student, tmp_path / f"delta_{i}", seed=i) for i in (1, 2)}
    ids = torch.randint(0, 64, (8, 16), generator=torch.Generator().manual_seed(0))
    torch.save(ids, tmp_path / "eval.pt")
    run = RunDir.create(Config.model_validate({"run": {"runs_dir": str(tmp_path / "runs")}}), "merge", "m")
    storage = str(run.file("merge", "optuna.journal"))
    job = MergeJob(
        base=student,
        adapters=adapters,
        eval_path=tmp_path / "eval.pt",
        metric="token_accuracy",
        settings=MergeSettings(trials=6, workers=2, backend="ray"),  # 3 baselines, then 3 searched
        storage=storage,
        runner="scale_toy:held_toy_runner",
    )
    scale_toy.KILLED.clear()
    killed: list[int] = []
    done = threading.Event()
    actor = f"evoforge-merge:{run.path.resolve()}-1"
    killer = threading.Thread(target=_kill_mid_trial, args=(ray, _journal(Path(storage)), actor, killed, done))
    killer.start()
    try:
        results = run_job(job, run)
    finally:
        done.set()
        killer.join()
    assert len(killed) == 2, "the worker never ran a trial beside this process"

    study = optuna.load_study(study_name="merge", storage=_journal(Path(storage)))
    states = {t.number: t.state for t in study.trials}
    assert [n for n, s in states.items() if s == optuna.trial.TrialState.RUNNING] == killed[1:]  # the worker's
    assert list(states.values()).count(optuna.trial.TrialState.COMPLETE) == 6 == results["n_trials"]
    assert [t.user_attrs["label"] for t in study.trials[:3]] == ["train@delta_1", "train@delta_2", "average_merge"]
    assert [t.state for t in study.trials[:3]] == [optuna.trial.TrialState.COMPLETE] * 3  # this process ran them
    events = [json.loads(line) for line in (run.path / "events.jsonl").read_text().splitlines()]
    assert [e["workers"] for e in events if e["event"] == "merge_workers_lost"] == [1]

    job.settings = MergeSettings(trials=7)  # the study resumes in one process
    assert run_job(job, run)["n_trials"] == 7
