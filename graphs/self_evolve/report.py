"""The self_evolve graph's outputs: the seed's grouped bar chart of every generation and the report section."""

from __future__ import annotations

from typing import Any

from evoforge.graphs.runtime import Resources
from evoforge.graphs.self_evolve.state import RoundSummary, SelfEvolveState
from evoforge.report import markdown_table, write_section
from evoforge.selfevolve.chart import draw_scores
from evoforge.selfevolve.predictions import read_generations
from evoforge.selfevolve.rounds import generations_dir

SECTION = "self-evolution"
CHART = "self_evolution_scores.png"


def round_rows(rounds: dict[str, RoundSummary]) -> list[list[Any]]:
    """One row per round: Q&A written and dropped, replayed, trained on, IFD median, closed-book scores."""
    rows = []
    for name, r in sorted(rounds.items(), key=lambda item: int(item[0])):
        res = r.get("results") or {}
        dropped = sum((r.get("dropped") or {}).values())
        rows.append(
            [
                name,
                r.get("qa", "-"),
                dropped,
                r.get("replayed", "-"),
                r.get("trained_on", "-"),
                r.get("ifd_median", "-"),
                f"{res['predict_exact_match']:.3f}" if res else "-",
                *(f"{res[f'predict_{k}']:.2f}" if res else "-" for k in ("bleu-4", "rouge-1", "rouge-2", "rouge-l")),
            ]
        )
    return rows


def report_section(res: Resources, state: SelfEvolveState, chart: str) -> str:
    """The markdown of the report's Self-Evolution section."""
    settings = res.config.self_evolve
    header = ["round", "Q&A", "dropped", "replayed", "trained on", "IFD median", "exact match", "BLEU-4"]
    return "\n".join(
        [
            "## Self-Evolution",
            "",
            f"Model `{state.get('base')}`, {state.get('n_fragments')} fragments, {state.get('n_eval')} closed-book "
            f"questions; replay mode {settings.mode}, ifd_k {settings.ifd_k}, {settings.train_epoch:g} epoch(s) per "
            f"round, Q&A by the {'model itself' if settings.generator == 'model' else 'agents gateway'}.",
            "",
            markdown_table([*header, "ROUGE-1", "ROUGE-2", "ROUGE-L"], round_rows(state.get("rounds") or {})),
            "",
            f"![closed-book scores per generation]({chart})",
        ]
    )


def write_outputs(res: Resources, state: SelfEvolveState) -> dict[str, str]:
    """Draw the chart from the run's generations and write the report section; returns ``{kind: path}``."""
    folder = generations_dir(res.config, res.run.path)
    draw_scores(read_generations(folder), res.run.file(CHART))
    write_section(res.run.file("report.md"), SECTION, report_section(res, state, CHART))
    return {"chart": CHART, "generations": str(folder), "report": "report.md"}
