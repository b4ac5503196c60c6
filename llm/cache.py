"""The response cache: one SQLite file of provider answers, shared by all runs, so no call is paid for twice.

A cached answer is keyed by a hash of everything that shapes it: the model (LiteLLM string, API base, provider
parameters), the messages, the sampling parameters, the response format and the sample index. So the same call
made by a resumed run, a repeated run or another job is served from the file. By default the file is
``user_cache_dir("evoforge")/llm/responses.sqlite`` (see :func:`response_cache_path` for the overrides); it is
shared safely by concurrent tasks (a lock around each statement) and by processes (WAL journal, busy timeout).

No secret is stored: a row holds the key's hash, the model string, the answer text, its token counts and its
cost. API keys travel only in the provider request and are neither part of the key nor written to the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evoforge.llm.backend import provider_revision

if TYPE_CHECKING:
    from evoforge.settings import LLMSettings, ModelEntry

CACHE_DIR_ENV = "EVOFORGE_LLM_CACHE_DIR"
CACHE_FILE = "responses.sqlite"
BUSY_TIMEOUT_S = 30.0  # how long a statement waits for another process's write


def response_cache_path(settings: LLMSettings) -> Path | None:
    """The shared response-cache file for ``settings``, or None when ``llm.cache`` is off.

    The folder is the first of: ``llm.cache_dir``; ``$EVOFORGE_LLM_CACHE_DIR``; ``llm/`` under the user cache
    directory (``$EVOFORGE_CACHE_DIR``, else ``platformdirs.user_cache_dir("evoforge")``, as for the student
    cache). The file in it is ``responses.sqlite``.
    """
    if not settings.cache:
        return None
    folder = settings.cache_dir or os.environ.get(CACHE_DIR_ENV)
    if not folder:
        from platformdirs import user_cache_dir

        folder = Path(os.environ.get("EVOFORGE_CACHE_DIR") or user_cache_dir("evoforge")) / "llm"
    return Path(folder).expanduser() / CACHE_FILE


def cache_key(**parts: Any) -> str:
    """A stable SHA-256 hex digest of JSON-serialisable ``parts`` (key order does not matter)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def request_key(entry: ModelEntry, messages: list[dict[str, str]], request: dict[str, Any], sample: int) -> str:
    """The key of one request to model ``entry``: :func:`cache_key` of its model string, API base, provider
    parameters, ``messages``, ``request`` (sampling, response format), ``sample`` and the revision its plug-in
    provider declares (left out when it declares none, so such a model keeps the keys it had)."""
    revision = provider_revision(entry.model)
    return cache_key(
        model=entry.model,
        api_base=entry.api_base,
        params=entry.params,
        messages=messages,
        request=request,
        sample=sample,
        **({"revision": revision} if revision is not None else {}),
    )


@dataclass(frozen=True)
class CachedResponse:
    """One stored answer and what it cost when it was first paid for."""

    text: str
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to the WAL journal, waiting while another process opens it at the same moment.

    SQLite answers ``database is locked`` at once (without its busy timeout) when two connections switch a new
    file's journal mode together, so the switch is retried here for up to :data:`BUSY_TIMEOUT_S`.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(0.02)


def open_shared(path: Path) -> sqlite3.Connection:
    """A connection to the SQLite file ``path`` (created with its folder) that other threads and processes share:
    WAL journal, busy timeout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
    _enable_wal(conn)
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class ResponseCache:
    """A key → response store in one SQLite file, opened lazily and safe across threads and tasks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = open_shared(self.path)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT NOT NULL, "
                "value TEXT NOT NULL, created REAL NOT NULL)"
            )
            conn.commit()
            self._conn = conn
        return self._conn

    def get(self, key: str) -> CachedResponse | None:
        """The stored response for ``key``, or None."""
        with self._lock:
            row = self._connection().execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return CachedResponse(**json.loads(row[0]))

    def put(self, key: str, response: CachedResponse) -> None:
        """Store ``response`` under ``key`` (committed at once, so a crash loses nothing already paid for)."""
        value = json.dumps(response.__dict__, ensure_ascii=False)
        with self._lock:
            conn = self._connection()
            conn.execute(
                "INSERT OR REPLACE INTO responses (key, model, value, created) VALUES (?, ?, ?, ?)",
                (key, response.model, value, time.time()),
            )
            conn.commit()

    def __len__(self) -> int:
        with self._lock:
            row = self._connection().execute("SELECT COUNT(*) FROM responses").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the file (it reopens on next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
