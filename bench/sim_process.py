"""``evoforge serve sim`` in a subprocess on a free loopback port, for the benches that measure over HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def sim_server(latency: float) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start the simulated LLM's server (``latency`` seconds per reply), wait until it answers, stop it after.

    Yields the OpenAI base URL (``http://127.0.0.1:<port>/v1``) and the process (for its CPU time).
    """
    port = free_port()
    evoforge = Path(sys.executable).with_name("evoforge")
    server = subprocess.Popen([str(evoforge), "-q", "serve", "sim", "--port", str(port), "--latency", str(latency)])
    base = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/models", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise SystemExit("evoforge serve sim did not start")
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=10)
