"""A gateway used from a worker thread: its coroutines run on the event loop that owns the gateway.

The cycle's heavy steps (the merge search, the table's evaluation) run in worker threads, and the judge metric
grades there in an event loop of its own. A gateway's limits, in-flight joins and cache belong to the loop it was
first used on, so the worker cannot call it directly; :class:`OnLoop` forwards each coroutine call to that loop
and waits for it. The run's one gateway then grades too: its cache, limits, budget and usage table include the
judge's calls.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any


class OnLoop:
    """``target`` (e.g. an :class:`~evoforge.llm.gateway.LLMGateway`) seen from another thread's event loop.

    Coroutine methods are scheduled on ``loop`` (which must keep running, e.g. while the caller waits in
    ``asyncio.to_thread``); other attributes are ``target``'s own.
    """

    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._target = target
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not inspect.iscoroutinefunction(attr):
            return attr
        return self._forward(attr)

    def _forward(self, method: Callable[..., Any]) -> Callable[..., Any]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            future = asyncio.run_coroutine_threadsafe(method(*args, **kwargs), self._loop)
            return await asyncio.wrap_future(future)

        return call
