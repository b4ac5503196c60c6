"""One process of the shared-limit test: ``python tests/limit_worker.py BASE_URL GO_PREFIX PHASE...``.

Each ``PHASE`` is ``N,RPM,PARALLEL,LATENCY``: ``N`` requests sent at once to model ``shared`` (``RPM`` 0 = no rate
limit; ``PARALLEL`` concurrent requests at most, across processes; the server waits ``LATENCY`` seconds per
reply), through an :class:`~evoforge.llm.gateway.LLMGateway` on the run-state database
(``$EVOFORGE_TEST_RUN_DATABASE``). The process sends one warm-up request first (LiteLLM's first call sets up its
client); then, for phase ``i``, it prints ``ready``, waits until the file ``GO_PREFIX-i`` exists (so that both
processes send together), sends, and prints ``done``. One process serves every phase, so the test pays for its
start-up (importing LiteLLM) once.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from evoforge.llm.gateway import LLMGateway
from evoforge.settings import LLMSettings, ModelEntry, RoleSettings


def _gateway(base: str, rpm: int, parallel: int, latency: float) -> LLMGateway:
    params = {"extra_body": {"latency": latency}}
    entry = ModelEntry(
        model="openai/skills", api_base=base, rpm=rpm or None, max_parallel_requests=parallel, params=params
    )
    settings = LLMSettings(models={"shared": entry}, roles={"evolver": RoleSettings(model="shared")}, cache=False)
    return LLMGateway(settings, database_url=os.environ["EVOFORGE_TEST_RUN_DATABASE"])


async def main(base: str, go_prefix: str, phases: list[str]) -> None:
    """Run the phases, each on its own gateway (closed after it)."""
    for i, phase in enumerate(phases):
        n, rpm, parallel, latency = phase.split(",")
        gateway = _gateway(base, int(rpm), int(parallel), float(latency))
        if i == 0:  # client warm-up, before any phase is measured
            await gateway.complete("evolver", [{"role": "user", "content": "Reverse the word 'warm'."}])
        print("ready", flush=True)
        go = Path(f"{go_prefix}-{i}")
        while not go.exists():
            await asyncio.sleep(0.01)
        prompts = [f"Reverse the word 'w{os.getpid()}x{i}y{k}'." for k in range(int(n))]
        await asyncio.gather(*(gateway.complete("evolver", [{"role": "user", "content": p}]) for p in prompts))
        gateway.close()
        print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
