"""Local worker processes: the main job's fan-out over the cores of one machine.

A :class:`ProcessPool` starts up to ``size`` spawned processes, one at a time as calls need them, and any thread
may :meth:`ProcessPool.call` a picklable function in one of them, blocking until it returns: at most ``size`` calls
run at once, each in a process of its own, the others wait. The cycle's training branches (LangGraph ``Send``
branches in worker threads) share :func:`shared_pool`, which the merge search and the test-set evaluation then
reuse, so the imports (torch, transformers, TRL) are paid once per process and run.

No orphans: a worker exits on Ctrl-C (the terminal's process group gets it too), when its parent's end of the pipe
closes (the parent died, even by SIGKILL; a busy worker notices when it sends its answer) and at the parent's exit
(daemon processes). A worker's exception is raised in the caller; a worker that dies is an :class:`EvoforgeError`.

:func:`local_workers` picks the number of processes when the user leaves it to evoforge (``None``).
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from evoforge.errors import EvoforgeError

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

T = TypeVar("T")


def cpu_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells it)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def local_workers(explicit: int | None, device: str, tasks: int | None = None) -> int:
    """Processes to run ``tasks`` (None: any number) side by side on this machine: ``explicit`` when the user set
    it, else 1 on a GPU (one device, one process), else as many as the cores hold processes of the torch threads
    this process runs with (set them first: :func:`evoforge.training.student.use_threads`)."""
    if explicit is not None:
        return explicit
    import torch

    if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
        return 1
    fit = max(1, cpu_cores() // torch.get_num_threads())
    return max(1, min(fit, tasks)) if tasks is not None else fit


def _print_as(level: int, width: int) -> None:
    """Print as the caller does (``-q`` / ``-v``), but no live display: a progress bar is printed once finished,
    so that the processes sharing a terminal do not redraw over each other."""
    from rich.console import Console

    from evoforge import console as out

    out.set_verbosity(level)
    if out.console.is_terminal or out.console.width != width:
        out.console = Console(stderr=True, force_terminal=False, width=width)


def _serve(conn: Connection) -> None:
    """A worker's loop: call what arrives, send back (ok, result or exception); stop on None, EOF or Ctrl-C."""
    try:
        while (message := conn.recv()) is not None:
            fn, args, kwargs, output = message
            _print_as(*output)
            try:
                reply: tuple[bool, Any] = (True, fn(*args, **kwargs))
            except Exception as exc:
                reply = (False, exc)
            try:
                conn.send(reply)
            except (BrokenPipeError, EOFError):
                return
            except Exception as exc:  # an answer or exception that does not pickle
                conn.send((False, EvoforgeError(f"a worker process's answer could not be sent back: {exc!r}")))
    except (EOFError, KeyboardInterrupt):
        return


def _output() -> tuple[int, int]:
    """This process's verbosity and console width, for :func:`_print_as`."""
    from evoforge import console as out

    return out.verbosity(), out.console.width


@dataclass
class _Worker:
    rank: int
    process: BaseProcess
    conn: Connection


class ProcessPool:
    """Up to ``size`` spawned worker processes shared by threads (see the module's docstring)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._workers: list[_Worker] = []
        self._idle: list[_Worker] = []
        self._busy = 0
        self._ranks = 0
        self._cond = threading.Condition()

    def resize(self, size: int) -> None:
        """Allow up to ``size`` calls at once from now on (workers already started stay)."""
        with self._cond:
            self.size = size
            self._cond.notify_all()

    def _take(self) -> _Worker:
        with self._cond:
            while self._busy >= self.size:
                self._cond.wait()
            self._busy += 1
            if self._idle:  # the lowest rank first: the same work lands on the same process run after run
                self._idle.sort(key=lambda w: w.rank)
                return self._idle.pop(0)
            self._ranks += 1
            rank = self._ranks
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_serve, args=(child,), name=f"evoforge-worker-{rank}", daemon=True)
        try:
            process.start()
        except BaseException:
            with self._cond:
                self._busy -= 1
                self._cond.notify()
            raise
        child.close()
        worker = _Worker(rank, process, parent)
        with self._cond:
            self._workers.append(worker)
        return worker

    def _give_back(self, worker: _Worker, alive: bool) -> None:
        if not alive and worker.process.is_alive():  # e.g. a call that did not pickle: its worker goes too
            worker.process.terminate()
        with self._cond:
            self._busy -= 1
            if alive:
                self._idle.append(worker)
            else:
                self._workers.remove(worker)
            self._cond.notify()

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in a worker process (waiting for a free one); its result, or its exception."""
        return self._exchange(self._take(), fn, args, kwargs)

    def each(self, fn: Callable[[], T]) -> dict[int, T]:
        """``fn()`` in every started worker process that is idle now, by rank (between phases: all of them)."""
        with self._cond:
            idle, self._idle = sorted(self._idle, key=lambda w: w.rank), []
            self._busy += len(idle)
        out: dict[int, T] = {}
        for i, worker in enumerate(idle):
            try:
                out[worker.rank] = self._exchange(worker, fn, (), {})
            except BaseException:
                for rest in idle[i + 1 :]:  # taken above but not asked: free again
                    self._give_back(rest, alive=True)
                raise
        return out

    def _exchange(self, worker: _Worker, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        """``fn`` run by ``worker`` (taken for this call, given back after it): its result, or its exception; a
        worker that dies is an :class:`EvoforgeError`."""
        alive = False
        try:
            worker.conn.send((fn, args, kwargs, _output()))
            ok, value = worker.conn.recv()
            alive = True
        except (EOFError, OSError):
            worker.process.join(5)
            raise EvoforgeError(
                f"worker process {worker.rank} died (exit code {worker.process.exitcode}); the run can be resumed"
            ) from None
        finally:
            self._give_back(worker, alive)
        if not ok:
            raise value
        result: T = value
        return result

    def close(self) -> None:
        """Stop every worker process (those that do not stop within seconds are terminated)."""
        with self._cond:
            workers, self._workers, self._idle = self._workers, [], []
        for worker in workers:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        for worker in workers:
            worker.process.join(5)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join()
            worker.conn.close()


_SHARED: ProcessPool | None = None
_SHARED_LOCK = threading.Lock()


def shared_pool(size: int) -> ProcessPool:
    """This process's pool, allowing ``size`` calls at once from now on (created on first use, closed at exit)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = ProcessPool(size)
            atexit.register(_SHARED.close)
        else:
            _SHARED.resize(size)
        return _SHARED


def each_worker(fn: Callable[[], T]) -> dict[int, T]:
    """``fn()`` in every idle process of :func:`shared_pool`, by rank; nothing when it was never started."""
    with _SHARED_LOCK:
        pool = _SHARED
    return pool.each(fn) if pool is not None else {}
