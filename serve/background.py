"""Running an ASGI app on a loopback port in a background thread (tests, benchmarks, the chat UI's own server)."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

from evoforge.errors import ConfigError


class BackgroundServer:
    """``with BackgroundServer(app) as server: … server.url …``: uvicorn on ``host`` (a free port by default)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 30.0) -> None:
        import uvicorn

        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.host = host
        self.timeout_s = timeout_s
        self._thread = threading.Thread(target=self.server.run, name="evoforge-http", daemon=True)
        self.port = port

    @property
    def url(self) -> str:
        """The server's base URL, e.g. ``http://127.0.0.1:40123``."""
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + self.timeout_s
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError(f"the HTTP server did not start on {self.host}:{self.port}")
            time.sleep(0.02)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=self.timeout_s)
