"""A gateway used from a worker thread: its coroutines run on the event loop that owns the gateway.

The cycle's heavy steps (the merge search, the table's evaluation) run in worker threads, and the judge metric
grades there in an event loop of its own. A gateway's limits, in-flight joins and cache belong to the loop it was
first used on, so the worker cannot call it directly; :class:`OnLoop` forwards each coroutine call to that loop
and waits for it. The run's one gateway then grades too: its cache, limits, budget and usage table include the
judge's calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from evoforge.llm.protocol import Gateway, Messages

if TYPE_CHECKING:
    from evoforge.llm.batch import BatchDesk
    from evoforge.llm.langchain import GatewayChatModel
    from evoforge.settings import LLMSettings

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class OnLoop:
    """``target`` (a :class:`~evoforge.llm.protocol.Gateway`) seen from another thread's event loop.

    Its coroutine methods are scheduled on ``loop`` (which must keep running, e.g. while the caller waits in
    ``asyncio.to_thread``); the rest are ``target``'s own.
    """

    def __init__(self, target: Gateway, loop: asyncio.AbstractEventLoop) -> None:
        self._target = target
        self._loop = loop

    async def _on_loop(self, call: Coroutine[Any, Any, T]) -> T:
        """Run ``call`` on the owning loop and wait for it from this one."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call, self._loop))

    @property
    def settings(self) -> LLMSettings:
        """The target's ``llm`` settings."""
        return self._target.settings

    @property
    def batches(self) -> BatchDesk:
        """The target's batch desk."""
        return self._target.batches

    async def complete(self, role: str, messages: Messages, *, sample: int = 0, **overrides: Any) -> str:
        """The target's :meth:`~evoforge.llm.protocol.Gateway.complete`, on its loop."""
        return await self._on_loop(self._target.complete(role, messages, sample=sample, **overrides))

    async def structured(
        self, role: str, messages: Messages, schema: type[M], *, sample: int = 0, **overrides: Any
    ) -> M:
        """The target's :meth:`~evoforge.llm.protocol.Gateway.structured`, on its loop."""
        return await self._on_loop(self._target.structured(role, messages, schema, sample=sample, **overrides))

    def chat_model(self, role: str) -> GatewayChatModel:
        """The target's LangChain view of ``role``."""
        return self._target.chat_model(role)

    def usage(self) -> dict[str, Any]:
        """The target's usage figures."""
        return self._target.usage()

    def add_usage(self, usage: dict[str, Any]) -> None:
        """Count ``usage`` as the target's."""
        self._target.add_usage(usage)

    def close(self) -> None:
        """Close the target."""
        self._target.close()

    async def aclose(self) -> None:
        """The target's :meth:`~evoforge.llm.protocol.Gateway.aclose`, on its loop."""
        await self._on_loop(self._target.aclose())
