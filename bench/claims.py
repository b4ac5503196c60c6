"""Do the seeds' claims hold here? Each claim as an A/B on the same seeds and the same fixed test set.

Per seed it runs the quickstart cycle twice (``evoforge run``: bad-case steering, the default, and
``cycle.steering=uniform``; same ``run.seed``, so round 1 is the same run, which the bench checks), then the data
ablations of ``bench/claims_arms.py`` on the steered run's round 1 (evolved vs unevolved records, IFD top-k vs random
k). A figure is the median over seeds of A − B on the same items; its 95% interval comes from a paired bootstrap over
the items within each seed (``bench/claims_stats.py``, which also states the verdict rule).

    .venv/bin/python bench/claims.py [--seeds 42 43 44] [--n-test 300] [--set key=value ...] [--keep DIR]
        [--out FILE]

``--set`` passes through to both cycles (``cycle.rounds=4``: the loop's rows follow). With ``--keep DIR`` a run
(and an ablation arm) that finished in DIR is read again rather than run again: the table re-prints in seconds.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from claims_arms import data_arms
from claims_runs import read_rounds, run_cycle
from claims_stats import RULE, Stat, bootstrap, cell, diff, mean_of, paired, seeds_parser, verdict

from evoforge.settings import load_config

FRACTIONS = (0.25, 0.5)
MINUTES_PER_ROUND = 1.5  # the quickstart's round on a 2-core machine (for the estimate printed first)
ARMS_MINUTES = 3.0  # the data arms of one seed there
Row = tuple[str, str, str, str]  # claim, A − B median [95% CI], verdict, why


def run_seed(runs: Path, seed: int, n_test: int, extra: Sequence[str]) -> dict[str, Any]:
    """Both cycles and the data arms of ``seed``; returns their rounds, arm scores and wall times."""
    sets = [f"run.seed={seed}", "eval.metric=exact_match", f"world.n_eval={n_test}", *extra]
    steered, steered_s = run_cycle(runs, f"seed-{seed}", sets)
    uniform, uniform_s = run_cycle(runs, f"uniform-{seed}", [*sets, "cycle.steering=uniform"])
    arms, arms_s = data_arms(steered, FRACTIONS)
    return {
        "seed": seed,
        "rounds": read_rounds(steered),
        "uniform": read_rounds(uniform),
        "arms": arms,
        "seconds": {"steered cycle": steered_s, "uniform cycle": uniform_s, "data arms": arms_s},
    }


def _best(scores: dict[str, list[float]]) -> Stat:
    stats = [mean_of(s) for s in scores.values()]
    return lambda idx: max(f(idx) for f in stats)


def _promoted(rnd: dict[str, Any]) -> Stat:
    return mean_of(rnd["scores"]["auto_merge" if rnd["promoted"] else "raw"])


def _claim(name: str, stats: list[Stat], sizes: list[int], a: str, b: str) -> Row:
    point, low, high = bootstrap(stats, sizes)
    return (name, cell((point, low, high)), *verdict(low, high, a, b))


def _ab(name: str, a: list[list[float]], b: list[list[float]], names: tuple[str, str]) -> Row:
    """A claim row: ``a`` − ``b`` per seed on the same items (``names``: how the verdict calls the two arms)."""
    point, low, high = paired(a, b)
    return (name, cell((point, low, high)), *verdict(low, high, *names))


def autollm(results: list[dict[str, Any]]) -> list[Row]:
    """AutoLLM's rows of round 1: the searched merge against train@all and the average, a person's guess against
    train@all."""
    r1 = [r["rounds"][0]["scores"] for r in results]
    pairs = (("auto_merge", "train@all"), ("auto_merge", "average_merge"), ("human_merge", "train@all"))
    return [
        _ab(f"{a} − {b}", [s[a] for s in r1], [s[b] for s in r1], (a, b))
        for a, b in pairs
        if all(a in s and b in s for s in r1)
    ]


def _arms(results: list[dict[str, Any]], name: str, a: str, b: str) -> Row:
    """A data-ablation row: arm ``a`` − arm ``b`` on the test set."""
    arms = [r["arms"] for r in results]
    return _ab(name, [x[a]["scores"] for x in arms], [x[b]["scores"] for x in arms], (a, b))


def evol(results: list[dict[str, Any]]) -> list[Row]:
    """Auto Evol-Instruct: evolved − unevolved records (same N, same generator), and λ's drop from e0 on dev."""
    n = "/".join(str(r["arms"]["evolved"]["n"]) for r in results)
    rows = [_arms(results, f"delta on N evolved − N unevolved records (N = {n})", "evolved", "unevolved")]
    for k in range(min(len(r["rounds"]) for r in results)):
        dev = [r["rounds"][k]["dev"] for r in results]
        name = f"λ(e0) − λ(optimised method), round {k + 1} dev set"
        rows.append(_ab(name, [d["e0"] for d in dev], [d["selected"] for d in dev], ("optimised", "e0")))
    return rows


def cherry(results: list[dict[str, Any]]) -> list[Row]:
    """Cherry / Self-Evolution: the top k by IFD (``hard``) − k at random, at each fraction of round 1's records; the
    why names the category the top k over-represents most (over the seeds)."""
    rows = []
    for f in FRACTIONS:
        hard, rand = f"hard@{f:.0%}", f"random@{f:.0%}"
        k = "/".join(str(r["arms"][hard]["n"]) for r in results)
        row = _arms(results, f"top k by IFD − random k (k = {f:.0%}: {k})", hard, rand)
        rows.append((*row[:3], f"{row[3]}; {_skew(results, hard, rand)}"))
    return rows


def _skew(results: list[dict[str, Any]], a: str, b: str) -> str:
    """Which category arm ``a``'s records hold most more of than arm ``b``'s, as shares over every seed."""
    counts = {arm: Counter[str]() for arm in (a, b)}
    for arm, total in counts.items():
        for r in results:
            total.update(r["arms"][arm].get("categories") or {})
    if not all(counts.values()):
        return "categories not recorded"
    share = {arm: {c: n / sum(total.values()) for c, n in total.items()} for arm, total in counts.items()}
    top = max(share[a], key=lambda c: share[a][c] - share[b].get(c, 0.0))
    return f"top k is {share[a][top]:.0%} {top} (random k: {share[b].get(top, 0.0):.0%})"


def _same_round_1(result: dict[str, Any]) -> bool:
    return bool(result["rounds"][0]["scores"] == result["uniform"][0]["scores"])


def round_1_check(results: list[dict[str, Any]]) -> str:
    """Whether round 1 is the same run in the steered and uniform cycles, and every uniform round kept its plan."""
    same = sum(_same_round_1(r) for r in results)
    even = sum(all(rd["plan"] == r["uniform"][0]["plan"] for rd in r["uniform"]) for r in results)
    return (
        f"round 1's table identical in the steered and uniform cycles: {same}/{len(results)} seeds; "
        f"every uniform round seeded by round 1's even plan: {even}/{len(results)} seeds"
    )


def feedback(results: list[dict[str, Any]]) -> list[Row]:
    """Our feedback: each later round's best row with bad-case steering − with uniform seeding (not comparable where
    round 1 differs between the two cycles)."""
    rounds = min(min(len(r["rounds"]), len(r["uniform"])) for r in results)
    sizes = [len(r["rounds"][0]["categories"]) for r in results]
    rows = []
    for k in range(1, rounds):
        stats = [diff(_best(r["rounds"][k]["scores"]), _best(r["uniform"][k]["scores"])) for r in results]
        row = _claim(f"round {k + 1} best: steered − uniform seeding", stats, sizes, "steering", "uniform")
        same = all(_same_round_1(r) for r in results)
        rows.append(row if same else (*row[:2], "not comparable", "round 1 differs between the arms"))
    return rows


def lmoe(results: list[dict[str, Any]]) -> list[Row]:
    """airoboros' LMoE: routed experts − train@all and − auto_merge (round 1), and the router's accuracy."""
    r1 = [r["rounds"][0] for r in results]
    if not all("routed_experts" in r["scores"] for r in r1):
        return [("routed experts − train@all / auto_merge", "—", "not measured", "no routed_experts row in this run")]
    scores = [r["scores"] for r in r1]
    rows = [
        _ab(f"routed_experts − {b}", [s["routed_experts"] for s in scores], [s[b] for s in scores], ("routed", b))
        for b in ("train@all", "auto_merge")
    ]
    acc = [r["router"]["accuracy"] for r in r1 if r["router"] and r["router"].get("accuracy") is not None]
    figure = f"{statistics.median(acc):.3f} (seeds: {', '.join(f'{a:.3f}' for a in acc)})" if acc else "—"
    rows.append(("router accuracy (round 1 test set)", figure, "reported", "routes each test prompt to an expert"))
    return rows


def loop(results: list[dict[str, Any]]) -> list[Row]:
    """The loop: each round's best row and promoted student, and each round-to-round rise."""
    sizes = [len(r["rounds"][0]["categories"]) for r in results]
    rounds = min(len(r["rounds"]) for r in results)
    rows: list[Row] = []
    for name, of in (("best row", lambda rd: _best(rd["scores"])), ("promoted student", _promoted)):
        for k in range(rounds):
            point, low, high = bootstrap([of(r["rounds"][k]) for r in results], sizes)
            rows.append((f"round {k + 1} {name}", f"{point:.3f} [{low:.3f}, {high:.3f}]", "", ""))
            if k:
                stats = [diff(of(r["rounds"][k]), of(r["rounds"][k - 1])) for r in results]
                rows.append(_claim(f"round {k + 1} − round {k} {name}", stats, sizes, f"round {k + 1}", f"round {k}"))
            elif of is _promoted:  # the first rise: over the raw student round 1 started from
                stats = [diff(of(r["rounds"][0]), mean_of(r["rounds"][0]["scores"]["raw"])) for r in results]
                rows.append(_claim(f"round 1 {name} − raw student", stats, sizes, "round 1", "the raw student"))
    return rows


GROUPS: tuple[tuple[str, Callable[[list[dict[str, Any]]], list[Row]]], ...] = (
    ("AutoLLM (round 1 table)", autollm),
    ("Auto Evol-Instruct", evol),
    ("Cherry / Self-Evolution (round 1's records, raw student)", cherry),
    ("airoboros LMoE", lmoe),
    ("Our feedback", feedback),
    ("The loop (steered cycle)", loop),
)


def markdown(results: list[dict[str, Any]], n_test: int, extra: Sequence[str]) -> str:
    """The claims table as markdown, with the seeds, the rule, the round-1 check and the wall times."""
    lines = ["| claim | A − B: median [95% CI] | verdict | why |", "|---|---|---|---|"]
    for title, rows in ((t, f(results)) for t, f in GROUPS):
        lines += [f"| **{title}** | | | |", *(f"| {' | '.join(r)} |" for r in rows)]
    seeds = ", ".join(str(r["seed"]) for r in results)
    settings = " ".join(["eval.metric=exact_match", f"world.n_eval={n_test}", *extra])
    times = [
        f"- seed {r['seed']}: "
        + ", ".join(f"{arm} {s / 60:.1f} min" for arm, s in r["seconds"].items())
        + " (train and score: "
        + ", ".join(f"{arm} {a['seconds']:.0f} s" for arm, a in r["arms"].items())
        + ")"
        for r in results
    ]
    total = sum(s for r in results for s in r["seconds"].values())
    return "\n".join(
        [
            *lines,
            "",
            f"seeds: {seeds}; the quickstart with {settings}; {n_test} test items, exact match",
            f"verdict rule: {RULE}",
            round_1_check(results),
            "",
            f"wall time: {total / 60:.1f} min in all",
            *times,
        ]
    )


def main() -> None:
    """Run the seeds' arms, print and write the claims table."""
    args = seeds_parser(__doc__, "claims.md").parse_args()
    rounds = load_config("quickstart", args.set).cycle.rounds  # evoforge run's default config
    estimate = len(args.seeds) * (2 * rounds * MINUTES_PER_ROUND + ARMS_MINUTES)
    print(f"estimated wall time: about {estimate:.0f} min ({rounds} rounds a cycle, 2 cycles a seed)", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        runs = args.keep or Path(tmp)
        results = []
        for seed in args.seeds:
            results.append(run_seed(runs, seed, args.n_test, args.set))
            print(f"seed {seed} done: {sum(results[-1]['seconds'].values()) / 60:.1f} min", file=sys.stderr)
        text = markdown(results, args.n_test, args.set)
        print(text)
        (args.out or runs / "claims.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
