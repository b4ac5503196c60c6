"""Merges scored side by side in local worker processes: the merge search's trials and the table's rows.

With ``k`` local workers (``merge.workers``; None = :func:`evoforge.processes.local_workers`) this process scores
the first of every ``k`` merges and the shared worker processes (:func:`evoforge.processes.shared_pool`) the
other ``k - 1`` at the same time; the results come back in the merges' order. The merge search asks its study for
``k`` trials at once and tells all ``k`` once they are scored (:func:`evoforge.merging.search.optimize`), so which
trials it runs depends on the seed and on ``k``, never on which process finishes first.

Each worker process builds the job's runner (its resident model; for metric ``judge`` its own gateway on the shared
response cache) on its first merge and keeps it until :func:`release_workers`, which hands back the judge usage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from evoforge.console import ProgressHandle, progress
from evoforge.processes import each_worker, shared_pool

if TYPE_CHECKING:
    from evoforge.evals.harness import EvalReport
    from evoforge.llm.gateway import LLMGateway
    from evoforge.merging.job import MergeJob
    from evoforge.merging.trial import MergeSpec, TrialResult, TrialRunner

T = TypeVar("T")
_RESIDENT: dict[str, Any] = {}  # in a worker process: the job it serves, its runner, reports and judge gateway


def _resident(job_json: str, threads: int, reports: bool) -> dict[str, Any]:
    """This worker's runner of ``job_json`` (built on first use; ``reports``: the default runner, keeping each
    score's full report), on ``threads`` torch threads (the main process's: the same scores bit for bit)."""
    key = (job_json, reports)
    if _RESIDENT.get("key") != key:
        import torch

        from evoforge.merging.job import MergeJob, generator_runner

        release()
        torch.set_num_threads(threads)
        job = MergeJob.model_validate_json(job_json)
        gateway = job.judge_gateway() if job.metric == "judge" else None
        kept: list[EvalReport] = []
        runner = generator_runner(job, kept, gateway) if reports else job.build_runner(gateway)
        _RESIDENT.update(key=key, runner=runner, reports=kept, gateway=gateway)
    return _RESIDENT


def trial_in_worker(job_json: str, threads: int, spec: MergeSpec) -> TrialResult:
    """In a worker process: score ``spec`` with the job's runner."""
    result: TrialResult = _resident(job_json, threads, reports=False)["runner"].score(spec)
    return result


def report_in_worker(job_json: str, threads: int, spec: MergeSpec) -> EvalReport:
    """In a worker process: the full evaluation report of ``spec`` (the default runner)."""
    resident = _resident(job_json, threads, reports=True)
    resident["runner"].score(spec)
    report: EvalReport = resident["reports"][-1]
    return report


def release() -> dict[str, Any] | None:
    """In a worker process: drop the resident runner (its model); returns its judge's LLM usage, if it had one."""
    gateway = _RESIDENT.get("gateway")
    _RESIDENT.clear()
    return gateway.usage() if gateway is not None else None


def release_workers() -> dict[int, dict[str, Any]]:
    """Free every worker process's resident model; returns the judge usage of those that had a judge, by rank."""
    usage = each_worker(release)
    return {rank: u for rank, u in usage.items() if u is not None}


def side_by_side(
    here: Callable[[MergeSpec], T],
    remote: Callable[[str, int, MergeSpec], T],
    job: MergeJob,
    specs: Sequence[MergeSpec],
    workers: int,
    bar: ProgressHandle | None = None,
) -> list[T]:
    """``here(spec)`` for the first of every ``workers`` specs, ``remote(job, threads, spec)`` in the worker
    processes for the others, each group at once; the results in the order of ``specs`` (``bar`` advances by each
    group)."""
    import torch

    bar = bar or ProgressHandle(None, None)
    out: list[T] = []
    if workers <= 1 or len(specs) <= 1:
        for spec in specs:
            out.append(here(spec))
            bar.advance()
        return out
    pool, job_json, threads = shared_pool(workers - 1), job.model_dump_json(), torch.get_num_threads()
    with ThreadPoolExecutor(workers - 1, thread_name_prefix="evoforge-remote") as calls:
        for start in range(0, len(specs), workers):
            group = specs[start : start + workers]
            futures = [calls.submit(pool.call, remote, job_json, threads, spec) for spec in group[1:]]
            out.append(here(group[0]))
            out += [future.result() for future in futures]
            bar.advance(len(group))
    return out


class PooledScorer:
    """A :class:`~evoforge.merging.search.Scorer` that scores ``workers`` merges at once: ``runner`` here, the
    rest in the worker processes."""

    def __init__(self, job: MergeJob, runner: TrialRunner, workers: int) -> None:
        self.job, self.runner, self.workers = job, runner, workers

    def score(self, spec: MergeSpec) -> TrialResult:
        """Score ``spec`` here."""
        return self.runner.score(spec)

    def score_many(self, specs: Sequence[MergeSpec]) -> list[TrialResult]:
        """Score ``specs`` side by side; the results in their order."""
        return side_by_side(self.runner.score, trial_in_worker, self.job, specs, self.workers)


def table_reports(
    job: MergeJob, specs: Sequence[MergeSpec], workers: int, gateway: LLMGateway | None = None
) -> list[EvalReport]:
    """Each spec's full evaluation report with the default runner (one resident model per process), ``workers``
    at a time; a judge (``gateway``) grades here only, so that its usage stays in the run's gateway."""
    from evoforge.merging.job import generator_runner

    reports: list[EvalReport] = []
    runner = generator_runner(job, reports, gateway)

    def here(spec: MergeSpec) -> EvalReport:
        runner.score(spec)
        return reports[-1]

    with progress(f"score {len(specs)} model(s) on {job.eval_path.name}", len(specs)) as bar:
        return side_by_side(here, report_in_worker, job, specs, 1 if job.metric == "judge" else workers, bar)
