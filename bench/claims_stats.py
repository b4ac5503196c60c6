"""The statistics of the science benches: a paired bootstrap over test items within each seed, the median over
seeds, and the verdict rule of ``bench/claims.py``.

A figure is the median over seeds of a per-seed statistic of the test items (a mean score, or the difference of two
rows' means on the same items). Its 95% interval comes from resampling the items within each seed (the same draw for
every row of that seed, so a difference is paired) and taking the median over seeds of each replicate.
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections.abc import Callable
from pathlib import Path

REPLICATES = 1000
MARGIN = 0.01  # a gain below this (one test item in a hundred) counts as none
RULE = (
    f"holds: the 95% interval lies above 0; does not hold: its upper end is below +{MARGIN:.2f} "
    f"(any gain is under {MARGIN:.2f}, or the other arm wins); inconclusive: otherwise"
)
Stat = Callable[[list[int]], float]


def bootstrap(per_seed: list[Stat], sizes: list[int], seed: int = 0) -> tuple[float, float, float]:
    """Median over seeds of a statistic, and its 95% interval (items resampled within each seed)."""
    rng = random.Random(seed)
    point = statistics.median(f(list(range(n))) for f, n in zip(per_seed, sizes, strict=True))
    reps = []
    for _ in range(REPLICATES):
        values = [f([rng.randrange(n) for _ in range(n)]) for f, n in zip(per_seed, sizes, strict=True)]
        reps.append(statistics.median(values))
    reps.sort()
    return point, reps[int(0.025 * REPLICATES)], reps[int(0.975 * REPLICATES) - 1]


def mean_of(scores: list[float], mask: list[bool] | None = None) -> Stat:
    """The mean score over resampled items (those where ``mask`` holds, when given)."""

    def stat(idx: list[int]) -> float:
        chosen = [scores[i] for i in idx if mask is None or mask[i]]
        return sum(chosen) / len(chosen) if chosen else 0.0

    return stat


def diff(a: Stat, b: Stat) -> Stat:
    """``a − b`` on the same resampled items."""
    return lambda idx: a(idx) - b(idx)


def paired(a: list[list[float]], b: list[list[float]]) -> tuple[float, float, float]:
    """Median over seeds of mean(a) − mean(b) and its interval; ``a[s]`` and ``b[s]`` score the same items."""
    for x, y in zip(a, b, strict=True):
        if len(x) != len(y):
            raise ValueError(f"paired arms score different items ({len(x)} vs {len(y)})")
    stats = [diff(mean_of(x), mean_of(y)) for x, y in zip(a, b, strict=True)]
    return bootstrap(stats, [len(x) for x in a])


def verdict(low: float, high: float, a: str = "A", b: str = "B", margin: float = MARGIN) -> tuple[str, str]:
    """The verdict on "``a`` beats ``b``" from the interval of a − b, and why (one clause); the rule is :data:`RULE`."""
    if low > 0:
        return "holds", f"{a} beats {b} by {low:.3f} at least"
    if high < 0:
        return "does not hold", f"{b} beats {a} by {-high:.3f} at least"
    if high < margin:
        return "does not hold", f"a tie: any gain is {max(high, 0):.3f} at most"
    return "inconclusive", f"the interval spans 0 ({low:+.3f} to {high:+.3f})"


def cell(values: tuple[float, float, float]) -> str:
    """``median [low, high]`` with three decimals."""
    point, low, high = values
    return f"{point:+.3f} [{low:+.3f}, {high:+.3f}]"


def seeds_parser(doc: str | None, out: str) -> argparse.ArgumentParser:
    """The options of a bench that runs the quickstart over seeds: ``--seeds``, ``--n-test``, ``--set``, ``--keep``
    and ``--out`` (default ``<runs>/<out>``)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--n-test", type=int, default=300)
    parser.add_argument("--set", action="append", default=[], help="extra section.key=value overrides")
    parser.add_argument("--keep", type=Path, help="runs folder to keep (default: a temporary one)")
    parser.add_argument("--out", type=Path, help=f"markdown output (default: <runs>/{out})")
    return parser
