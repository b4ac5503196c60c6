"""A round's table: its deltas trained, the merge weights searched on its held-out split, and every row of the
table (raw, train@all, each delta alone, the merges) scored on the fixed test set.

Plain blocking functions the cycle's nodes run in worker threads: each takes the run's config and directory and a
typed record of the round (:mod:`.round_record`), writes under ``rounds/<n>/`` and returns paths and figures; each
is idempotent (training and the merge study skip what is already done). A ``gateway`` grades for metric ``judge``
(the run's gateway, seen from the worker thread).
"""

from __future__ import annotations

import json
import threading
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from evoforge.cycle.pool import TEST_FILE
from evoforge.cycle.round_record import DeltaTask, RoundRecord, round_path, student_dir
from evoforge.database import database_ref
from evoforge.evals.harness import EvalReport
from evoforge.llm.cache import response_cache_path
from evoforge.llm.protocol import Gateway
from evoforge.merging.job import TRAIN_ALL, MergeJob, run_job, table_reports
from evoforge.merging.search import study_location
from evoforge.merging.trial import MergeSpec
from evoforge.processes import local_workers, shared_pool
from evoforge.runs import RunDir
from evoforge.settings import Config
from evoforge.training.deltas import ALL_CHUNK, train_planned
from evoforge.training.student import use_threads

_TRAINING = threading.Lock()  # train.workers 1: one delta at a time in this process (threads only contend)


def train_delta(config: Config, run_path: Path, task: DeltaTask) -> tuple[str, str, bool]:
    """Train (or reuse) one planned delta; returns (name, run-relative adapter dir, whether it is train@all). Locally
    ``train.workers`` train at once in the shared pool's processes (the same bits) or one at a time here."""
    use_threads(config.student)
    local = config.train.backend == "local"
    workers = local_workers(config.train.workers, config.student.device) if local else 1
    if workers > 1:
        return shared_pool(workers).call(train_delta_here, config, run_path, task)
    with _TRAINING if local else nullcontext():
        return train_delta_here(config, run_path, task)


def train_delta_here(config: Config, run_path: Path, task: DeltaTask) -> tuple[str, str, bool]:
    """:func:`train_delta` in this process."""
    use_threads(config.student)
    root = round_path(run_path, task.round_dir)
    result = train_planned(
        task.job,
        student_dir(run_path, task.student),
        root / "chunks",
        root / "adapters",
        config.train,
        eval_path=root / "eval.jsonl",
        seed=config.run.seed,
        device=config.student.device,
    )
    return result.name, str(result.adapter_path.relative_to(run_path)), task.job.chunk == ALL_CHUNK


def merge_job(config: Config, run_path: Path, record: RoundRecord, eval_path: Path, storage: str = "") -> MergeJob:
    """The merge job of a round: its deltas on its student, scored on ``eval_path`` (``storage``: the study's)."""
    return MergeJob(
        base=student_dir(run_path, record.student),
        adapters={name: run_path / path for name, path in record.deltas.items()},
        eval_path=eval_path,
        train_all=run_path / record.train_all if record.train_all else None,
        metric=config.eval.metric,
        llm=config.llm,
        llm_cache=response_cache_path(config.llm),
        batch_size=config.eval.batch_size,
        max_new_tokens=config.eval.max_new_tokens,
        max_batch_tokens=config.eval.max_batch_tokens,
        device=config.student.device,
        settings=config.merge,
        storage=storage,
        seed=config.run.seed,
    )


def merge_round(config: Config, run_path: Path, record: RoundRecord, gateway: Gateway | None = None) -> dict[str, Any]:
    """Search the merge weights on the round's held-out split (resumes from ``merge/optuna.db``)."""
    use_threads(config.student)
    root = round_path(run_path, record.round_dir)
    (root / "merge").mkdir(parents=True, exist_ok=True)
    where = (database_ref(config.run), root / "merge", config.merge.workers, f"{run_path.name}/{record.round_dir}")
    storage, study_name = study_location(*where)  # the run-state database, else SQLite (a journal for workers)
    job = merge_job(config, run_path, record, run_path / record.eval_path, storage)
    job.study_name = study_name
    results: dict[str, Any] = run_job(job, RunDir(root), gateway)
    return results


def evaluate_round(
    config: Config, run_path: Path, record: RoundRecord, gateway: Gateway | None = None
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Score every row of the round's table on the fixed test set; writes ``evals/test-<model>.json``."""
    use_threads(config.student)
    root = round_path(run_path, record.round_dir)
    test: dict[str, float] = {}
    per_category: dict[str, dict[str, float]] = {}
    job = merge_job(config, run_path, record, run_path / TEST_FILE)
    for label, report in score_rows(job, table_specs(config, record, root), gateway):
        report.save(test_report_path(root, label))
        test[label], per_category[label] = report.score, report.per_category
    return test, per_category


def table_specs(config: Config, record: RoundRecord, root: Path) -> dict[str, MergeSpec]:
    """The merge of every row of a round's table: raw, train@all, each delta alone, and the searched merges."""
    groups = config.merge.per_layer_groups
    specs = {"raw": MergeSpec({})}
    if record.train_all:
        specs[TRAIN_ALL] = MergeSpec({TRAIN_ALL: [1.0] * groups})
    specs.update({f"train@{name}": MergeSpec({name: [1.0] * groups}) for name in record.deltas})
    results = json.loads((root / "merge" / "results.json").read_text(encoding="utf-8"))
    specs.update({label: MergeSpec(**merge) for label, merge in results["merges"].items()})
    return specs


def score_rows(job: MergeJob, specs: dict[str, MergeSpec], gateway: Gateway | None) -> list[tuple[str, EvalReport]]:
    """Each spec's full evaluation report on ``job``'s eval set (one resident model per process; merge.workers of
    them)."""
    return list(zip(specs, table_reports(job, list(specs.values()), job.workers(), gateway), strict=True))


def test_report_path(root: Path, label: str) -> Path:
    """Where a round's test-set evaluation of the table row ``label`` is kept."""
    return root / "evals" / f"test-{label.replace('@', '_')}.json"
