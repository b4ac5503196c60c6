"""End to end: a merge search over real (briefly trained) LoRA deltas on a tiny model, then resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from merge_toy import accuracy_objective, build_toy_problem, load_resident, one_torch_thread, train_delta

from evoforge.config import Config, MergeSettings
from evoforge.merging.job import MergeJob, run_job
from evoforge.runs import RunDir

_one_thread = pytest.fixture(autouse=True)(one_torch_thread)


def test_search_saves_the_best_merge_and_autollm_tables_then_resumes(tmp_path: Path) -> None:
    problem = build_toy_problem(tmp_path / "toy", n_deltas=3, steps=15)
    train_all = train_delta(problem.base, tmp_path / "toy" / "all", skill=3, steps=15)
    torch.save(problem.eval_ids, tmp_path / "eval.pt")
    settings = MergeSettings(trials=12, human_weights=[0.2, 0.6, 0.9], per_layer_groups=2)
    cfg = Config.model_validate({"run": {"runs_dir": str(tmp_path / "runs")}})
    run = RunDir.create(cfg, "merge", "m1")
    job = MergeJob(
        base=problem.base,
        adapters=problem.adapters,
        eval_path=tmp_path / "eval.pt",
        train_all=train_all,
        metric="token_accuracy",
        settings=settings,
        storage=str(run.file("merge", "optuna.journal")),
        runner="merge_toy:toy_runner",
    )
    results = run_job(job, run)

    table = results["table"]
    expected = {"raw", "train@all", "average_merge", "human_merge", "auto_merge"} | {
        f"train@{d}" for d in problem.adapters
    }
    assert set(table) == expected
    assert table["auto_merge"] == max(table[k] for k in expected - {"raw", "train@all"})
    assert table["auto_merge"] > table["raw"]
    assert results["n_trials"] == 12 and [r["label"] for r in results["trials"][:3]] == [
        f"train@{d}" for d in problem.adapters
    ]
    # the saved adapter is the best merge: it scores what the search measured
    merged = load_resident(problem.base, {"best": Path(results["best_adapter"])})
    assert abs(accuracy_objective(merged, problem.eval_ids)() - table["auto_merge"]) < 1e-6
    report = (run.path / "merge" / "report.md").read_text()
    assert "| auto_merge |" in report and "delta_1_weight" in report
    assert (run.path / "merge" / "history.png").stat().st_size > 1000
    assert "<!-- section:merge -->" in (run.path / "report.md").read_text()
    saved = json.loads((run.path / "merge" / "results.json").read_text())
    assert saved["best"] == results["best"]

    job.settings.trials = 14  # resume: only the missing trials run
    again = run_job(job, run)
    assert again["n_trials"] == 14 and again["table"]["raw"] == table["raw"]
