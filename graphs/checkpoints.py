"""Durability for graphs run from the CLI: the SQLite checkpointer in the run directory and the LLM retry policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langgraph.types import RetryPolicy

from evoforge.runs import RunDir

CHECKPOINT_FILE = "checkpoints.sqlite"


@asynccontextmanager
async def sqlite_checkpointer(run: RunDir) -> AsyncIterator[Any]:
    """An ``AsyncSqliteSaver`` on ``<run>/checkpoints.sqlite`` (created on first use)."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with AsyncSqliteSaver.from_conn_string(str(run.file(CHECKPOINT_FILE))) as saver:
        await saver.setup()
        yield saver


def thread_config(run: RunDir) -> dict[str, Any]:
    """The LangGraph config of a run: one thread per run, named by the run id."""
    return {"configurable": {"thread_id": run.run_id}, "recursion_limit": 10_000}


def _transient(exc: Exception) -> bool:
    from evoforge.llm.faults import is_transient

    return is_transient(exc)


def llm_retry() -> RetryPolicy:
    """Retry a node only on transient faults (timeouts, 429, 5xx); 4xx and user errors fail at once.

    The gateway already retries each call; this catches a transient fault that escapes a node as a whole.
    """
    return RetryPolicy(max_attempts=3, initial_interval=1.0, retry_on=_transient)
