"""The record of the batches a bulk step outside a graph sent (:mod:`evoforge.llm.batch_records`): a pass whose
set-aside requests a recorded batch partly holds settles that batch and sends only the rest, and forgets every batch
it settled; with the response cache in no SQLite file nothing is recorded."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from evoforge.llm.batch import BatchDesk
from evoforge.llm.batch_records import BatchRecords, send_and_settle
from evoforge.llm.cache import ResponseCache
from evoforge.llm.usage import UsageLedger
from evoforge.settings import load_config


class Desk(BatchDesk):
    """A batch desk whose provider is a list: what it was sent, and what it was asked to settle."""

    def __init__(self, cache: ResponseCache | None) -> None:
        super().__init__(load_config(None, []).llm, cache, UsageLedger())
        self.sent: list[list[str]] = []
        self.settled: list[str] = []

    async def submit(self, requests: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        self.sent.append(sorted(requests))
        return [{"id": f"batch_{len(self.sent)}", "model": "judge", "requests": len(requests)}]

    async def settle(self, batches: list[dict[str, Any]]) -> list[str]:
        self.settled += [batch["id"] for batch in batches]
        return ["key_failed"] if batches[0]["id"] == "batch_1" else []


def _requests(*keys: str) -> dict[str, dict[str, Any]]:
    return {f"judge|judge|{key}": {"model": "sim/judge"} for key in keys}


def test_a_pass_settles_the_recorded_batch_holding_part_of_its_requests_and_sends_only_the_rest(
    tmp_path: Path,
) -> None:
    desk = Desk(ResponseCache(tmp_path / "responses.sqlite"))
    assert desk.records is not None
    desk.records.note({"id": "batch_stopped", "model": "judge", "requests": 2}, list(_requests("a", "b")))
    failed = asyncio.run(send_and_settle(desk, _requests("a", "b", "c", "d")))
    assert desk.sent == [sorted(_requests("c", "d"))]
    assert desk.settled == ["batch_stopped", "batch_1"] and failed == ["key_failed"]
    assert BatchRecords(tmp_path / "responses.sqlite").pending() == []  # another process's view: all settled


def test_a_batch_is_recorded_before_it_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"

    class Stopped(Desk):
        async def settle(self, batches: list[dict[str, Any]]) -> list[str]:
            raise asyncio.CancelledError  # stopped while waiting

    desk = Stopped(ResponseCache(path))
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(send_and_settle(desk, _requests("b", "a")))
    [held] = BatchRecords(path).pending()
    assert held == {"id": "batch_1", "model": "judge", "requests": 2, "custom_ids": sorted(_requests("a", "b"))}


def test_without_a_sqlite_cache_nothing_is_recorded() -> None:
    desk = Desk(None)
    assert desk.records is None
    asyncio.run(send_and_settle(desk, _requests("a")))
    assert desk.sent == [sorted(_requests("a"))] and desk.settled == ["batch_1"]
