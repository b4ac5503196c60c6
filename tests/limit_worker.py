"""One process of the shared-limit test: ``python tests/limit_worker.py BASE_URL N GO_FILE RPM PARALLEL LATENCY``.

Builds an :class:`~evoforge.llm.gateway.LLMGateway` on the run-state database (``$EVOFORGE_TEST_RUN_DATABASE``),
sends one warm-up request (LiteLLM's first call sets up its client), prints ``ready`` and waits until ``GO_FILE``
exists (so that both processes send together), then sends ``N`` requests at
once to model ``shared`` (``RPM`` 0 = no rate limit; ``PARALLEL`` concurrent requests at most, across processes;
the server waits ``LATENCY`` seconds per reply).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from evoforge.config import LLMSettings, ModelEntry, RoleSettings
from evoforge.llm.gateway import LLMGateway


async def main(base: str, n: int, go: Path, rpm: int, parallel: int, latency: float) -> None:
    """Send the requests and close the gateway."""
    params = {"extra_body": {"latency": latency}}
    entry = ModelEntry(
        model="openai/skills", api_base=base, rpm=rpm or None, max_parallel_requests=parallel, params=params
    )
    settings = LLMSettings(models={"shared": entry}, roles={"evolver": RoleSettings(model="shared")}, cache=False)
    gateway = LLMGateway(settings, database_url=os.environ["EVOFORGE_TEST_RUN_DATABASE"])
    await gateway.complete("evolver", [{"role": "user", "content": "Reverse the word 'warm'."}])  # client warm-up
    print("ready", flush=True)
    while not go.exists():
        await asyncio.sleep(0.01)
    prompts = [f"Reverse the word 'w{os.getpid()}x{i}'." for i in range(n)]
    await asyncio.gather(*(gateway.complete("evolver", [{"role": "user", "content": p}]) for p in prompts))
    gateway.close()


if __name__ == "__main__":
    url, count, go_file, rate, most, wait = sys.argv[1:7]
    asyncio.run(main(url, int(count), Path(go_file), int(rate), int(most), float(wait)))
