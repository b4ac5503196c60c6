"""Feedback between rounds: the evaluation's weak categories steer the next round's seed data.

The next round draws more seeds for the categories the promoted student scores worst on, in proportion to its
error rate there (with a floor so no category disappears), and raises their complexity when the student failed
mostly on hard items. Every decision is recorded with its reason so the report can say what was steered and why.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

MIN_SHARE = 0.1  # no category gets less than this share of an equal split


def allocate(total: int, errors: Mapping[str, float], min_share: float = MIN_SHARE) -> dict[str, int]:
    """Split ``total`` seeds over categories in proportion to their error rate (1 - score), with a floor.

    Ties and rounding are resolved deterministically (largest remainder, then category name), so the same
    scores always give the same plan; the counts always add up to ``total``.
    """
    if not errors:
        return {}
    cats = sorted(errors)
    floor = min_share / len(cats)
    raw = {c: max(errors[c], 0.0) for c in cats}
    mass = sum(raw.values())
    shares = {c: (raw[c] / mass if mass > 0 else 1 / len(cats)) for c in cats}
    shares = {c: floor + (1 - floor * len(cats)) * s for c, s in shares.items()}
    exact = {c: total * s for c, s in shares.items()}
    plan = {c: int(v) for c, v in exact.items()}
    order = sorted(cats, key=lambda c: (-(exact[c] - plan[c]), c))
    for c in order[: total - sum(plan.values())]:
        plan[c] += 1
    return plan


def failure_levels(examples: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Mean complexity level of the failed examples per category (examples carry category, level, correct)."""
    levels: dict[str, list[int]] = defaultdict(list)
    for ex in examples:
        if not ex.get("correct") and ex.get("level") is not None:
            levels[str(ex.get("category"))].append(int(ex["level"]))
    return {c: sum(v) / len(v) for c, v in sorted(levels.items())}


def steer(
    total: int,
    per_category: Mapping[str, float],
    failed: Sequence[Mapping[str, Any]],
    max_level: int,
    ceiling: float = 1.0,
    unit: str = "seeds",
) -> dict[str, Any]:
    """The next round's seed plan from the promoted student's per-category scores and failed examples.

    ``ceiling`` is the metric's best score (1 for exact match, 100 for BLEU-4/ROUGE); ``unit`` names what the plan
    counts in its reasons (``records`` on the instruct graph).
    Returns ``{"plan": {category: n}, "max_level": L, "reasons": [...]}``.
    """
    errors = {c: 1.0 - s / ceiling for c, s in per_category.items()}
    plan = allocate(total, errors)
    reasons = [
        f"{c}: score {per_category[c]:.2f} → {plan[c]} {unit}" for c in sorted(plan, key=lambda c: (per_category[c], c))
    ]
    levels = failure_levels(failed)
    level = max_level
    if levels and max(levels.values()) >= max_level - 0.5:
        level = max_level + 1
        reasons.append(f"failures concentrate on level ≥ {max_level - 0.5:.1f}: seeds up to level {level}")
    return {"plan": plan, "max_level": level, "reasons": reasons}
