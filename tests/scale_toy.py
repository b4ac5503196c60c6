"""A merge runner for killing a Ray merge worker mid-trial at a moment the test picks (``scale_toy:held_toy_runner``).

Inside a Ray actor (a merge worker) it holds every trial: the trial stays running until the actor is killed. In the
process that drives the search it scores the raw reference and the baselines at once (so the worker, which starts
seconds later, finds none of them left), then holds its first searched trial until the test sets :data:`KILLED`:
the worker is killed while both processes run a trial, and the search then finishes in the driving process.
"""

from __future__ import annotations

import threading
import time

from evoforge.merging.job import MergeJob
from evoforge.merging.trial import MergeSpec, TrialResult, TrialRunner
from evoforge.testing.merge_toy import toy_runner

KILLED = threading.Event()  # set by the test once it has killed the worker
HOLD_S = 120.0  # the longest a trial is held (a test that never kills gives up after this)
BEFORE_SEARCH = 4  # scores the driving process makes before its first searched trial: raw and two deltas' baselines


def _in_ray_actor() -> bool:
    import ray

    return ray.is_initialized() and ray.get_runtime_context().get_actor_id() is not None


class _Held:
    """A :class:`TrialRunner` that holds trials as the module docstring says."""

    def __init__(self, runner: TrialRunner, in_actor: bool) -> None:
        self.runner, self.deltas, self.in_actor, self.calls = runner, runner.deltas, in_actor, 0

    def score(self, spec: MergeSpec) -> TrialResult:
        """The toy score of ``spec``, once the trial is no longer held."""
        self.calls += 1
        if self.in_actor:
            time.sleep(HOLD_S)
        elif self.calls > BEFORE_SEARCH:
            KILLED.wait(HOLD_S)
        return self.runner.score(spec)


def held_toy_runner(job: MergeJob) -> _Held:
    """:func:`evoforge.testing.merge_toy.toy_runner` with held trials."""
    return _Held(toy_runner(job), _in_ray_actor())
