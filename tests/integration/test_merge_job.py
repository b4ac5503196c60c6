"""End to end: a merge search over real (briefly trained) LoRA deltas on a tiny model, then resume; the default
runner's metrics (the LLM judge through the simulated LLM, a user scorer) on a tiny random LM."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from evoforge.errors import ConfigError
from evoforge.evals.harness import EvalReport
from evoforge.llm.cache import ResponseCache
from evoforge.llm.gateway import LLMGateway
from evoforge.merging.job import MergeJob, generator_runner, run_job, worker
from evoforge.merging.trial import MergeSpec
from evoforge.offline.world import eval_records
from evoforge.runs import RunDir
from evoforge.settings import Config, LLMSettings, MergeSettings
from evoforge.testing.merge_toy import (
    accuracy_objective,
    build_toy_problem,
    load_resident,
    one_torch_thread,
    train_delta,
)
from evoforge.testing.tiny_models import build_lora_adapter, build_tiny_lm

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
        runner="evoforge.testing.merge_toy:toy_runner",
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


@pytest.fixture(scope="module")
def lm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny random LM with its tokenizer, one LoRA delta, and a skills-world test set of 3 items."""
    root = tmp_path_factory.mktemp("runner")
    model = build_tiny_lm(root / "model")
    data = root / "test.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in eval_records(3, seed=1)))
    return {"model": model, "delta": build_lora_adapter(model, root / "d1", seed=1), "data": data}


def _job(lm: dict[str, Path], metric: str, **fields: Any) -> MergeJob:
    adapters = {"d1": lm["delta"]}
    fields = {"storage": "", "eval_path": lm["data"], **fields}
    return MergeJob(base=lm["model"], adapters=adapters, metric=metric, device="cpu", **fields)


def test_the_judge_scores_every_table_row_into_reports_and_repeats_are_free(
    lm: dict[str, Path], tmp_path: Path
) -> None:
    gateway = LLMGateway(LLMSettings(), cache_path=tmp_path / "responses.sqlite")
    reports: list[EvalReport] = []
    runner = generator_runner(_job(lm, "judge", llm=LLMSettings()), reports, gateway)
    raw = runner.score(MergeSpec({}))
    first = gateway.usage()["total"]
    again = runner.score(MergeSpec({}))
    second = gateway.usage()["total"]
    assert len(reports) == 2 and all(isinstance(r, EvalReport) and r.metric == "judge" for r in reports)
    report = reports[-1]
    assert [e["prompt"] for e in report.per_example] == [r["prompt"] for r in eval_records(3, seed=1)]
    assert all(e["score"] == float(e["grade"] >= 7) and e["reason"] for e in report.per_example)
    assert raw.score == again.score == pytest.approx(sum(e["score"] for e in report.per_example) / 3)
    assert set(report.per_category) == {e["category"] for e in report.per_example}
    assert first["calls"] == 3 and second["calls"] == 3  # the second scoring made no new LLM call
    assert second["cache_hits"] == first["cache_hits"] + 3


def test_the_judge_of_a_merge_job_uses_the_shared_response_cache(lm: dict[str, Path], llm_cache_dir: Path) -> None:
    job = _job(lm, "judge", llm=LLMSettings())
    generator_runner(job).score(MergeSpec({}))
    shared = ResponseCache(llm_cache_dir / "responses.sqlite")  # the conftest's shared cache of this test
    assert len(shared) == 3
    generator_runner(job).score(MergeSpec({}))  # another runner (a worker, a later trial): same answers, same grades
    assert len(shared) == 3
    shared.close()


def test_the_judge_usage_of_a_worker_process_reaches_the_manifest(
    lm: dict[str, Path], tmp_path: Path, llm_cache_dir: Path
) -> None:
    cfg = Config.model_validate({"run": {"runs_dir": str(tmp_path / "runs")}})
    run = RunDir.create(cfg, "merge", "judged")
    storage = str(run.file("merge", "optuna.journal"))
    job = _job(lm, "judge", llm=LLMSettings(), settings=MergeSettings(trials=4), storage=storage)
    usage_file = run.file("merge", "llm-usage-1.json")
    worker(job.model_dump_json(), 1, 1, str(usage_file))  # what a worker process runs: it takes all 4 trials
    assert usage_file.is_file()
    results = run_job(job, run)  # the main process: the raw reference, no trial left, then the count
    assert results["n_trials"] == 4
    judged = json.loads((run.path / "manifest.json").read_text())["llm_usage"]["roles"]["judge"]
    assert judged["calls"] + judged["cache_hits"] == 3 * (4 + 1)  # 3 test items per scoring, in either process
    events = [json.loads(line) for line in (run.path / "events.jsonl").read_text().splitlines()]
    [counted] = [e for e in events if e["event"] == "merge_workers_llm_usage"]
    assert counted["workers"] == 1 and counted["calls"] + counted["cache_hits"] == 3 * 4
    assert not usage_file.exists()  # counted once, then removed


def test_a_user_scorer_scores_merges_and_bad_metrics_fail_before_loading(
    lm: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "team_scores.py").write_text("def chars(prediction, reference):\n    return len(prediction) / 100\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reports: list[EvalReport] = []
    result = generator_runner(_job(lm, "team_scores:chars"), reports).score(MergeSpec({"d1": [0.5]}))
    assert reports[0].metric == "team_scores:chars"
    assert result.score == pytest.approx(sum(len(e["prediction"]) / 100 for e in reports[0].per_example) / 3)
    with pytest.raises(ConfigError, match="metric 'team_scores:nope'"):
        generator_runner(_job(lm, "team_scores:nope"))
    with pytest.raises(ConfigError, match="metric 'judge' needs the llm settings"):
        generator_runner(_job(lm, "judge"))
