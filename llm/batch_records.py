"""The batches that bulk steps outside a graph (:func:`evoforge.llm.batch.in_passes`: LLM-judge scoring, the cull)
sent and have not settled yet, recorded so that a step stopped while its batch is pending (Ctrl-C, a crash, a kill)
polls that batch when it runs again instead of sending, and paying for, the same requests twice.

The record is a table (``pending_batches``) in the response cache's SQLite file: like the cache it is shared by every
run on the machine, which is right, as a request's id (``role|entry|cache key``) names the request whatever run makes
it. A batch is recorded (id, model entry, request count, the ids of its requests) as soon as the provider gave its
id, before it is waited for. A pass that sets aside requests a recorded batch holds settles that batch instead of
sending them, and sends only the rest; a batch is forgotten once settled (its answers are then in the cache; the
requests it did not answer go into the next batch, as for any batch). Each change is one SQLite statement (WAL
journal, busy timeout), so concurrent processes see whole records; two passes that set aside the same new requests
at the same moment may still both send them. With the response cache off or in the run-state database (PostgreSQL)
nothing is recorded: a step stopped there sends its pending requests again.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from evoforge.console import info
from evoforge.llm.cache import open_shared

if TYPE_CHECKING:
    import sqlite3

TABLE = "pending_batches"
NOT_FOUND = 404  # the status of a batch its provider does not know (a recorded one it has long dropped)


class BatchRecords:
    """The pending batches recorded in the SQLite file ``path`` (the response cache's), one connection a call."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _open(self) -> sqlite3.Connection:
        conn = open_shared(self.path)
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (id TEXT PRIMARY KEY, model TEXT NOT NULL, "
            "requests INTEGER NOT NULL, custom_ids TEXT NOT NULL, created REAL NOT NULL)"
        )
        return conn

    def pending(self) -> list[dict[str, Any]]:
        """Every recorded batch: ``{id, model, requests, custom_ids}``, oldest first."""
        with closing(self._open()) as conn:
            rows = conn.execute(f"SELECT id, model, requests, custom_ids FROM {TABLE} ORDER BY created").fetchall()
        return [{"id": i, "model": m, "requests": n, "custom_ids": json.loads(ids)} for i, m, n, ids in rows]

    def note(self, batch: dict[str, Any], custom_ids: list[str]) -> None:
        """Record ``batch`` (``{id, model, requests}``, from :meth:`BatchDesk.submit`) as holding ``custom_ids``."""
        with closing(self._open()) as conn, conn:
            conn.execute(
                f"INSERT OR REPLACE INTO {TABLE} (id, model, requests, custom_ids, created) VALUES (?, ?, ?, ?, ?)",
                (batch["id"], batch["model"], batch["requests"], json.dumps(sorted(custom_ids)), time.time()),
            )

    def forget(self, batch_id: str) -> None:
        """Drop the record of the settled batch ``batch_id``."""
        with closing(self._open()) as conn, conn:
            conn.execute(f"DELETE FROM {TABLE} WHERE id = ?", (batch_id,))


class Desk(Protocol):
    """What :func:`send_and_settle` uses of a :class:`~evoforge.llm.batch.BatchDesk` (which imports this module)."""

    records: BatchRecords | None

    async def submit(self, requests: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """Send ``requests`` as one batch per model entry."""
        ...

    async def settle(self, batches: list[dict[str, Any]]) -> list[str]:
        """Wait for ``batches`` and cache their answers; the keys they did not answer."""
        ...


def _by_entry(requests: dict[str, dict[str, Any]]) -> list[dict[str, dict[str, Any]]]:
    """``requests`` (by ``role|entry|cache key``) in one group per model entry, by entry name."""
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for custom_id, kwargs in requests.items():
        groups.setdefault(custom_id.split("|", 2)[1], {})[custom_id] = kwargs
    return [groups[name] for name in sorted(groups)]


async def send_and_settle(desk: Desk, requests: dict[str, dict[str, Any]]) -> list[str]:
    """Settle batches holding ``requests`` (a pass's set-aside ones) into the cache: the recorded batches that hold
    some of them (sent by a stopped pass, of this process or another), and one new batch per model entry for the
    rest, each recorded before it is waited for; the cache keys of the requests they did not answer.

    Raises:
        BudgetExceeded: the run's LLM budget is spent (before a new batch is sent).
    """
    records = desk.records
    if records is None:
        return await desk.settle(await desk.submit(requests))
    held = [b for b in await asyncio.to_thread(records.pending) if not requests.keys().isdisjoint(b["custom_ids"])]
    covered = {custom_id for batch in held for custom_id in batch["custom_ids"]}
    if held:
        ids = ", ".join(batch["id"] for batch in held)
        info(f"{len(covered & requests.keys())} requests are in batch {ids}, sent before: waiting for it instead")
    batches = [{key: batch[key] for key in ("id", "model", "requests")} for batch in held]
    for group in _by_entry({key: kwargs for key, kwargs in requests.items() if key not in covered}):
        [batch] = await desk.submit(group)
        await asyncio.to_thread(records.note, batch, list(group))
        batches.append(batch)
    recorded = {batch["id"]: batch["custom_ids"] for batch in held}
    failed: list[str] = []
    for batch in batches:
        try:
            failed += await desk.settle([batch])
        except Exception as exc:  # the provider's client's own NotFoundError (HTTP 404), whatever its class
            if getattr(exc, "status_code", None) != NOT_FOUND or batch["id"] not in recorded:
                raise
            info(f"batch {batch['id']} is unknown to its provider: its requests go into the next batch")
            failed += [str(custom_id).split("|", 2)[2] for custom_id in recorded[batch["id"]]]
        await asyncio.to_thread(records.forget, batch["id"])
    return failed
