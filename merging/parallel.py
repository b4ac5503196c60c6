"""Merges scored side by side in local worker processes: the merge search's trials and the table's rows.

With ``k`` local workers (``merge.workers``; None = :func:`evoforge.processes.local_workers`) this process scores
the first of every ``k`` merges and the shared worker processes (:func:`evoforge.processes.shared_pool`) the
other ``k - 1`` at the same time; the results come back in the merges' order. The merge search asks its study for
``k`` trials at once and tells all ``k`` once they are scored (:func:`evoforge.merging.search.optimize`), so which
trials it runs depends on the seed and on ``k``, never on which process finishes first.

What a worker process runs (the job's resident runner, built on its first merge and kept until the search ends)
is in :mod:`.job`; the judge usage of worker processes and Ray actors is counted here (:func:`count_judge_usage`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from evoforge.console import ProgressHandle, progress
from evoforge.llm.usage import UsageLedger
from evoforge.processes import shared_pool

if TYPE_CHECKING:
    from evoforge.llm.protocol import Gateway
    from evoforge.merging.trial import MergeSpec, TrialResult, TrialRunner
    from evoforge.runs import RunDir

T = TypeVar("T")
USAGE_FILES = "llm-usage-*.json"  # one per worker process with a judge (rank for *)
Remote = Callable[[str, int, "MergeSpec"], T]


def side_by_side(
    here: Callable[[MergeSpec], T],
    remote: Remote[T],
    job_json: str,
    specs: Sequence[MergeSpec],
    workers: int,
    shown: bool = True,
) -> list[T]:
    """``here(spec)`` for the first of every ``workers`` specs, ``remote(job_json, threads, spec)`` in the worker
    processes for the others (on this process's torch threads: the same scores bit for bit), each group at once;
    the results in the order of ``specs``, with a progress bar unless not ``shown`` (trials have the search's)."""
    if not shown:
        return _groups(here, remote, job_json, specs, workers, ProgressHandle(None, None))
    with progress(f"score {len(specs)} model(s)", len(specs)) as bar:
        return _groups(here, remote, job_json, specs, workers, bar)


def _groups(
    here: Callable[[MergeSpec], T],
    remote: Remote[T],
    job_json: str,
    specs: Sequence[MergeSpec],
    workers: int,
    bar: ProgressHandle,
) -> list[T]:
    import torch

    out: list[T] = []
    if workers <= 1 or len(specs) <= 1:
        for spec in specs:
            out.append(here(spec))
            bar.advance()
        return out
    pool, threads = shared_pool(workers - 1), torch.get_num_threads()
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
    rest with ``remote`` (a job's runner) in the worker processes."""

    def __init__(self, job_json: str, runner: TrialRunner, workers: int, remote: Remote[TrialResult]) -> None:
        self.job_json, self.runner, self.workers, self.remote = job_json, runner, workers, remote

    def score(self, spec: MergeSpec) -> TrialResult:
        """Score ``spec`` here."""
        return self.runner.score(spec)

    def score_many(self, specs: Sequence[MergeSpec]) -> list[TrialResult]:
        """Score ``specs`` side by side; the results in their order."""
        return side_by_side(self.runner.score, self.remote, self.job_json, specs, self.workers, shown=False)


def count_judge_usage(run: RunDir, judge: Gateway, recorded: bool) -> None:
    """Count the worker processes' judge usage (their ``merge/llm-usage-<rank>.json``, removed once counted) into
    ``judge``, this process's judge gateway. A ``recorded`` one (the run's own gateway) writes it into the manifest
    when it closes; otherwise (the job's own gateway, outside any run) the manifest's ``llm_usage`` gets it now."""
    workers = UsageLedger()
    files = sorted((run.path / "merge").glob(USAGE_FILES))
    for path in files:
        workers.add(json.loads(path.read_text()))
    judge.add_usage(workers.as_dict())
    for path in files:
        path.unlink()
    if files:
        run.event("merge_workers_llm_usage", workers=len(files), **workers.total().as_dict())
    if not recorded:
        ledger = UsageLedger()
        ledger.load(run.manifest().get("llm_usage") or {})
        ledger.add(judge.usage())
        run.update_manifest(llm_usage=ledger.as_dict())
