"""A merge runner that takes its time (``scale_toy:slow_toy_runner``), so that a test can kill a worker mid-trial."""

from __future__ import annotations

import time

from merge_toy import toy_runner

from evoforge.merging.job import MergeJob
from evoforge.merging.trial import MergeSpec, TrialResult, TrialRunner

TRIAL_S = 0.5


class _Slow:
    """A :class:`TrialRunner` whose every score takes at least :data:`TRIAL_S` seconds."""

    def __init__(self, runner: TrialRunner) -> None:
        self.runner, self.deltas = runner, runner.deltas

    def score(self, spec: MergeSpec) -> TrialResult:
        """The toy score of ``spec``, after the wait."""
        time.sleep(TRIAL_S)
        return self.runner.score(spec)


def slow_toy_runner(job: MergeJob) -> _Slow:
    """:func:`merge_toy.toy_runner` with slow trials."""
    return _Slow(toy_runner(job))
