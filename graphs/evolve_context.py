"""Runtime context of the ``evolve`` graph and the per-run resources built from it.

The context is what LangGraph passes to every node as ``runtime.context``. Every field has a default so that
LangGraph Studio can build it from nothing: with no ``run_dir`` a run directory is created under
``run.runs_dir`` and named after the thread; with no ``gateway`` one is built for the run (its response cache in
the run directory). The CLI passes its run directory and gateway explicitly.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evoforge.config import Config, load_config
from evoforge.runs import RunDir

GRAPH_COMMAND = "evolve"


@dataclass(kw_only=True)
class EvolveContext:
    """What the evolve graph's nodes need besides the state."""

    config_path: str = field(
        default="",
        metadata={"description": "YAML configuration; empty = the run's snapshot, or the built-in defaults."},
    )
    run_dir: str = field(
        default="",
        metadata={"description": "Run directory; empty = a new one under run.runs_dir named after the thread."},
    )
    gateway: Any = field(
        default=None,
        repr=False,
        metadata={"description": "An LLMGateway; None = built lazily for the run (response cache in the run dir)."},
    )


@dataclass
class Resources:
    """The live objects of one run inside one event loop: config, run directory, gateway, concurrency limit."""

    config: Config
    run: RunDir
    gateway: Any
    limiter: asyncio.Semaphore

    def path(self, relative: str) -> Path:
        """Resolve a run-dir-relative path held in the state."""
        return self.run.path / relative

    def file(self, *parts: str) -> tuple[Path, str]:
        """A new file in the run directory: its absolute path and the relative name kept in the state."""
        return self.run.file(*parts), "/".join(parts)


_OPEN: dict[tuple[str, int, int], Resources] = {}


def _open_run(ctx: EvolveContext, thread_id: str, command: str) -> tuple[Config, RunDir]:
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


def build_gateway(config: Config, run: RunDir) -> Any:
    """The LLM gateway of a run, with its SQLite response cache in the run directory."""
    from evoforge.llm.gateway import LLMGateway

    cache = run.file("llm_cache.sqlite") if config.llm.cache else None
    return LLMGateway(config.llm, cache_path=cache, run=run)


async def resources(ctx: EvolveContext | None, thread_id: str, command: str = GRAPH_COMMAND) -> Resources:
    """The resources for ``ctx`` in the running event loop (built once, then reused by every node).

    ``command`` names the graph in the manifest of a run created here (LangGraph Studio threads).
    """
    ctx = ctx or EvolveContext()
    loop = asyncio.get_running_loop()
    key = (ctx.run_dir or f"thread:{thread_id}", id(ctx.gateway), id(loop))
    found = _OPEN.get(key)
    if found is None:
        config, run = await asyncio.to_thread(_open_run, ctx, thread_id, command)
        gateway = ctx.gateway if ctx.gateway is not None else await asyncio.to_thread(build_gateway, config, run)
        found = Resources(config, run, gateway, asyncio.Semaphore(config.evolve.concurrency))
        _OPEN[key] = found
    return found


def release(run_dir: str) -> None:
    """Forget the resources built for the run directory ``run_dir`` (the caller closes the gateway it owns)."""
    for key in [k for k in _OPEN if k[0] == run_dir]:
        del _OPEN[key]
