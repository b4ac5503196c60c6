"""Driving a run's graph from a command: who answers its human checkpoints (``--interactive``, else the
``run.auto_approve`` policy) and :func:`execute`, which drives it and says how it ended.

Top-level imports stay light; the driver, LangGraph and the gateway load inside :func:`execute`.
"""

from __future__ import annotations

from typing import Any

from evoforge.console import info
from evoforge.runs import RunDir


def _decider(interactive: bool, auto_approve: bool) -> Any:
    """Who answers a checkpoint: the terminal (``interactive``), the policy (``auto_approve``), or nobody (the run
    waits there)."""
    from evoforge.graphs.review import ask_terminal, policy_decision

    if interactive:
        return ask_terminal
    return policy_decision if auto_approve else lambda payload: None


def execute(
    run: RunDir,
    interactive: bool,
    auto_approve: bool,
    answer: dict[str, Any] | None = None,
    start: dict[str, Any] | None = None,
) -> None:
    """Drive the run's graph (``start``: its input, for a new run; ``answer``: to the checkpoint it waits at), its
    checkpoints answered by the terminal or the policy, and record how it ended in the manifest."""
    import asyncio

    from evoforge.graphs.driver import drive

    with run.recording(interrupted_hint=f"resume with: evoforge resume {run.run_id} --runs-dir {run.path.parent}"):
        result = asyncio.run(drive(run, _decider(interactive, auto_approve), answer, start=start))
    if result.outcome == "waiting":
        info(
            f"run {run.run_id} waits at the checkpoint '{result.pending and result.pending.get('checkpoint')}'. "
            f"Continue with: evoforge resume {run.run_id} --runs-dir {run.path.parent} "
            "[--interactive | --approve | --reject | --edit FILE]"
        )
        return
    run.finish("completed", outputs=result.values.get("outputs"))
    info(f"run {run.run_id} completed: {run.path}")
