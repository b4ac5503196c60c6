"""Running a graph from the CLI: durable (checkpoints in the run directory or the run-state database), resumable,
reviewable.

:func:`drive` runs a graph's thread until it ends or stops at a human checkpoint that nobody answers. The same
call resumes: after an interrupt, a Ctrl-C or a kill -9 it continues from the last checkpoint (the node that was
running starts again; the gateway's response cache answers the LLM calls that had already returned).
Graphs that can be resumed are registered in :data:`GRAPHS` by the ``command`` their run's manifest names; one
whose module has ``reopen(values)`` is taken up again after it completed when that returns ``(update, as_node)``
(the evolve graph's, for dataset rows lost to transport errors).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from evoforge.agents.bundle import Agents
from evoforge.console import console, info, verbosity
from evoforge.errors import ConfigError, RunDirError
from evoforge.graphs.phases import PhaseClock, phase_rows, phases_markdown, phases_table
from evoforge.graphs.review import parse_decision
from evoforge.graphs.runtime import RunContext, run_checkpointer, thread_config
from evoforge.llm.protocol import Gateway
from evoforge.llm.run_gateway import build_gateway
from evoforge.runs import RunDir

# command (as written in a run's manifest) -> module with ``build()`` and ``context_for(run, gateway)``
GRAPHS: dict[str, str] = {
    "evolve": "evoforge.graphs.evolve.graph",
    "cycle": "evoforge.graphs.cycle.graph",
    "instruct": "evoforge.graphs.instruct.graph",
    "self_evolve": "evoforge.graphs.self_evolve.graph",
}

Decider = Callable[[dict[str, Any]], dict[str, Any] | None]
Outcome = Literal["completed", "waiting"]


@dataclass
class Result:
    """How a drive ended: the outcome, the final state values and the pending checkpoint (when waiting)."""

    outcome: Outcome
    values: dict[str, Any]
    pending: dict[str, Any] | None = None


def graph_module(command: str) -> Any:
    """The module of the resumable graph that ``command`` names."""
    if command not in GRAPHS:
        raise RunDirError(f"runs of '{command}' cannot be resumed (resumable: {', '.join(sorted(GRAPHS))})")
    return importlib.import_module(GRAPHS[command])


def finished(snapshot: Any) -> bool:
    """Whether a thread's state is its graph's end: no task left to run, and none that ran without its step being
    checkpointed (a process killed between a node's saved writes and the next checkpoint leaves such a task, which
    LangGraph's ``next`` omits: the run is not over, resuming applies its writes and goes on)."""
    return not snapshot.next and not snapshot.tasks


async def drive(
    run: RunDir,
    decide: Decider,
    answer: dict[str, Any] | None = None,
    gateway: Gateway | None = None,
    agents: Agents | None = None,
    start: dict[str, Any] | None = None,
) -> Result:
    """Run or resume the graph of ``run`` until it completes or waits at an unanswered checkpoint.

    Args:
        run: the run directory; its manifest's ``command`` picks the graph, its config.yaml the settings.
        decide: answers a checkpoint payload (approve/edit/reject), or None to stop and wait.
        answer: an answer for the checkpoint the run is waiting at (used once, before ``decide``).
        gateway: an LLM gateway to use (default: one built for the run, closed at the end).
        agents: the agents bundle (default: the real agents; tests pass fakes of the real types).
        start: the graph's input when the run has not started yet (default: an empty input).
    """
    from langgraph.types import Command

    module = graph_module(run.manifest()["command"])
    owned = gateway is None
    if gateway is None:
        gateway = build_gateway(run.config(), run)
    context = RunContext(run_dir=str(run.path), gateway=gateway, agents=agents)
    config = thread_config(run)
    clock = PhaseClock(run)
    try:
        async with run_checkpointer(run) as saver:
            graph = module.build().compile(checkpointer=saver, name=run.manifest()["command"])
            snapshot = await graph.aget_state(config)
            inputs: Any = None if snapshot.values else dict(start or {})
            if snapshot.values and finished(snapshot):
                again = getattr(module, "reopen", lambda values: None)(snapshot.values)
                if again is None:
                    info(f"run {run.run_id} has already completed")
                    return Result("completed", dict(snapshot.values))
                info(f"run {run.run_id} lost rows to transport errors: sending those calls again")
                await graph.aupdate_state(config, again[0], as_node=again[1])
                snapshot = await graph.aget_state(config)
            if answer is not None and not snapshot.interrupts:
                raise ConfigError(f"run {run.run_id} is not waiting at a checkpoint: resume it without an answer")
            while True:
                if snapshot.interrupts:
                    payload = dict(snapshot.interrupts[0].value)
                    reply = answer if answer is not None else decide(payload)
                    answer = None
                    if reply is None:
                        run.update_manifest(status="awaiting_review", waiting_at=payload.get("checkpoint"))
                        return Result("waiting", dict(snapshot.values), payload)
                    reply = dict(parse_decision(reply, allow_edit="edit" in (payload.get("actions") or ())))
                    run.event(
                        "review", checkpoint=payload.get("checkpoint"), action=reply.get("action"), by=reply.get("by")
                    )
                    inputs = Command(resume=reply)
                run.update_manifest(status="running")
                parts = graph.astream(inputs, config, context=context, durability="sync", stream_mode="tasks")
                async for part in parts:
                    clock.observe(part)
                inputs = None
                snapshot = await graph.aget_state(config)
                if not snapshot.interrupts and finished(snapshot):
                    return Result("completed", dict(snapshot.values))
    finally:
        _report_phases(run)
        if owned:
            gateway.close()
            usage = gateway.usage()
            if usage.get("roles"):
                from evoforge.llm.usage import usage_markdown, usage_table
                from evoforge.report import write_section

                write_section(run.path / "report.md", "llm-usage", usage_markdown(usage))
                if verbosity() >= 1:
                    console.print(usage_table(usage, title=f"LLM usage of {run.run_id}"))


def _report_phases(run: RunDir) -> None:
    """Print the run's time per phase and write it into ``report.md`` (nothing when no node has finished yet)."""
    from evoforge.report import write_section

    rows, peak = phase_rows(run)
    if rows:
        write_section(run.path / "report.md", "phases", phases_markdown(rows, peak))
        if verbosity() >= 1:
            console.print(phases_table(rows, peak, f"time per phase of {run.run_id}"))
