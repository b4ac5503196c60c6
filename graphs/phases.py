"""Per-phase wall time of a run: every top-level node of its graph, timed from LangGraph's task events.

:class:`PhaseClock` reads the driver's ``stream_mode="tasks"`` parts (a task's start, then its result) and appends a
``phase`` event per finished task to the run's ``events.jsonl``; :func:`phase_rows` folds them into one row per
node: how often it ran and its wall time (the union of its tasks' intervals, so parallel branches such as a
round's deltas count once). A resumed run adds its own events; the table covers every session of the run.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from evoforge.report import markdown_table

if TYPE_CHECKING:
    from evoforge.runs import RunDir


class PhaseClock:
    """Times the top-level tasks of one drive of ``run``'s graph."""

    def __init__(self, run: RunDir) -> None:
        self.run = run
        self.started: dict[str, tuple[str, float]] = {}

    def observe(self, part: dict[str, Any]) -> None:
        """Note a task's start (a part with ``input``) or record its end (a part with ``result``) as an event."""
        if "input" in part:
            self.started[part["id"]] = (part["name"], time.time())
        elif part.get("id") in self.started:
            name, start = self.started.pop(part["id"])
            seconds = round(time.time() - start, 3)
            self.run.event(
                "phase", node=name, start=round(start, 3), seconds=seconds, error=part.get("error") is not None
            )


def phase_rows(run: RunDir) -> list[tuple[str, int, float]]:
    """(node, tasks, wall seconds) per node in the order the nodes first ran, from the run's ``phase`` events."""
    intervals: dict[str, list[tuple[float, float]]] = {}
    events = run.path / "events.jsonl"
    lines = events.read_text(encoding="utf-8").splitlines() if events.is_file() else []
    for line in lines:
        event = json.loads(line)
        if event.get("event") == "phase":
            intervals.setdefault(event["node"], []).append((event["start"], event["start"] + event["seconds"]))
    return [(node, len(spans), _union(spans)) for node, spans in intervals.items()]


def _union(spans: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for start, stop in sorted(spans):
        total += max(0.0, stop - max(start, end))
        end = max(end, stop)
    return total


def _display(rows: list[tuple[str, int, float]]) -> list[list[str]]:
    total = sum(wall for _, _, wall in rows)
    lines = [[node, str(n), f"{wall:.1f}", f"{wall / (total or 1):.0%}"] for node, n, wall in rows]
    return [*lines, ["total", str(sum(n for _, n, _ in rows)), f"{total:.1f}", "100%"]]


def phases_markdown(rows: list[tuple[str, int, float]]) -> str:
    """The report's ``phases`` section: phase | tasks | wall s | share of the phases' total."""
    return "## Time per phase\n\n" + markdown_table(["phase (graph node)", "tasks", "wall s", "share"], _display(rows))


def phases_table(rows: list[tuple[str, int, float]], title: str) -> object:
    """The same as a rich Table, printed at the end of a drive."""
    from rich.table import Table

    table = Table("phase", "tasks", "wall s", "share", title=title)
    for line in _display(rows):
        table.add_row(*line)
    return table
