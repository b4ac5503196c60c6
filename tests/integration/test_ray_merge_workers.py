"""Merge-trial workers as Ray actors on one study: a worker killed mid-trial leaves the study whole."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import torch
from merge_toy import build_toy_problem

from evoforge.config import Config, MergeSettings
from evoforge.merging.job import MergeJob, run_job
from evoforge.merging.search import open_storage
from evoforge.runs import RunDir

TESTS = Path(__file__).resolve().parents[1]


def _kill_when_both_run(ray: object, storage: str, actor: str, killed: list[int], done: threading.Event) -> None:
    """Kill ``actor`` once two trials run at once (this process runs one at a time: the other is the actor's)."""
    import optuna

    while not done.is_set():
        try:
            study = optuna.load_study(study_name="merge", storage=open_storage(storage))
        except KeyError:  # not created yet
            time.sleep(0.2)
            continue
        running = [t.number for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
        if len(running) >= 2:
            ray.kill(ray.get_actor(actor))  # type: ignore[attr-defined]
            killed.extend(running)
            return
        time.sleep(0.1)


@pytest.mark.slow
def test_a_ray_worker_killed_mid_trial_leaves_the_study_whole(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="needs the ray extra")
    problem = build_toy_problem(tmp_path / "toy", n_deltas=2, steps=10)
    torch.save(problem.eval_ids, tmp_path / "eval.pt")
    run = RunDir.create(Config.model_validate({"run": {"runs_dir": str(tmp_path / "runs")}}), "merge", "m")
    storage = str(run.file("merge", "optuna.journal"))
    job = MergeJob(
        base=problem.base,
        adapters=problem.adapters,
        eval_path=tmp_path / "eval.pt",
        metric="token_accuracy",
        settings=MergeSettings(trials=60, workers=2, backend="ray"),
        storage=storage,
        runner="scale_toy:slow_toy_runner",
    )
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": str(TESTS)}})
    try:
        killed: list[int] = []
        done = threading.Event()
        actor = f"evoforge-merge:{run.path.resolve()}-1"
        killer = threading.Thread(target=_kill_when_both_run, args=(ray, storage, actor, killed, done))
        killer.start()
        try:
            results = run_job(job, run)
        finally:
            done.set()
            killer.join()
    finally:
        ray.shutdown()
    assert killed, "the worker never ran a trial beside this process"
    import optuna

    study = optuna.load_study(study_name="merge", storage=open_storage(storage))
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 60 == results["n_trials"]
    assert states.count(optuna.trial.TrialState.RUNNING) == 1  # the killed worker's trial, never counted
    assert [t.user_attrs["label"] for t in study.trials[:3]] == ["train@delta_1", "train@delta_2", "average_merge"]
    events = [json.loads(line) for line in (run.path / "events.jsonl").read_text().splitlines()]
    assert [e["workers"] for e in events if e["event"] == "merge_workers_lost"] == [1]

    job.settings = MergeSettings(trials=62)  # the study resumes in one process
    assert run_job(job, run)["n_trials"] == 62
