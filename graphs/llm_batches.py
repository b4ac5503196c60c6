"""Bulk nodes through the provider's batch API (:mod:`evoforge.llm.batch`) in a LangGraph graph.

:func:`batched` wraps a node: it first settles the batches the state names (polling, with a progress bar), then
runs the node as one pass. When the pass set requests aside, the node's update is dropped, they are submitted, and
the node returns only ``batch`` (the batch ids) — the checkpoint holds them — and :func:`again_while_batched`
sends the graph back to the same node. So a run stopped while a batch is pending resumes by polling that batch,
never by submitting it again; a pass stopped between sending its batches and its checkpoint finds them again in
``batches/<digest of its requests>.json`` in the run directory (written as soon as the provider gave their ids).
The graph's state has ``batch`` (the pending batches, ``[{id, model,
requests}]``) and ``batch_failed`` (the cache keys of the requests they failed: lost rows in the next pass).
With no model entry ``batch: true``, a pass sets nothing aside and the node runs once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from langgraph.runtime import Runtime

from evoforge.console import info
from evoforge.graphs.runtime import Resources, RunContext, node_resources
from evoforge.llm.batch import collecting
from evoforge.runs import atomic_write_json


class Node(Protocol):
    """A graph node as LangGraph calls it: the state (or a ``Send`` payload) and the runtime."""

    __name__: str

    def __call__(self, state: Any, runtime: Runtime[RunContext]) -> Awaitable[dict[str, Any]]: ...


def batched(node: Node, command: str) -> Node:
    """``node`` (of the ``command`` graph) with its uncached requests to batch model entries sent as batches."""

    async def run(state: Any, runtime: Runtime[RunContext]) -> dict[str, Any]:
        res = await node_resources(runtime, command, state.get("workdir", ""))
        failed = list(state.get("batch_failed") or [])
        if state.get("batch"):
            failed += await res.gateway.batches.settle(state["batch"])
            await asyncio.to_thread(_settled, res, state["batch"])
        with collecting(frozenset(failed)) as pending:
            update = await node(state, runtime)
        if not pending.requests:
            res.gateway.batches.count_hits(pending)
            return {**update, "batch": [], "batch_failed": []}
        res.gateway.batches.passed(pending)
        batches = await asyncio.to_thread(_submitted, res, pending.requests)
        if batches is None:
            batches = await res.gateway.batches.submit(pending.requests)
            await asyncio.to_thread(_note_submitted, res, pending.requests, batches)
        ids = ", ".join(b["id"] for b in batches)
        info(f"{node.__name__}: {len(pending.requests)} requests sent as batch {ids}; waiting for it")
        await asyncio.to_thread(res.run.event, "batch_submitted", node=node.__name__, batches=batches)
        return {"batch": batches, "batch_failed": failed}

    run.__name__ = node.__name__
    run.__doc__ = node.__doc__
    return run


def _record(res: Resources, requests: dict[str, Any]) -> tuple[Path, str]:
    """The file that records the batches sent for exactly ``requests`` (named by a digest of their ids)."""
    digest = hashlib.sha256("\n".join(sorted(requests)).encode()).hexdigest()[:24]
    return res.file("batches", f"{digest}.json")


def _submitted(res: Resources, requests: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The batches already sent for ``requests`` by a pass that was stopped before its checkpoint, or None."""
    path = _record(res, requests)[0]
    return list(json.loads(path.read_text())) if path.exists() else None


def _note_submitted(res: Resources, requests: dict[str, Any], batches: list[dict[str, Any]]) -> None:
    """Record ``batches`` as sent for ``requests``; the record goes when they are settled (:func:`_settled`)."""
    path, relative = _record(res, requests)
    for batch in batches:
        batch["record"] = relative
    atomic_write_json(path, batches)


def _settled(res: Resources, batches: list[dict[str, Any]]) -> None:
    """Forget the record of settled ``batches``: the same requests sent again later (a refill) are a new batch."""
    for record in {batch["record"] for batch in batches if batch.get("record")}:
        res.path(record).unlink(missing_ok=True)


def again_while_batched(node: str, then: str) -> Callable[[Any], str]:
    """The edge out of batched ``node``: back to it while it has a batch pending, else on to ``then``."""

    def route(state: Any) -> str:
        return node if state.get("batch") else then

    return route
