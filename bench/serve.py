"""Throughput of the LMoE server: mixed-adapter batching against one request at a time, 4 LoRA experts.

One resident model (the tiny student's architecture, or ``--base DIR``) with four random LoRA experts serves
chat requests spread round-robin over the experts, at concurrency 1, 8 and 32, twice in the same process: with
batching (``--max-batch 32``, requests for any experts decoded together) and one at a time (``max_batch=1``).
The table gives requests/s, p50/p95 latency and the ratio of batched to one-at-a-time requests/s.

    .venv/bin/python bench/serve.py [--base DIR] [--max-tokens 32]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import torch

from evoforge.offline.pretrain import StudentBuildConfig
from evoforge.offline.tiny_builds import init_student
from evoforge.serve.api import create_app
from evoforge.serve.background import BackgroundServer
from evoforge.serve.experts import Expert
from evoforge.serve.lmoe import LMoE, RouterSettings, build_lmoe
from evoforge.testing.tiny_models import build_lora_adapter

EXPERTS = ("arithmetic", "strings", "format", "instruct")
LEVELS = {1: 8, 8: 32, 32: 64}  # concurrency → requests


async def _level(url: str, concurrency: int, requests: int, max_tokens: int) -> tuple[float, list[float]]:
    """Wall seconds for ``requests`` over ``concurrency`` workers, and each request's latency."""
    latencies: list[float] = []
    queue = list(range(requests))

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            i = queue.pop()
            body = {
                "model": EXPERTS[i % len(EXPERTS)],
                "messages": [{"role": "user", "content": f"Compute {i} + {i % 7}."}],
                "max_tokens": max_tokens,
                "temperature": 0,
            }
            start = time.perf_counter()
            reply = await client.post(f"{url}/v1/chat/completions", json=body)
            reply.raise_for_status()
            latencies.append(time.perf_counter() - start)

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - start, latencies


def _measure(lmoe: LMoE, max_batch: int, max_tokens: int) -> dict[int, tuple[float, float, float]]:
    """Per concurrency level: requests/s, p50 and p95 latency (seconds)."""
    out = {}
    with BackgroundServer(create_app(lmoe, max_batch=max_batch)) as server:
        asyncio.run(_level(server.url, 1, 2, max_tokens))  # warm-up
        for concurrency, requests in LEVELS.items():
            seconds, latencies = asyncio.run(_level(server.url, concurrency, requests, max_tokens))
            cuts = statistics.quantiles(latencies, n=20)
            out[concurrency] = (requests / seconds, statistics.median(latencies), cuts[18])
    return out


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=Path, default=None, help="Base model dir (default: a fresh tiny student).")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: no OpenMP contention on 2 cores).")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        base = args.base or init_student(StudentBuildConfig(), Path(tmp) / "student")
        experts = [
            Expert(name, build_lora_adapter(base, Path(tmp) / name, seed=i)) for i, name in enumerate(EXPERTS, 1)
        ]
        lmoe = build_lmoe(base, experts, router=RouterSettings(kind="none"), device="cpu")
        batched = _measure(lmoe, 32, args.max_tokens)
        serial = _measure(lmoe, 1, args.max_tokens)
    print(f"4 LoRA experts, round-robin requests, max_tokens {args.max_tokens}, greedy, {args.threads} torch thread(s)")
    header = ("concurrency", "mode", "req/s", "p50 s", "p95 s", "vs 1-at-a-time")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (11, 14, 8, 7, 7, 15), strict=True)))
    for concurrency in LEVELS:
        for mode, table in (("one-at-a-time", serial), ("batched", batched)):
            rate, p50, p95 = table[concurrency]
            ratio = rate / serial[concurrency][0]
            print(f"{concurrency:>11} {mode:>14} {rate:>8.2f} {p50:>7.2f} {p95:>7.2f} {ratio:>14.1f}x")


if __name__ == "__main__":
    main()
