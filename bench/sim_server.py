"""Throughput of `evoforge serve sim` under concurrency, with simulated latency.

Starts the server in a subprocess (as a user would) and sends chat requests at several concurrency
levels. With latency L per reply, ideal throughput is concurrency / L: the table shows how close the server gets,
as a ratio against concurrency 1 measured in the same process, and the server's own CPU time per request
(the client is a minimal keep-alive HTTP/1.1 loop: httpx itself saturates a small machine before the server does).

    .venv/bin/python bench/sim_server.py [--latency 0.05] [--requests 512]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

from sim_process import sim_server


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _worker(port: int, first: int, count: int) -> None:
    """One keep-alive connection sending ``count`` requests one after another (a minimal HTTP/1.1 client)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for i in range(first, first + count):
        body = json.dumps({"model": "skills", "messages": [{"role": "user", "content": f"Compute {i} + 1."}]})
        head = "POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n{body}".encode())
        await writer.drain()
        headers = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
        length = int(headers.split("content-length:")[1].split("\r\n")[0])
        reply = json.loads(await reader.readexactly(length))
        assert reply["choices"][0]["message"]["content"] == str(i + 1)
    writer.close()


async def _run(port: int, requests: int, concurrency: int) -> float:
    """Seconds to send ``requests`` over ``concurrency`` connections."""
    per = requests // concurrency
    start = time.perf_counter()
    await asyncio.gather(*(_worker(port, c * per, per) for c in range(concurrency)))
    return time.perf_counter() - start


def main() -> None:
    """Print requests/s per concurrency level."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--requests", type=int, default=512)
    args = parser.parse_args()
    with sim_server(args.latency) as (base, server):
        port = int(base.rsplit(":", 1)[1].split("/", 1)[0])
        rows = []
        for concurrency in (1, 8, 64):
            n = min(args.requests, 64) if concurrency == 1 else args.requests
            cpu = _cpu_seconds(server.pid)
            seconds = asyncio.run(_run(port, n, concurrency))
            rows.append((concurrency, n, seconds, n / seconds, (_cpu_seconds(server.pid) - cpu) / n * 1000))
    baseline = rows[0][3]
    print(f"latency {args.latency:.3f} s per reply; ideal requests/s = concurrency / latency")
    header = ("concurrency", "requests", "seconds", "req/s", "vs c=1", "of ideal", "server CPU ms/req")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (11, 8, 8, 8, 7, 8, 17), strict=True)))
    for concurrency, n, seconds, rate, cpu_ms in rows:
        ideal = concurrency / args.latency if args.latency > 0 else float("inf")
        ratio, share = rate / baseline, rate / ideal
        print(f"{concurrency:>11} {n:>8} {seconds:>8.2f} {rate:>8.1f} {ratio:>6.1f}x {share:>7.0%} {cpu_ms:>17.2f}")


if __name__ == "__main__":
    main()
