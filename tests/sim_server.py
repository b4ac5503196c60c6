"""The simulated LLM's HTTP server (with its OpenAI files and batches endpoints) in a thread, for the batch tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from evoforge.offline.batch_endpoints import BatchOptions
from evoforge.offline.server import create_app


class SimServer:
    """The simulated LLM's HTTP server in a thread, with its batch options changeable between runs."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        self.options = BatchOptions()
        self.url = f"http://127.0.0.1:{port}/v1"
        config = uvicorn.Config(create_app(batches=self.options), host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def batches(self) -> list[dict[str, object]]:
        """Every batch the server was sent."""
        return list(httpx.get(f"{self.url}/batches").json()["data"])

    def entry(self, name: str = "sim", batch: bool = True) -> list[str]:
        """Overrides that point model entry ``name`` at this server (``batch``: through its batch endpoints)."""
        return [
            f"llm.models.{name}.model=openai/skills",
            f"llm.models.{name}.api_base={self.url}",
            f"llm.models.{name}.batch={str(batch).lower()}",
            f"llm.models.{name}.batch_poll_s=0.05",
        ]


@contextmanager
def running() -> Iterator[SimServer]:
    """A started :class:`SimServer`, stopped on leaving."""
    server = SimServer()
    server.thread.start()
    deadline = time.monotonic() + 20
    while not server.server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield server
    finally:
        server.server.should_exit = True
        server.thread.join(timeout=10)
