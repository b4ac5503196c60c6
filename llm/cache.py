"""The response cache: an SQLite file of provider answers, so that a repeated or resumed run never pays twice.

A cached answer is keyed by a hash of everything that shapes it: the model (LiteLLM string, API base, provider
parameters), the messages, the sampling parameters, the response format and the sample index. The file is shared
safely by concurrent tasks (a lock around each statement) and by processes (WAL journal).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def cache_key(**parts: Any) -> str:
    """A stable SHA-256 hex digest of JSON-serialisable ``parts`` (key order does not matter)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedResponse:
    """One stored answer and what it cost when it was first paid for."""

    text: str
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float


class ResponseCache:
    """A key → response store in one SQLite file, opened lazily and safe across threads and tasks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
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
