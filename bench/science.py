"""Does the loop make the student better? The quickstart cycle over several seeds, scored by exact match.

Each seed runs ``evoforge run`` (the quickstart config, with the metric set to exact match and a test set of
``--n-test`` items) in a fresh runs directory, then reads every table row's per-example test scores
(``rounds/<n>/evals/test-<row>.json``). A figure is the median over the seeds; its 95% interval comes from a
bootstrap that resamples the test items within each seed (paired across rows, so a difference such as
``train@all − raw`` resamples both sides together) and takes the median over seeds of each replicate.

    .venv/bin/python bench/science.py [--seeds 42 43 44] [--n-test 300] [--set key=value ...] [--keep DIR]

With ``--keep DIR``, a seed whose run in DIR has finished is read again rather than run again.

It prints the targets of the issue "The embedded default proves the loop" with the measured figures and whether
each is met, and writes the same table as markdown to ``--out`` (default: science.md in the runs folder).
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from claims_runs import read_rounds, run_cycle
from claims_stats import bootstrap, diff, mean_of, seeds_parser

Scores = dict[str, list[float]]  # table row → per-example test scores (the same item order in every row)


def run_seed(runs: Path, seed: int, n_test: int, extra: Sequence[str]) -> dict[str, Any]:
    """Run the quickstart cycle with ``seed``; returns per round: test rows, per-example scores, λ, categories."""
    sets = [f"run.seed={seed}", "eval.metric=exact_match", f"world.n_eval={n_test}", *extra]
    run, seconds = run_cycle(runs, f"seed-{seed}", sets)
    return {"seed": seed, "rounds": read_rounds(run), "seconds": seconds}


def _category(delta: str) -> str:
    """The chunk (category) a delta ``<chunk>-<method>`` was trained on."""
    return delta.rsplit("-", 1)[0]


def at_least(threshold: float, also: bool = True) -> Callable[[float], bool]:
    """A target check: the figure is ≥ ``threshold`` (and ``also`` holds)."""
    return lambda v: v >= threshold and also


def table(results: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """Rows (figure, measured median [95% interval], target, met?)."""
    r1 = [r["rounds"][0] for r in results]
    sizes = [len(r["categories"]) for r in r1]
    rows: list[tuple[str, str, str, str]] = []

    def add(name: str, stats: list[Callable[[list[int]], float]], target: str, ok: Callable[[float], bool]) -> None:
        point, low, high = bootstrap(stats, sizes)
        rows.append((name, f"{point:.3f} [{low:.3f}, {high:.3f}]", target, "yes" if ok(point) else "no"))

    raw = [mean_of(r["scores"]["raw"]) for r in r1]
    add("raw (round 1)", raw, "≤ 0.30", lambda v: v <= 0.30)
    if all("train@all" in r["scores"] for r in r1):
        add(
            "train@all − raw",
            [diff(mean_of(r["scores"]["train@all"]), f) for r, f in zip(r1, raw, strict=True)],
            "≥ +0.25",
            lambda v: v >= 0.25,
        )
    deltas = sorted({k.removeprefix("train@") for r in r1 for k in r["scores"] if k.startswith("train@")} - {"all"})
    categories = {c for r in r1 for c in r["categories"]}
    for d in (d for d in deltas if _category(d) not in categories):  # e.g. the preference pairs' DPO delta
        stats = [diff(mean_of(r["scores"][f"train@{d}"]), f) for r, f in zip(r1, raw, strict=True)]
        add(f"train@{d} − raw", stats, "reported", lambda v: True)
    for d in (d for d in deltas if _category(d) in categories):
        own = [[c == _category(d) for c in r["categories"]] for r in r1]
        gain = [
            diff(mean_of(r["scores"][f"train@{d}"], m), mean_of(r["scores"]["raw"], m))
            for r, m in zip(r1, own, strict=True)
        ]
        most_on_own = statistics.median(float(_gains_most(r, d)) for r in r1) >= 0.5  # add() applies it at once
        add(
            f"train@{d} − raw on {_category(d)}",
            gain,
            "≥ +0.15, gains most on own",
            at_least(0.15, most_on_own),
        )
    for merge in ("average_merge", "human_merge", "auto_merge"):
        if all(merge in r["scores"] for r in r1):
            stats = [diff(mean_of(r["scores"][merge]), mean_of(r["scores"]["train@all"])) for r in r1]
            target = "≥ −0.03" if merge == "auto_merge" else "reported"
            add(
                f"{merge} − train@all",
                stats,
                target,
                (lambda v: v >= -0.03) if merge == "auto_merge" else (lambda v: True),
            )
    if all(len(r["rounds"]) > 1 for r in results):
        r2 = [r["rounds"][1] for r in results]
        add(
            "round 2 raw − round 1 raw",
            [diff(mean_of(b["scores"]["raw"]), mean_of(a["scores"]["raw"])) for a, b in zip(r1, r2, strict=True)],
            "≥ +0.10",
            lambda v: v >= 0.10,
        )
        bests = [diff(_best(b), _best(a)) for a, b in zip(r1, r2, strict=True)]
        add("round 2 best − round 1 best", bests, "≥ 0", lambda v: v >= 0.0)
    falls = [all(rd["lambda"] and rd["lambda"][-1] < rd["lambda"][0] for rd in r["rounds"]) for r in results]
    rows.append(
        (
            "λ falls from e0 in every round",
            f"{sum(falls)}/{len(falls)} seeds",
            "every round",
            "yes" if all(falls) else "no",
        )
    )
    return rows


def _gains_most(round_result: dict[str, Any], delta: str) -> bool:
    scores, cats = round_result["scores"], round_result["categories"]
    gains = {}
    for c in sorted(set(cats)):
        mask = [x == c for x in cats]
        gains[c] = mean_of(scores[f"train@{delta}"], mask)(list(range(len(cats)))) - mean_of(scores["raw"], mask)(
            list(range(len(cats)))
        )
    return max(gains, key=lambda c: gains[c]) == _category(delta)


def _best(round_result: dict[str, Any]) -> Callable[[list[int]], float]:
    stats = [mean_of(s) for s in round_result["scores"].values()]
    return lambda idx: max(f(idx) for f in stats)


def markdown(rows: list[tuple[str, str, str, str]], results: list[dict[str, Any]]) -> str:
    """The table as markdown, with the seeds and their wall times."""
    lines = ["| figure | median [95% CI] | target | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    seeds = ", ".join(f"{r['seed']} ({r['seconds'] / 60:.1f} min)" for r in results)
    lam = [
        f"- seed {r['seed']}: "
        + "; ".join(f"round {rd['round']} " + " → ".join(f"{x:.3f}" for x in rd["lambda"]) for rd in r["rounds"])
        for r in results
    ]
    return "\n".join(
        [*lines, "", f"seeds: {seeds}; exact match on the fixed test set", "", "λ (e0, start, each step):", *lam]
    )


def main() -> None:
    """Run the seeds, print and write the table."""
    args = seeds_parser(__doc__, "science.md").parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = args.keep or Path(tmp)
        results = [run_seed(runs, s, args.n_test, args.set) for s in args.seeds]
        text = markdown(table(results), results)
        print(text)
        (args.out or runs / "science.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
