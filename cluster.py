"""Ray, the engine behind ``train.backend: ray`` and ``merge.backend: ray`` (the ``ray`` extra).

evoforge schedules nothing itself: a delta to train is a Ray task and a merge-trial worker a Ray actor, each
declaring the CPUs and GPUs it needs, and Ray places them on the cluster. :func:`ray_module` connects this process
once, the way ``ray.init()`` does: to ``$RAY_ADDRESS`` (``ray start --head`` prints it), else to the cluster last
started on this machine, else to a new local one; a process may also call ``ray.init(...)`` itself first (tests:
``ray.init(num_cpus=2)``). Workers read inputs and write outputs by path, so every node must see the run directory
at the same path (a shared filesystem), and environment variables that hold secrets (API keys, the database URL)
must be set where ``ray start`` runs: nothing secret is sent through Ray.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from evoforge.errors import import_extra

R = TypeVar("R")
_CONNECTING = threading.Lock()
FEATURE = "the ray backend (train.backend / merge.backend: ray)"


def ray_module() -> Any:
    """The ``ray`` module, connected to a cluster (see the module docstring); a clear error without the extra."""
    ray: Any = import_extra("ray", "ray", FEATURE)
    with _CONNECTING:  # the cycle's training branches reach here from several threads at once
        if not ray.is_initialized():
            ray.init(address=os.environ.get("RAY_ADDRESS") or None, logging_level="WARNING", log_to_driver=False)
    return ray


def gpus_per_task(requested: float | None) -> float:
    """The GPUs a task claims: ``requested``, or (None) one when the cluster has GPUs, else none."""
    if requested is not None:
        return requested
    return 1.0 if ray_module().cluster_resources().get("GPU", 0) > 0 else 0.0


def run_task(fn: Callable[..., R], *args: Any, num_cpus: float, num_gpus: float, **kwargs: Any) -> R:
    """Run ``fn(*args, **kwargs)`` as one Ray task with these resources and wait for its result.

    ``fn`` must be importable by name on the workers (a module-level function of evoforge); its errors are raised
    here as they were raised there.
    """
    ray = ray_module()
    task = ray.remote(fn).options(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=0)
    try:
        result: R = ray.get(task.remote(*args, **kwargs))
        return result
    except ray.exceptions.RayTaskError as exc:
        raise exc.as_instanceof_cause() from None


class _Worker:
    """A Ray actor that runs one function call (``ray.remote`` of this class; a worker holds its own state)."""

    def run(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` in the actor's process."""
        fn(*args)


def start_actors(
    fn: Callable[..., Any], calls: list[tuple[Any, ...]], *, num_cpus: float, num_gpus: float, name: str
) -> list[tuple[Any, Any]]:
    """Start one actor per argument tuple of ``calls``, each running ``fn(*args)``; returns (actor, result ref)
    pairs for :func:`join_actors`. Actors are named ``<name>-<i>`` (``ray.get_actor`` finds them)."""
    ray = ray_module()
    actor_class = ray.remote(_Worker)
    started = []
    for i, args in enumerate(calls, start=1):
        options = {"num_cpus": num_cpus, "num_gpus": num_gpus, "max_restarts": 0, "name": f"{name}-{i}"}
        actor = actor_class.options(**options).remote()
        started.append((actor, actor.run.remote(fn, *args)))
    return started


def join_actors(started: list[tuple[Any, Any]]) -> list[str]:
    """Wait for the actors of :func:`start_actors` to finish and end them; returns the failures (one line each:
    an actor that died, or the error its call raised)."""
    ray = ray_module()
    failures = []
    for actor, ref in started:
        try:
            ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            failures.append(f"worker died ({type(exc).__name__})")
        except ray.exceptions.RayTaskError as exc:
            failures.append(str(exc.cause) if exc.cause is not None else type(exc).__name__)
        finally:
            ray.kill(actor)
    return failures
