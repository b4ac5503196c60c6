"""The seed's ``draw_scores.py``: a grouped bar chart of every generation's BLEU-4 and ROUGE-1/2/L.

One group per generation (in the order given, :func:`evoforge.self_evolve.predictions.read_generations`'s natural
order), four bars in each with their values written on top, a legend and a title; drawn with matplotlib's Agg
backend as :mod:`evoforge.report` draws. The picture's size depends only on the number of generations:
``FIGURE_HEIGHT`` inches high and ``max(MIN_WIDTH, WIDTH_PER_GENERATION × n + 2)`` wide, at ``DPI``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from evoforge.errors import DataError
from evoforge.self_evolve.predictions import SCORE_KEYS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LABELS = {
    "predict_bleu-4": "BLEU-4",
    "predict_rouge-1": "ROUGE-1",
    "predict_rouge-2": "ROUGE-2",
    "predict_rouge-l": "ROUGE-L",
}
TITLE = "Self-Evolution: scores per generation"
DPI = 100
FIGURE_HEIGHT = 5.0
MIN_WIDTH = 8.0
WIDTH_PER_GENERATION = 1.4
BAR_GROUP_WIDTH = 0.8  # of the 1.0 between two groups' centres


def figure_size(generations: int) -> tuple[float, float]:
    """The figure's (width, height) in inches for ``generations`` groups; pixels are these × :data:`DPI`."""
    return max(MIN_WIDTH, WIDTH_PER_GENERATION * generations + 2), FIGURE_HEIGHT


def _series(generations: Sequence[tuple[str, Mapping[str, float]]]) -> dict[str, list[float]]:
    """Each score of :data:`SCORE_KEYS` over the generations; DataError naming a generation that lacks one."""
    series: dict[str, list[float]] = {key: [] for key in SCORE_KEYS}
    for name, results in generations:
        for key in SCORE_KEYS:
            if key not in results:
                raise DataError(f"generation '{name}' has no '{key}' score; its keys: {', '.join(sorted(results))}")
            series[key].append(float(results[key]))
    return series


def build_figure(generations: Sequence[tuple[str, Mapping[str, float]]]) -> Figure:
    """The chart as a matplotlib figure (not saved): one axes whose ``containers`` are the four bar series, in
    :data:`SCORE_KEYS` order, each with one bar per generation, labelled by :data:`LABELS`.

    Raises:
        DataError: no generations, or a generation without one of the four scores.
    """
    if not generations:
        raise DataError("no generations to draw: expected at least one generation's predict results")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    series = _series(generations)
    width = BAR_GROUP_WIDTH / len(SCORE_KEYS)
    fig = Figure(figsize=figure_size(len(generations)), dpi=DPI)
    ax = fig.subplots()
    for i, key in enumerate(SCORE_KEYS):
        xs = [g - BAR_GROUP_WIDTH / 2 + (i + 0.5) * width for g in range(len(generations))]
        bars = ax.bar(xs, series[key], width, label=LABELS[key])
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=2, rotation=90 if len(generations) > 6 else 0)
    ax.set_xticks(range(len(generations)), [name for name, _ in generations])
    top = max((value for values in series.values() for value in values), default=0.0)
    ax.set_ylim(0, max(top * 1.18, 1.0))  # room for the value labels above the highest bar
    ax.set(title=TITLE, xlabel="generation", ylabel="score (×100)")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(loc="upper left", fontsize=8, ncol=len(SCORE_KEYS))
    fig.tight_layout()
    return fig


def draw_scores(generations: Sequence[tuple[str, Mapping[str, float]]], out_png: str | Path) -> Path:
    """Draw :func:`build_figure`'s chart into the PNG ``out_png`` (its folder created when missing); returns it.

    Raises:
        DataError: as :func:`build_figure`.
    """
    out = Path(out_png)
    fig = build_figure(generations)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out
