"""Per-phase wall time of a run: every top-level node of its graph, timed from LangGraph's task events.

:class:`PhaseClock` reads the driver's ``stream_mode="tasks"`` parts (a task's start, then its result) and appends a
``phase`` event per finished task to the run's ``events.jsonl``; :func:`phase_rows` folds them into one row per
node: how often it ran, its wall time (the union of its tasks' intervals, so parallel branches such as a round's
deltas count once) and how much its tasks raised the process's peak RSS (where the memory went; worker processes are
not counted; the total row shows the peak itself). A resumed run adds its own events; the table covers every session.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
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
            error = part.get("error") is not None
            self.run.event("phase", node=name, start=round(start, 3), seconds=seconds, error=error, peak_rss=_peak())


def _peak() -> int:
    """This process's peak resident set size so far, in bytes: Linux's VmHWM (``ru_maxrss`` carries a parent's
    peak over ``exec``), else ``ru_maxrss``."""
    import resource
    import sys

    status = Path("/proc/self/status")
    for line in status.read_text().splitlines() if status.is_file() else []:
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


Row = tuple[str, int, float, float]  # node, tasks, wall seconds, GB its tasks raised the peak RSS by


def phase_rows(run: RunDir) -> tuple[list[Row], float]:
    """A :data:`Row` per node, in the order the nodes first ran, and the peak RSS in GB, from the ``phase`` events."""
    intervals: dict[str, list[tuple[float, float]]] = {}
    rises: dict[str, float] = {}
    peak = highest = 0.0
    events = run.path / "events.jsonl"
    lines = events.read_text(encoding="utf-8").splitlines() if events.is_file() else []
    for line in lines:
        event = json.loads(line)
        if event.get("event") == "phase":
            intervals.setdefault(event["node"], []).append((event["start"], event["start"] + event["seconds"]))
            now = event.get("peak_rss", 0) / 1e9
            rises[event["node"]] = rises.get(event["node"], 0.0) + (max(0.0, now - peak) if peak else 0.0)
            peak, highest = now, max(highest, now)
    return [(node, len(spans), _union(spans), rises[node]) for node, spans in intervals.items()], highest


def _union(spans: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for start, stop in sorted(spans):
        total += max(0.0, stop - max(start, end))
        end = max(end, stop)
    return total


def _display(rows: list[Row], peak: float) -> list[list[str]]:
    total = sum(row[2] for row in rows)
    lines = [
        [node, str(n), f"{wall:.1f}", f"{wall / (total or 1):.0%}", f"+{rise:.2f}"] for node, n, wall, rise in rows
    ]
    return [*lines, ["total", str(sum(row[1] for row in rows)), f"{total:.1f}", "100%", f"peak {peak:.2f}"]]


HEADER = ("phase (graph node)", "tasks", "wall s", "share", "peak RSS GB")


def phases_markdown(rows: list[Row], peak: float) -> str:
    """The report's ``phases`` section: one line per node and the total (``peak``: the run's peak RSS in GB)."""
    return "## Time per phase\n\n" + markdown_table(HEADER, _display(rows, peak))


def phases_table(rows: list[Row], peak: float, title: str) -> object:
    """The same as a rich Table, printed at the end of a drive."""
    from rich.table import Table

    table = Table(*HEADER, title=title)
    for line in _display(rows, peak):
        table.add_row(*line)
    return table
