"""bench/claims.py's statistics and verdicts, and its table on made-up runs (no cycle is run), and the
``cycle.steering`` switch its uniform arm sets."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from evoforge.errors import ConfigError
from evoforge.settings import load_config

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def stats() -> ModuleType:
    return _bench("claims_stats")


@pytest.fixture()
def claims(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))  # claims.py imports its helpers as a script does
    return _bench("claims")


def test_the_verdict_follows_the_printed_rule(stats: ModuleType) -> None:
    assert stats.verdict(0.01, 0.2, "a", "b") == ("holds", "a beats b by 0.010 at least")
    assert stats.verdict(-0.2, -0.05, "a", "b") == ("does not hold", "b beats a by 0.050 at least")
    assert stats.verdict(-0.2, 0.005, "a", "b")[0] == "does not hold"  # a tie: no gain of MARGIN is possible
    assert stats.verdict(0.0, 0.0)[0] == "does not hold"
    assert stats.verdict(-0.02, 0.03)[0] == "inconclusive"
    assert f"{stats.MARGIN:.2f}" in stats.RULE


def test_the_paired_bootstrap_pairs_items_and_takes_the_median_over_seeds(stats: ModuleType) -> None:
    same = [[1.0, 0.0, 1.0, 0.0] * 10] * 3
    assert stats.paired(same, same) == (0.0, 0.0, 0.0)  # paired: identical arms differ by 0 in every replicate
    better = [[1.0] * 40, [1.0] * 20 + [0.0] * 20, [0.0] * 40]
    point, low, high = stats.paired(better, [[0.0] * 40] * 3)
    assert point == 0.5 and low < 0.5 < high and low > 0.2  # the median seed, resampled
    with pytest.raises(ValueError, match="different items"):
        stats.paired([[1.0, 0.0]], [[1.0]])


def _round(n: int, scores: dict[str, list[float]], promoted: bool = True) -> dict[str, Any]:
    dev = {"e0": [1.0, 1.0, 0.0, 1.0] * 5, "selected": [0.0, 1.0, 0.0, 0.0] * 5}
    return {
        "round": n,
        "scores": scores,
        "categories": ["x"] * len(next(iter(scores.values()))),
        "dev": dev,
        "promoted": promoted,
        "plan": {"x": 4},
        "router": None,
    }


def _share(share: float, items: int = 50) -> list[float]:
    return [1.0] * int(items * share) + [0.0] * (items - int(items * share))


def _result(seed: int) -> dict[str, Any]:
    low, half, most, high = _share(0.0), _share(0.5), _share(0.8), _share(1.0)
    round1 = {"raw": low, "train@all": half, "average_merge": low, "human_merge": half, "auto_merge": most}
    arm = {"n": 10, "seconds": 1.0}
    return {
        "seed": seed,
        "rounds": [_round(1, round1), _round(2, {"raw": most, "auto_merge": high})],
        "uniform": [_round(1, round1), _round(2, {"raw": most, "auto_merge": most})],
        "arms": {
            "evolved": {**arm, "scores": high},
            "unevolved": {**arm, "scores": half},
            **{f"hard@{f:.0%}": {**arm, "scores": half, "categories": {"a": 8, "b": 2}} for f in (0.25, 0.5)},
            **{f"random@{f:.0%}": {**arm, "scores": half, "categories": {"a": 5, "b": 5}} for f in (0.25, 0.5)},
        },
        "seconds": {"steered cycle": 60.0, "uniform cycle": 60.0, "data arms": 30.0},
    }


def test_the_table_gives_each_claim_its_verdict(claims: ModuleType) -> None:
    text = claims.markdown([_result(s) for s in (1, 2, 3)], 50, ["cycle.rounds=2"])
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[2] for line in text.splitlines() if " | " in line}
    assert rows["auto_merge − train@all"] == rows["auto_merge − average_merge"] == "holds"
    assert rows["human_merge − train@all"] == "does not hold"  # a tie
    assert rows["delta on N evolved − N unevolved records (N = 10/10/10)"] == "holds"
    assert rows["top k by IFD − random k (k = 25%: 10/10/10)"] == "does not hold"
    assert "; top k is 80% a (random k: 50%) |" in text
    assert rows["λ(e0) − λ(optimised method), round 2 dev set"] == "holds"
    assert rows["round 2 best: steered − uniform seeding"] == "holds"
    assert rows["routed experts − train@all / auto_merge"] == "not measured"
    assert rows["round 2 − round 1 promoted student"] == rows["round 2 − round 1 best row"] == "holds"
    assert "round 1's table identical in the steered and uniform cycles: 3/3 seeds" in text
    assert "every uniform round seeded by round 1's even plan: 3/3 seeds" in text
    assert "7.5 min in all" in text and "verdict rule: holds" in text


def test_routed_experts_are_measured_where_the_rounds_have_the_row(claims: ModuleType) -> None:
    results = [_result(s) for s in (1, 2, 3)]
    for n, r in enumerate(results):
        r["rounds"][0]["scores"]["routed_experts"] = _share(0.9)
        r["rounds"][0]["router"] = {"accuracy": 0.7 + n / 10, "n": 50, "routed": {"x-sft": 50}}
    rows = {row[0]: row for row in claims.lmoe(results)}
    assert rows["routed_experts − train@all"][2] == rows["routed_experts − auto_merge"][2] == "holds"
    assert rows["router accuracy (round 1 test set)"][1] == "0.800 (seeds: 0.700, 0.800, 0.900)"


def test_a_round_1_that_differs_between_the_arms_makes_steering_not_comparable(claims: ModuleType) -> None:
    results = [_result(s) for s in (1, 2, 3)]
    results[1]["uniform"][0] = _round(1, {k: [0.0] * 50 for k in results[1]["rounds"][0]["scores"]})
    assert claims.feedback(results)[0][2:] == ("not comparable", "round 1 differs between the arms")
    assert "identical in the steered and uniform cycles: 2/3 seeds" in claims.round_1_check(results)


def test_cycle_steering_is_weak_categories_unless_set_to_uniform() -> None:
    assert load_config(None).cycle.steering == "weak_categories"
    assert load_config(None, ["cycle.steering=uniform"]).cycle.steering == "uniform"
    with pytest.raises(ConfigError):
        load_config(None, ["cycle.steering=random"])
