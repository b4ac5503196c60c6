"""``report.md`` of a run, composed of named sections that each step writes or replaces.

Each section sits between ``<!-- section:NAME -->`` and ``<!-- /section:NAME -->`` markers, so a step that
runs again (a resumed run, the next round) replaces its own section instead of appending a duplicate.
Charts are PNG files beside the report, drawn with matplotlib's Agg backend.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from evoforge.runs import atomic_write_text

TITLE = "# evoforge run report\n"


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- section:{name} -->", f"<!-- /section:{name} -->"


def write_section(report: Path, name: str, markdown: str) -> None:
    """Insert or replace section ``name`` of ``report`` (created when missing), atomically."""
    start, end = _markers(name)
    block = f"{start}\n{markdown.strip()}\n{end}\n"
    text = report.read_text(encoding="utf-8") if report.is_file() else TITLE
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    text = pattern.sub(lambda _: block, text, count=1) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block
    atomic_write_text(report, text)


def read_section(report: Path, name: str) -> str | None:
    """The markdown of section ``name``, or None when absent."""
    if not report.is_file():
        return None
    start, end = _markers(name)
    match = re.search(re.escape(start) + r"\n(.*?)\n" + re.escape(end), report.read_text(encoding="utf-8"), re.DOTALL)
    return match.group(1) if match else None


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table; floats are shown with 3 decimals."""

    def cell(value: object) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def line_chart(path: Path, series: Mapping[str, Sequence[float]], title: str, xlabel: str, ylabel: str) -> Path:
    """Draw one line per series (x = 0, 1, 2, ...) into a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    for label, values in series.items():
        ax.plot(range(len(values)), list(values), marker="o", label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def bar_chart(path: Path, groups: dict[str, dict[str, float]], title: str, ylabel: str) -> Path:
    """Grouped bars: one group per key of ``groups`` (e.g. a round), one bar per inner key (e.g. a model), the bars
    in the order the groups first list them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys(name for bars in groups.values() for name in bars))
    width = 0.8 / max(len(labels), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(max(7.5, 1.5 + 1.2 * len(groups) * len(labels) / 3), 3.8), dpi=110)
    for i, label in enumerate(labels):
        xs = [g + i * width for g in range(len(groups))]
        ax.bar(xs, [bars.get(label, 0.0) for bars in groups.values()], width, label=label)
    ax.set_xticks([g + width * (len(labels) - 1) / 2 for g in range(len(groups))], list(groups))
    ax.set(title=title, ylabel=ylabel)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the bars, never over them
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
