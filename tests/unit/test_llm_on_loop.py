"""OnLoop: a worker thread's event loop calls a gateway whose coroutines must run on the loop that owns it."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel

from evoforge.llm.on_loop import OnLoop


class Answer(BaseModel):
    text: str


class LoopBound:
    """Like a gateway: a lock that belongs to one loop, coroutine calls and plain ones."""

    def __init__(self) -> None:
        self.gate = asyncio.Semaphore(1)
        self.loops: list[asyncio.AbstractEventLoop] = []
        self.added: list[dict[str, Any]] = []

    async def complete(self, role: str, messages: list[dict[str, str]], *, sample: int = 0, **overrides: Any) -> str:
        async with self.gate:
            self.loops.append(asyncio.get_running_loop())
            return f"{role}:{messages[0]['content']}:{sample}:{overrides.get('temperature')}"

    async def structured(
        self, role: str, messages: list[dict[str, str]], schema: type[Answer], *, sample: int = 0, **overrides: Any
    ) -> Answer:
        return schema(text=await self.complete(role, messages, sample=sample, **overrides))

    def usage(self) -> dict[str, Any]:
        return {"total": {"calls": len(self.loops)}}

    def add_usage(self, usage: dict[str, Any]) -> None:
        self.added.append(usage)


def test_calls_from_a_worker_thread_run_on_the_owning_loop() -> None:
    target = LoopBound()

    async def main() -> None:
        owner = asyncio.get_running_loop()
        await target.complete("judge", [{"role": "user", "content": "warm"}])  # binds the semaphore to this loop
        proxy = OnLoop(target, owner)

        def worker() -> list[str]:
            async def many() -> list[str]:
                asked = [proxy.complete("judge", [{"role": "user", "content": str(k)}], sample=k) for k in range(4)]
                parsed = proxy.structured("judge", [{"role": "user", "content": "x"}], Answer, temperature=0.5)
                return [*await asyncio.gather(*asked), (await parsed).text]

            return asyncio.run(many())  # a loop of its own, as the judge metric runs in a worker thread

        assert await asyncio.to_thread(worker) == [*(f"judge:{k}:{k}:None" for k in range(4)), "judge:x:0:0.5"]
        assert set(target.loops) == {owner} and len(target.loops) == 6
        proxy.add_usage({"total": {"calls": 1}})
        assert proxy.usage() == {"total": {"calls": 6}} and target.added == [{"total": {"calls": 1}}]

    asyncio.run(main())
