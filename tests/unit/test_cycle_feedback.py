"""Feedback between rounds: weak categories get more seeds, deterministically, with reasons."""

from __future__ import annotations

from evoforge.cycle.steering import allocate, steer


def test_allocation_follows_error_rates_and_sums_to_total() -> None:
    plan = allocate(100, {"arithmetic": 0.9, "strings": 0.1, "format": 0.5, "instruct": 0.5})
    assert sum(plan.values()) == 100
    assert plan["arithmetic"] > plan["format"] == plan["instruct"] > plan["strings"]
    assert plan["strings"] >= 2  # the floor keeps every category alive


def test_allocation_is_even_when_nothing_fails() -> None:
    assert allocate(8, {"a": 0.0, "b": 0.0}) == {"a": 4, "b": 4}
    assert allocate(7, {"a": 0.0, "b": 0.0}) == {"a": 4, "b": 3}


def test_steer_records_reasons_and_raises_level_for_hard_failures() -> None:
    failed = [{"category": "arithmetic", "level": 3, "correct": False}] * 3
    out = steer(40, {"arithmetic": 0.2, "strings": 0.8}, failed, max_level=3)
    assert out["plan"]["arithmetic"] > out["plan"]["strings"]
    assert out["max_level"] == 4
    assert out["reasons"][0].startswith("arithmetic: score 0.20")
    easy = steer(40, {"arithmetic": 0.2}, [{"category": "arithmetic", "level": 1, "correct": False}], 3)
    assert easy["max_level"] == 3


def test_steer_scales_scores_by_the_metric_ceiling() -> None:
    bleu = steer(40, {"arithmetic": 20.0, "strings": 80.0}, [], max_level=3, ceiling=100.0)
    exact = steer(40, {"arithmetic": 0.2, "strings": 0.8}, [], max_level=3)
    assert bleu["plan"] == exact["plan"] and bleu["plan"]["arithmetic"] > bleu["plan"]["strings"]
