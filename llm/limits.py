"""Per-model concurrency (a semaphore) and request-rate (evenly spaced starts) limits."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ModelLimits:
    """Limits the calls to each named model: at most ``max_parallel`` in flight, at most ``rpm`` starts a minute.

    Semaphores are kept per event loop, so one gateway can serve several ``asyncio.run`` calls in turn.
    """

    def __init__(self) -> None:
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = (
            weakref.WeakKeyDictionary()
        )
        self._next_start: dict[str, float] = {}

    def _semaphore(self, name: str, max_parallel: int) -> asyncio.Semaphore:
        per_loop = self._semaphores.setdefault(asyncio.get_running_loop(), {})
        if name not in per_loop:
            per_loop[name] = asyncio.Semaphore(max_parallel)
        return per_loop[name]

    async def _pace(self, name: str, rpm: int | None) -> None:
        """Wait for this request's start slot: starts are spaced ``60 / rpm`` seconds apart."""
        if rpm is None:
            return
        now = time.monotonic()
        start = max(now, self._next_start.get(name, now))
        self._next_start[name] = start + 60.0 / rpm
        if start > now:
            await asyncio.sleep(start - now)

    @asynccontextmanager
    async def slot(self, name: str, max_parallel: int, rpm: int | None) -> AsyncIterator[None]:
        """Hold one of model ``name``'s concurrency slots, started no sooner than its rate allows."""
        async with self._semaphore(name, max_parallel):
            await self._pace(name, rpm)
            yield

    def close(self) -> None:
        """Nothing to release (the limits live in this process)."""


class SingleFlight:
    """One lock per key while someone holds or waits for it: identical concurrent requests run one at a time,
    so the second finds the first's answer in the cache instead of paying for it again."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold the lock of ``key`` (created on demand, dropped when nobody needs it)."""
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
