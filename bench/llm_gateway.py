"""Per-call overhead of the LLM gateway over a bare ``litellm.acompletion``, and the speed of cache hits.

An in-process LiteLLM custom provider answers at once, so the times are pure client-side overhead. Rows: the bare
LiteLLM call (baseline), the gateway with the cache off, the gateway paying and filling the cache, and the gateway
served from the cache (a resumed run); best of three passes with fresh prompts. Ratios are against the baseline
measured in the same process.

    .venv/bin/python bench/llm_gateway.py [--calls 300] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from evoforge.llm.backend import litellm_module, register_provider
from evoforge.llm.gateway import LLMGateway
from evoforge.settings import LLMSettings, ModelEntry, RoleSettings


def _instant_provider() -> Any:
    litellm = litellm_module()

    class Instant(litellm.CustomLLM):  # type: ignore[misc,name-defined]
        async def acompletion(self, *args: Any, **kwargs: Any) -> Any:
            return litellm.ModelResponse(
                choices=[{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop", "index": 0}],
                usage=litellm.Usage(prompt_tokens=10, completion_tokens=2, total_tokens=12),
            )

    return Instant()


async def _timed(calls: int, concurrency: int, fn: Callable[[int], Awaitable[Any]], offset: int) -> float:
    """Seconds per call for ``calls`` calls of ``fn(offset + i)``, ``concurrency`` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await fn(offset + i)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(calls)))
    return (time.perf_counter() - start) / calls


async def main(calls: int, concurrency: int) -> None:
    """Measure and print the table."""
    litellm = litellm_module()
    register_provider("instant", _instant_provider())

    def messages(i: int) -> list[dict[str, str]]:
        return [{"role": "user", "content": f"question {i}"}]

    settings = LLMSettings(models={"m": ModelEntry(model="instant/m")}, roles={"r": RoleSettings(model="m")})
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache.sqlite"
        off = LLMGateway(settings.model_copy(update={"cache": False}))
        filling = LLMGateway(settings, cache_path=cache)
        resumed = LLMGateway(settings, cache_path=cache)
        await litellm.acompletion(model="instant/m", messages=messages(-1))  # warm up
        rows = [
            ("bare litellm.acompletion", lambda i: litellm.acompletion(model="instant/m", messages=messages(i))),
            ("gateway, cache off", lambda i: off.complete("r", messages(i))),
            ("gateway, cache miss (pays, stores)", lambda i: filling.complete("r", messages(i))),
            ("gateway, cache hit (resumed run)", lambda i: resumed.complete("r", messages(i))),
        ]
        table = Table(title=f"LLM gateway overhead ({calls} calls, concurrency {concurrency})")
        for column in ("path", "ms/call", "ratio"):
            table.add_column(column, justify="right" if column != "path" else "left")
        baseline = None
        for name, fn in rows:
            # best of 3 passes (less noise); each pass asks new questions, so a miss stays a miss
            per_call = min([await _timed(calls, concurrency, fn, offset=p * calls) for p in range(3)])
            baseline = baseline or per_call
            table.add_row(name, f"{per_call * 1000:.2f}", f"{per_call / baseline:.2f}")
        filling.close()
        resumed.close()
        assert resumed.usage()["total"]["calls"] == 0
    Console().print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.concurrency))
