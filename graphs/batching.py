"""Bulk nodes through the provider's batch API (:mod:`evoforge.llm.batch`) in a LangGraph graph.

:func:`batched` wraps a node: it first settles the batches the state names (polling, with a progress bar), then
runs the node as one pass. When the pass set requests aside, the node's update is dropped, they are submitted, and
the node returns only ``batch`` (the batch ids) — the checkpoint holds them — and :func:`again_while_batched`
sends the graph back to the same node. So a run stopped while a batch is pending resumes by polling that batch,
never by submitting it again. The graph's state has ``batch`` (the pending batches, ``[{id, model,
requests}]``) and ``batch_failed`` (the cache keys of the requests they failed: lost rows in the next pass).
With no model entry ``batch: true``, a pass sets nothing aside and the node runs once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.runtime import Runtime

from evoforge.console import info
from evoforge.graphs.runtime import RunContext, node_resources
from evoforge.llm.batch import collecting

Node = Callable[[Any, Runtime[RunContext]], Awaitable[dict[str, Any]]]


def batched(node: Node, command: str) -> Node:
    """``node`` (of the ``command`` graph) with its uncached requests to batch model entries sent as batches."""

    async def run(state: Any, runtime: Runtime[RunContext]) -> dict[str, Any]:
        res = await node_resources(runtime, command, state.get("workdir", ""))
        failed = list(state.get("batch_failed") or [])
        if state.get("batch"):
            failed += await res.gateway.batches.settle(state["batch"])
        with collecting(frozenset(failed)) as pending:
            update = await node(state, runtime)
        if not pending.requests:
            return {**update, "batch": [], "batch_failed": []}
        batches = await res.gateway.batches.submit(pending.requests)
        ids = ", ".join(b["id"] for b in batches)
        info(f"{node.__name__}: {len(pending.requests)} requests sent as batch {ids}; waiting for it")
        await asyncio.to_thread(res.run.event, "batch_submitted", node=node.__name__, batches=batches)
        return {"batch": batches, "batch_failed": failed}

    run.__name__ = node.__name__
    run.__doc__ = node.__doc__
    return run


def again_while_batched(node: str, then: str) -> Callable[[Any], str]:
    """The edge out of batched ``node``: back to it while it has a batch pending, else on to ``then``."""

    def route(state: Any) -> str:
        return node if state.get("batch") else then

    return route
