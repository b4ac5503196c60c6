"""Throughput of the evolve graph's fan-out (evolve + answer) against `evoforge serve sim` with simulated latency.

Starts `evoforge serve sim --latency L` in a subprocess, then, for each concurrency level c, evolves N skills-world
instructions once with the initial method and answers each evolution — the work of the graph's
``evolve_dataset`` and ``answer_dataset`` nodes, through the real gateway (LiteLLM's OpenAI client, cache off).
Every call waits L seconds at the server, so the ideal rate is c / L calls per second. Each level can run five
ways: through the LLM gateway (LiteLLM); through ``litellm.acompletion`` called bare with the gateway's arguments
(gateway − litellm is what evoforge adds); through the bare ``openai`` AsyncClient (what LiteLLM wraps); through a
raw httpx client (the same fan-out without any client stack's per-call CPU cost); and through a stub that only sleeps
L (the graph's fan-out and the agents alone).
Together they separate the graph's concurrency from the client stack's per-call CPU cost. Each row also prints the
CPU time per call, of this process (all threads) and of the server, over the timed part: one core runs at most
1000 / (client ms) calls per second, so that column says how far a client can go on this machine.

    .venv/bin/python bench/evolve_throughput.py [--n 1000] [--latency 0.1] [--concurrency 1,8,32,64] [--repeat 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from sim_process import sim_server

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


class DirectClient:
    """A minimal stand-in for the gateway that posts straight to the server with httpx (no LiteLLM, no cache):
    the same fan-out measured without the gateway's per-call cost."""

    def __init__(self, base: str, concurrency: int) -> None:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self._client = httpx.AsyncClient(base_url=base, limits=limits, timeout=120)
        self.calls = 0

    async def complete(self, role: str, messages: list[dict[str, str]], *, sample: int = 0) -> str:
        """The server's answer to ``messages``."""
        reply = await self._client.post("/chat/completions", json={"model": "skills", "messages": messages})
        reply.raise_for_status()
        self.calls += 1
        return str(reply.json()["choices"][0]["message"]["content"])

    def usage(self) -> dict[str, Any]:
        """Paid calls so far, in the gateway's shape."""
        return {"total": {"calls": self.calls}}

    def close(self) -> None:
        """Nothing to flush (the client closes with its event loop)."""


class OpenAIClient(DirectClient):
    """The official ``openai`` AsyncClient (the client LiteLLM wraps) posting straight to the server: the bare
    client's per-call cost, beside the gateway's on the same server."""

    def __init__(self, base: str, concurrency: int) -> None:
        from openai import AsyncOpenAI

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        http = httpx.AsyncClient(limits=limits, timeout=120)
        self._openai = AsyncOpenAI(base_url=base, api_key="EMPTY", max_retries=0, http_client=http)
        self.calls = 0

    async def complete(self, role: str, messages: list[dict[str, str]], *, sample: int = 0) -> str:
        """The server's answer to ``messages``."""
        reply = await self._openai.chat.completions.create(model="skills", messages=messages)
        self.calls += 1
        return reply.choices[0].message.content or ""


class LiteLLMClient(DirectClient):
    """``litellm.acompletion`` called bare, as the gateway calls it (same kwargs, the role's sampling included; no
    cache, limits or accounting): LiteLLM's own per-call cost, so that gateway − litellm is what evoforge adds."""

    def __init__(self, base: str, concurrency: int, roles: dict[str, Any]) -> None:
        from evoforge.llm.backend import litellm_module

        self._litellm = litellm_module()
        self._base = base
        self._roles = roles
        self.calls = 0

    async def complete(self, role: str, messages: list[dict[str, str]], *, sample: int = 0) -> str:
        """The server's answer to ``messages``."""
        settings = self._roles[role]
        reply = await self._litellm.acompletion(
            temperature=settings.temperature,
            top_p=settings.top_p,
            max_tokens=settings.max_tokens,
            model="openai/skills",
            messages=messages,
            api_base=self._base,
            api_key="EMPTY",
            seed=sample,
            timeout=120,
            num_retries=0,
            drop_params=True,
        )
        self.calls += 1
        return str(reply.choices[0].message.content or "")


class StubClient(DirectClient):
    """No HTTP at all: each call just waits the latency — the cost of the graph's fan-out and the agents alone."""

    def __init__(self, base: str, concurrency: int, latency: float) -> None:
        self.latency = latency
        self.calls = 0

    async def complete(self, role: str, messages: list[dict[str, str]], *, sample: int = 0) -> str:
        """The last line of the prompt, after the latency."""
        await asyncio.sleep(self.latency)
        self.calls += 1
        return messages[-1]["content"].strip().splitlines()[-1]


def _client(kind: str, cfg: Any, run: Any, base: str, concurrency: int, latency: float) -> Any:
    from evoforge.llm.gateway import LLMGateway

    if kind == "gateway":
        return LLMGateway(cfg.llm, run=run)
    if kind == "openai":
        return OpenAIClient(base, concurrency)
    if kind == "litellm":
        return LiteLLMClient(base, concurrency, cfg.llm.roles)
    return DirectClient(base, concurrency) if kind == "direct" else StubClient(base, concurrency, latency)


def _cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU seconds ``process`` has used so far (all its threads)."""
    times = process.cpu_times()
    return float(times.user + times.system)


async def _measure(
    base: str, server: psutil.Process, runs_dir: Path, seeds: list[dict], concurrency: int, client: str, latency: float
) -> tuple[int, float, float, float]:
    """Evolve and answer ``seeds`` at ``concurrency`` through ``client`` (gateway | ... | stub): calls, seconds, and
    the CPU seconds this process and ``server`` spent in that time."""
    from evoforge.agents.bundle import Agents
    from evoforge.agents.evolving_method import INITIAL_METHOD
    from evoforge.evolve.dataset import answer_rows, evolve_dataset
    from evoforge.graphs.runtime import Resources
    from evoforge.runs import RunDir
    from evoforge.settings import ModelEntry, load_config

    overrides = [f"run.runs_dir={runs_dir}", "llm.cache=false", "evolve.loop=1", f"evolve.concurrency={concurrency}"]
    cfg = load_config(None, overrides)
    cfg.llm.models = {
        "sim": ModelEntry(model="openai/skills", api_base=base, timeout=120, max_parallel_requests=concurrency)
    }
    run = RunDir.create(cfg, "bench", f"{client}-c{concurrency}")
    gateway = _client(client, cfg, run, base, concurrency, latency)
    res = Resources(cfg, run, gateway, Agents(), asyncio.Semaphore(concurrency))
    await answer_rows(res, await evolve_dataset(res, seeds[:concurrency], INITIAL_METHOD, "s0c0"))  # warm-up
    before = gateway.usage()["total"]["calls"]
    client_cpu, server_cpu = time.process_time(), _cpu_seconds(server)
    start = time.perf_counter()
    await answer_rows(res, await evolve_dataset(res, seeds, INITIAL_METHOD, "s0c0"))
    seconds = time.perf_counter() - start
    client_cpu, server_cpu = time.process_time() - client_cpu, _cpu_seconds(server) - server_cpu
    calls = gateway.usage()["total"]["calls"] - before
    gateway.close()
    return calls, seconds, client_cpu, server_cpu


def main() -> None:
    """Print achieved calls/s against the ideal (concurrency / latency) per concurrency level."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="instructions evolved and answered per level")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds the server waits per reply")
    parser.add_argument("--concurrency", default="1,8,32,64", help="comma-separated levels")
    parser.add_argument(
        "--clients",
        default="gateway,litellm,openai,direct",
        help="gateway (LiteLLM), litellm (bare acompletion), openai (AsyncOpenAI), direct (httpx), stub",
    )
    parser.add_argument("--repeat", type=int, default=1, help="run the clients this many times, alternating")
    args = parser.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]

    from evoforge.console import set_verbosity
    from evoforge.offline.world import seed_records

    set_verbosity(0)
    seeds = [
        {"id": f"seed-{i}", "instruction": r["instruction"], "category": r["category"]}
        for i, r in enumerate(seed_records(args.n, seed=1))
    ]
    rows = []
    with sim_server(args.latency) as (base, server), tempfile.TemporaryDirectory() as tmp:
        process = psutil.Process(server.pid)
        for level in levels:
            for client in args.clients.split(",") * args.repeat:
                runs_dir = Path(tmp, str(len(rows)))  # a client may run more than once: one runs directory each
                calls, seconds, cpu, served = asyncio.run(
                    _measure(base, process, runs_dir, seeds, level, client, args.latency)
                )
                rows.append((client, level, calls, seconds, level / args.latency, cpu, served))
    print(f"evolve + answer {args.n} instructions via evoforge serve sim, latency {args.latency:.3f} s per call")
    print("client: gateway = LLMGateway (LiteLLM); litellm = bare litellm.acompletion; openai = bare openai")
    print("        AsyncClient; direct = raw httpx, no gateway;")
    print("        stub = no HTTP, sleep only")
    print("CPU ms per call, over the timed part: client = this process (all threads), server = evoforge serve sim")
    print(
        f"{'client':>8} {'concurrency':>11} {'calls':>6} {'seconds':>8} {'calls/s':>8} {'ideal':>7} {'of ideal':>8}"
        f" {'client ms':>9} {'server ms':>9}"
    )
    for client, level, calls, seconds, ideal, cpu, served in rows:
        rate = calls / seconds
        print(
            f"{client:>8} {level:>11} {calls:>6} {seconds:>8.2f} {rate:>8.1f} {ideal:>7.0f} {rate / ideal:>8.0%}"
            f" {1000 * cpu / calls:>9.2f} {1000 * served / calls:>9.2f}"
        )


if __name__ == "__main__":
    main()
