"""The gateway's state in the run-state database (``run.database_url_env``): the response cache, and per-model
limits that hold across every process and machine using that database.

Limits: concurrency is a set of PostgreSQL advisory locks per model (slot ``i`` of ``max_parallel_requests``),
taken on this process's connection while a request is in flight; the request rate is one row per model holding the
next allowed start, moved forward atomically by each request (``INSERT … ON CONFLICT DO UPDATE``) on the database's
clock. Advisory locks vanish with the session, so a killed process never leaks a slot, and one clock serves every
machine. (Ray would also do, but it would tie the limits to a Ray cluster; the database is already shared by
everything that resumes or scales a run.)
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evoforge.database import connect, create_tables
from evoforge.llm.cache import CachedResponse, ResponseCache
from evoforge.llm.limits import ModelLimits

if TYPE_CHECKING:
    from evoforge.settings import LLMSettings

CACHE_TABLE = "evoforge_llm_responses"
PACE_TABLE = "evoforge_llm_pace"
_NOW = "extract(epoch FROM clock_timestamp())::float8"  # the database's clock, one for every machine
SLOT_POLL_S = 0.02  # how often a request waiting for a concurrency slot held elsewhere asks again


class _Connection:
    """One lazily opened autocommit connection, used by one thread at a time."""

    def __init__(self, url: str, setting: str) -> None:
        self.url, self.setting = url, setting
        self._conn: Any = None
        self.lock = threading.Lock()

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """Run ``sql`` (under the lock) and return the first row, or None."""
        with self.lock:
            if self._conn is None:
                self._conn = connect(self.url, self.setting)
                self._setup(self._conn)
            cursor = self._conn.execute(sql, params)
            return cursor.fetchone() if cursor.description else None

    def _setup(self, conn: Any) -> None:
        """Create the tables once."""
        create_tables(
            conn,
            f"CREATE TABLE IF NOT EXISTS {CACHE_TABLE} (key TEXT PRIMARY KEY, model TEXT NOT NULL, "
            "value TEXT NOT NULL, created DOUBLE PRECISION NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {PACE_TABLE} (model TEXT PRIMARY KEY, next_start DOUBLE PRECISION)",
        )

    def close(self) -> None:
        """Close the connection (it reopens on next use); advisory locks it held are released."""
        with self.lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class PostgresResponseCache:
    """The response cache (:class:`~evoforge.llm.cache.ResponseCache`'s interface) in the run-state database."""

    def __init__(self, url: str, setting: str = "run.database_url_env") -> None:
        self._db = _Connection(url, setting)

    def get(self, key: str) -> CachedResponse | None:
        """The stored response for ``key``, or None."""
        row = self._db.execute(f"SELECT value FROM {CACHE_TABLE} WHERE key = %s", (key,))
        return None if row is None else CachedResponse(**json.loads(row[0]))

    def put(self, key: str, response: CachedResponse) -> None:
        """Store ``response`` under ``key`` (committed at once)."""
        value = json.dumps(response.__dict__, ensure_ascii=False)
        self._db.execute(
            f"INSERT INTO {CACHE_TABLE} (key, model, value, created) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, created = EXCLUDED.created",
            (key, response.model, value, time.time()),
        )

    def __len__(self) -> int:
        return int(self._db.execute(f"SELECT COUNT(*) FROM {CACHE_TABLE}")[0])

    def close(self) -> None:
        """Close the connection (it reopens on next use)."""
        self._db.close()


def _model_key(name: str) -> int:
    """The advisory-lock class of model ``name`` (a stable signed 32-bit integer)."""
    return zlib.crc32(f"evoforge-llm:{name}".encode()) - 2**31


class SharedLimits(ModelLimits):
    """:class:`~evoforge.llm.limits.ModelLimits` that hold across processes: at most ``max_parallel`` requests to
    a model in flight and ``rpm`` starts a minute among all the processes sharing the database."""

    def __init__(self, url: str, setting: str = "run.database_url_env") -> None:
        super().__init__()
        self._db = _Connection(url, setting)
        self._held: dict[str, set[int]] = {}
        self._slots = threading.Lock()

    def _try_slot(self, name: str, max_parallel: int) -> int | None:
        """Take a free slot of ``name`` (one this process does not hold: advisory locks are re-entrant)."""
        with self._slots:
            held = sorted(self._held.setdefault(name, set()))
            row = self._db.execute(
                "SELECT s FROM generate_series(0, %s - 1) AS s WHERE s <> ALL(%s::int[]) "
                "AND pg_try_advisory_lock(%s, s) LIMIT 1",
                (max_parallel, held, _model_key(name)),
            )
            if row is None:
                return None
            self._held[name].add(int(row[0]))
            return int(row[0])

    def _release(self, name: str, slot: int) -> None:
        with self._slots:
            self._db.execute("SELECT pg_advisory_unlock(%s, %s)", (_model_key(name), slot))
            self._held[name].discard(slot)

    def _reserve_start(self, name: str, rpm: int) -> float:
        """Seconds until this request's start slot (the database's clock), the slot reserved."""
        gap = 60.0 / rpm
        row = self._db.execute(
            f"INSERT INTO {PACE_TABLE} AS p (model, next_start) VALUES (%s, {_NOW} + %s) "
            f"ON CONFLICT (model) DO UPDATE SET next_start = GREATEST(p.next_start, {_NOW}) + %s "
            f"RETURNING p.next_start - %s - {_NOW}",
            (name, gap, gap, gap),
        )
        return max(0.0, float(row[0]))

    @asynccontextmanager
    async def slot(self, name: str, max_parallel: int, rpm: int | None) -> AsyncIterator[None]:
        """Hold one of model ``name``'s concurrency slots among all processes, started no sooner than the shared
        rate allows."""
        async with self._semaphore(name, max_parallel):
            taken = await asyncio.to_thread(self._try_slot, name, max_parallel)
            while taken is None:
                await asyncio.sleep(SLOT_POLL_S)
                taken = await asyncio.to_thread(self._try_slot, name, max_parallel)
            try:
                if rpm is not None:
                    wait = await asyncio.to_thread(self._reserve_start, name, rpm)
                    if wait > 0:
                        await asyncio.sleep(wait)
                yield
            finally:
                await asyncio.to_thread(self._release, name, taken)

    def close(self) -> None:
        """Close the connection (releasing any slot it held)."""
        self._db.close()


def gateway_stores(
    settings: LLMSettings, cache_path: Path | None, database_url: str | None
) -> tuple[ResponseCache | PostgresResponseCache | None, ModelLimits]:
    """A gateway's response cache and limits: in the run-state database when ``database_url`` is given, else the
    SQLite file ``cache_path`` (none when it is None or ``llm.cache`` is off) and limits of this process."""
    if database_url is None:
        return (ResponseCache(cache_path) if settings.cache and cache_path is not None else None), ModelLimits()
    return (PostgresResponseCache(database_url) if settings.cache else None), SharedLimits(database_url)
