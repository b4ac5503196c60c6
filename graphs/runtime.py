"""What every graph runs with: the typed run context, the per-run resources, the checkpointer and the retry policy.

The context is what LangGraph passes to every node as ``runtime.context``. Every field has a default so that
LangGraph Studio can build it from nothing: with no ``run_dir`` a run directory is created under
``run.runs_dir`` and named after the thread; with no ``gateway`` one is built for the run (with the response cache
shared by all runs); with no ``agents`` the real agents run. The CLI passes its run directory and gateway; tests pass
fake agents of the real types.

A graph mounted as a subgraph works in a folder of its parent's run (its state's ``workdir``, itself a run
directory with its own config snapshot) and shares the parent's context, hence its gateway and agents.

The context also carries what its nodes share: the :class:`Resources` opened for the run and for each subgraph
folder, built by the first node that asks (:func:`node_resources`) and gone with the context. LangGraph builds a
context per invocation (Studio from its form), the CLI one per drive of a run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from langgraph.config import get_config
from langgraph.runtime import Runtime
from langgraph.types import RetryPolicy
from pydantic import ConfigDict
from pydantic.json_schema import SkipJsonSchema

from evoforge.agents.bundle import Agents
from evoforge.database import aconnect, database_url
from evoforge.errors import LLMTransportError, import_extra
from evoforge.llm.faults import is_transient
from evoforge.llm.protocol import Gateway
from evoforge.llm.run_gateway import build_gateway
from evoforge.runs import RunDir
from evoforge.settings import Config, load_config

if TYPE_CHECKING:
    pass

CHECKPOINT_FILE = "checkpoints.sqlite"
T = TypeVar("T")


@dataclass(kw_only=True)
class RunContext:
    """What every graph's nodes need besides the state."""

    config_path: str = field(
        default="",
        metadata={"description": "YAML configuration; empty = the run's snapshot, or the built-in defaults."},
    )
    run_dir: str = field(
        default="",
        metadata={"description": "Run directory; empty = a new one under run.runs_dir named after the thread."},
    )
    gateway: SkipJsonSchema[Gateway] | None = field(  # not shown in Studio's context form (a live object)
        default=None,
        repr=False,
        metadata={"description": "The run's LLM gateway; None = built lazily for the run (shared response cache)."},
    )
    agents: SkipJsonSchema[Agents] | None = field(  # not shown in Studio's context form (it holds functions)
        default=None,
        repr=False,
        metadata={"description": "The agents bundle; None = the real agents."},
    )
    opened: SkipJsonSchema[dict[str, Resources]] = field(  # filled by the nodes, not by the caller
        default_factory=dict,
        repr=False,
        compare=False,
        metadata={"description": "The resources the nodes share, by run (or thread) and subgraph folder."},
    )

    __pydantic_config__ = ConfigDict(arbitrary_types_allowed=True)  # Studio's form: live objects, left out


@dataclass
class Resources:
    """The live objects of one run inside one event loop: config, run directory, gateway, agents, concurrency."""

    config: Config
    run: RunDir
    gateway: Gateway
    agents: Agents
    limiter: asyncio.Semaphore

    def path(self, relative: str) -> Path:
        """Resolve a run-dir-relative path held in the state."""
        return self.run.path / relative

    def file(self, *parts: str) -> tuple[Path, str]:
        """A new file in the run directory: its absolute path and the relative name kept in the state."""
        return self.run.file(*parts), "/".join(parts)


def _open_run(ctx: RunContext, thread_id: str, command: str) -> tuple[Config, RunDir]:
    """Open (or for Studio, create) the run directory and resolve its configuration (blocking I/O)."""
    if ctx.run_dir:
        path = Path(ctx.run_dir)
        run = RunDir.open(path.parent, path.name)
        config = load_config(Path(ctx.config_path)) if ctx.config_path else run.config()
        return config, run
    config = load_config(Path(ctx.config_path) if ctx.config_path else None)
    run_id = f"studio-{thread_id}"
    path = config.run.runs_dir / run_id
    run = RunDir(path) if (path / "manifest.json").is_file() else RunDir.create(config, command, run_id)
    return config, run


def _open_workdir(parent: Path, workdir: str) -> tuple[Config, RunDir]:
    path = parent / workdir
    run = RunDir.open(path.parent, path.name)
    return run.config(), run


async def resources(ctx: RunContext | None, thread_id: str, command: str, workdir: str = "") -> Resources:
    """The resources of ``ctx``'s run: opened by the first node that asks, then kept in ``ctx.opened`` for the
    others (and a subgraph's nodes, which see the same context). A graph invoked without a context gets
    resources of its own at each node: pass ``context=RunContext(...)`` (the CLI and Studio always do).

    ``command`` names the graph in the manifest of a run created here (LangGraph Studio threads); ``workdir``
    (a subgraph's folder inside the run) gives that folder's run directory and config with the run's gateway.
    """
    ctx = ctx or RunContext()
    key = ctx.run_dir or f"thread:{thread_id}"  # without a run directory, each thread has a run of its own
    found = ctx.opened.get(key)
    if found is None:
        config, run = await asyncio.to_thread(_open_run, ctx, thread_id, command)
        gateway = ctx.gateway if ctx.gateway is not None else await asyncio.to_thread(build_gateway, config, run)
        opened = Resources(config, run, gateway, ctx.agents or Agents(), asyncio.Semaphore(config.evolve.concurrency))
        found = ctx.opened.setdefault(key, opened)  # a node that opened it meanwhile wins: one Resources a run
    if not workdir:
        return found
    sub_key = str(found.run.path / workdir)
    sub = ctx.opened.get(sub_key)
    if sub is None:
        config, run = await asyncio.to_thread(_open_workdir, found.run.path, workdir)
        opened = Resources(config, run, found.gateway, found.agents, asyncio.Semaphore(config.evolve.concurrency))
        sub = ctx.opened.setdefault(sub_key, opened)
    return sub


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a worker thread (student work: training, merging, scoring), then the freed heap handed back.

    glibc gives each thread its own malloc arena and keeps what the thread freed there: the cycle's nodes and its
    ``Send`` branches each run in a thread of the default executor, so on a 30M-parameter student every delta left
    about 300 MB behind in its thread's arena (RSS 0.8 GB after the first delta, 2.2 GB after a round's six, 7 GB
    by the end of two rounds) until ``malloc_trim`` releases it.
    """
    try:
        return await asyncio.to_thread(fn, *args)
    finally:
        _trim_heap()


def _trim_heap() -> None:
    """glibc's ``malloc_trim(0)``: every arena's free memory back to the OS (nothing where there is no glibc)."""
    import ctypes

    with suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def thread_gateway(res: Resources) -> Gateway:
    """The run's gateway as a worker thread of the running node sees it: its calls run on this event loop
    (:class:`~evoforge.llm.on_loop.OnLoop`), so judge grades share the run's cache, limits, budget and usage."""
    from evoforge.llm.on_loop import OnLoop

    return OnLoop(res.gateway, asyncio.get_running_loop())


async def node_resources(runtime: Runtime[RunContext], command: str, workdir: str = "") -> Resources:
    """The resources of the run a node belongs to (its thread from the LangGraph config)."""
    thread = str(get_config().get("configurable", {}).get("thread_id", "default"))
    return await resources(runtime.context, thread, command, workdir)


@asynccontextmanager
async def sqlite_checkpointer(run: RunDir) -> AsyncIterator[Any]:
    """An ``AsyncSqliteSaver`` on ``<run>/checkpoints.sqlite`` (created on first use)."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with AsyncSqliteSaver.from_conn_string(str(run.file(CHECKPOINT_FILE))) as saver:
        await saver.setup()
        yield saver


@asynccontextmanager
async def run_checkpointer(run: RunDir) -> AsyncIterator[Any]:
    """The run's checkpointer: an ``AsyncPostgresSaver`` on the run-state database when ``run.database_url_env``
    is set (tables created on first use; the run's thread is its run id), else :func:`sqlite_checkpointer`."""
    url = database_url(run.config().run)
    if url is None:
        async with sqlite_checkpointer(run) as saver:
            yield saver
        return
    postgres: Any = import_extra("langgraph.checkpoint.postgres.aio", "postgres", "a PostgreSQL run database")
    from psycopg.rows import dict_row

    async with await aconnect(url, row_factory=dict_row, prepare_threshold=0) as conn:
        saver = postgres.AsyncPostgresSaver(conn)
        await saver.setup()
        yield saver


def thread_config(run: RunDir) -> dict[str, Any]:
    """The LangGraph config of a run: one thread per run, named by the run id (or by the manifest's ``thread``: a
    Self-Evolution run continued from a later round runs its new rounds on a thread of their own)."""
    thread = run.manifest().get("thread") or run.run_id
    return {"configurable": {"thread_id": thread}, "recursion_limit": 10_000}


def retried_node_error(exc: BaseException) -> bool:
    """Whether a node that raised ``exc`` is run again: a transient fault (timeout, 429, 5xx) or an LLM call lost
    to them after the gateway's retries (:class:`LLMTransportError`); 4xx and user errors fail at once."""
    return isinstance(exc, LLMTransportError) or is_transient(exc)


def llm_retry() -> RetryPolicy:
    """Retry a node only on transient faults (:func:`retried_node_error`).

    The gateway already retries each call; this catches a transient fault that escapes a node as a whole. A node
    run again is answered by the response cache for every call that had returned, so only lost calls are re-sent.
    """
    return RetryPolicy(max_attempts=3, initial_interval=1.0, retry_on=retried_node_error)
