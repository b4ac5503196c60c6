"""OnLoop: a worker thread's event loop calls a gateway whose coroutines must run on the loop that owns it."""

from __future__ import annotations

import asyncio

from evoforge.llm.on_loop import OnLoop


class LoopBound:
    """Like a gateway: a lock that belongs to one loop, and a plain attribute."""

    def __init__(self) -> None:
        self.gate = asyncio.Semaphore(1)
        self.loops: list[asyncio.AbstractEventLoop] = []
        self.name = "bound"

    async def call(self, x: int) -> int:
        async with self.gate:
            self.loops.append(asyncio.get_running_loop())
            return x * 2


def test_calls_from_a_worker_thread_run_on_the_owning_loop() -> None:
    target = LoopBound()

    async def main() -> None:
        owner = asyncio.get_running_loop()
        await target.call(1)  # binds the semaphore to this loop
        proxy = OnLoop(target, owner)

        def worker() -> list[int]:
            async def many() -> list[int]:
                return list(await asyncio.gather(*(proxy.call(k) for k in range(5))))

            return asyncio.run(many())  # a loop of its own, as the judge metric runs in a worker thread

        assert await asyncio.to_thread(worker) == [0, 2, 4, 6, 8]
        assert set(target.loops) == {owner} and len(target.loops) == 6
        assert proxy.name == "bound"

    asyncio.run(main())
