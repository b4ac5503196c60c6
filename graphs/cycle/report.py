"""The cycle's tables and charts: AutoLLM's results table per round, merge weights, and the per-round scores."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from evoforge.cycle.routed import ROUTED, promotion_line
from evoforge.evolve.dataset import LOST_IN_A_ROUND, dataset_line
from evoforge.graphs.cycle.state import RoundResult
from evoforge.report import bar_chart, markdown_table, write_section

ROW_ORDER = ("raw", "train@all")
MERGE_ORDER = ("average_merge", "human_merge", "auto_merge")


def ordered_rows(rows: dict[str, float]) -> list[str]:
    """raw, train@all, train@<delta>… (alphabetical), then the merges, as AutoLLM's table lists them, and the
    routed experts beside them."""
    deltas = sorted(k for k in rows if k not in (*ROW_ORDER, *MERGE_ORDER, ROUTED))
    return [k for k in (*ROW_ORDER, *deltas, *MERGE_ORDER, ROUTED) if k in rows]


def _in_table_order(scores: dict[str, float]) -> dict[str, float]:
    """``scores`` in the order of AutoLLM's table (the chart's bars follow it)."""
    return {name: scores[name] for name in ordered_rows(scores)}


def routing_lines(result: RoundResult) -> list[str]:
    """The round's lines on the routed experts: the router's accuracy and counts, and which of one merged student
    and the experts + router won on the test set (or why the routed row is missing)."""
    if result.get("routed_skipped"):
        return [f"No {ROUTED} row: {result['routed_skipped']}."]
    router, lines = result.get("router") or {}, []
    if router:
        accuracy = "n/a" if router.get("accuracy") is None else f"{router['accuracy']:.3f}"
        counts = ", ".join(f"{name} {n}" for name, n in router.get("routed", {}).items())
        lines.append(f"Router ({router.get('n', 0)} test prompts): accuracy {accuracy}; routed to {counts}.")
    if result.get("promotion"):
        lines.append(promotion_line(result["promotion"], bool(result.get("promoted"))) + ".")
    return lines


def results_table(result: RoundResult) -> str:
    """Markdown: model | held-out score | test score."""
    test = result.get("test") or {}
    rows = [[name, result["rows"][name], test.get(name, "")] for name in ordered_rows(result["rows"])]
    return markdown_table(["model", "held-out eval_score", "test eval_score"], rows)


def weights_table(result: RoundResult) -> str:
    """Markdown: merge | weight of each delta."""
    weights = result.get("weights") or {}
    deltas = sorted({d for w in weights.values() for d in w})
    rows = [[name, *(weights[name].get(d, 0.0) for d in deltas)] for name in MERGE_ORDER if name in weights]
    return markdown_table(["merge", *deltas], rows)


def console_table(result: RoundResult) -> object:
    """A rich Table of the round's results (printed at the end of each round)."""
    from rich.table import Table

    test = result.get("test") or {}
    table = Table("model", "held-out", "test", title=f"round {result['round']} — AutoLLM results table")
    for name in ordered_rows(result["rows"]):
        score = test.get(name)
        table.add_row(name, f"{result['rows'][name]:.3f}", "" if score is None else f"{score:.3f}")
    return table


def write_cycle_report(run_path: Path, results: Sequence[RoundResult], metric: str) -> Path:
    """Write the cycle section of ``report.md``: per-round tables, charts, steering; returns the report path."""
    report = run_path / "report.md"
    chart = bar_chart(
        run_path / "cycle_scores.png",
        {f"round {r['round']}": _in_table_order(r.get("test") or r["rows"]) for r in results},
        "Test score per round",
        metric,
    )
    parts = ["## Cycle", "", f"Scores are `{metric}`.", "", f"![score per round]({chart.name})", ""]
    for r in results:
        n = r["round"]
        promoted = "promoted" if r.get("promoted") else "not promoted"
        parts += [
            f"### Round {n} (student: `{r.get('student')}`; auto_merge {promoted} by {r.get('decided_by', '?')})",
            "",
            results_table(r),
            "",
            "Merge weights:",
            "",
            weights_table(r),
            "",
        ]
        routing = routing_lines(r)
        parts += [*routing, ""] if routing else []
        drawn = r.get("seed_draw") or {}
        if drawn:
            parts += [
                f"Seeds: {drawn.get('fresh', 0)} fresh from the pool, {drawn.get('reused', 0)} reused (drawn by an "
                f"earlier round once the pool was spent), {drawn.get('bad_cases', 0)} bad cases of the previous round.",
                "",
            ]
        records = r.get("records") or {}
        if records:
            counts = ", ".join(f"{name} {n}" for name, n in sorted(records.items()))
            parts += [f"Records from the instruct graph (one chunk per category): {counts}.", ""]
        dataset = r.get("dataset_counts") or {}
        if dataset:
            parts += [f"Evolved dataset: {dataset_line(dataset)}.", ""]
            if dataset.get("lost"):
                parts += [LOST_IN_A_ROUND, ""]
        lam = r.get("lambda_history") or []
        if lam:
            method = f" (method {r['method_id']})" if r.get("method_id") else ""
            e0 = f"{r['e0_lambda']:.3f} for e0, then " if "e0_lambda" in r else ""
            steps = ", ".join(f"{x:.3f}" for x in lam)
            parts += [f"Evolving-method failure rate λ on the dev set{method}: {e0}{steps} per step", ""]
        for png, title in (("evolve_lambda.png", "λ per step"), ("merge/history.png", "merge search")):
            if (run_path / f"rounds/{n}" / png).is_file():
                parts += [f"![{title}, round {n}](rounds/{n}/{png})", ""]
        steering = r.get("steering") or {}
        if steering.get("reasons"):
            parts += ["Steering of the next round:", "", *[f"- {line}" for line in steering["reasons"]], ""]
    write_section(report, "cycle", "\n".join(parts))
    return report
