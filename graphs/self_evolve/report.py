"""The self_evolve graph's outputs: the seed's grouped bar chart of every generation and the report section."""

from __future__ import annotations

import json
from typing import Any

from evoforge.cycle.model_cards import base_model_name, write_model_card
from evoforge.data.dataset_cards import machine_free, usage_section, write_dataset_card
from evoforge.graphs.runtime import Resources
from evoforge.graphs.self_evolve.state import RoundSummary, SelfEvolveState
from evoforge.report import markdown_table, write_section
from evoforge.self_evolve.chart import draw_scores
from evoforge.self_evolve.predictions import read_generations
from evoforge.self_evolve.rounds import ADAPTER, QA_FILE, generations_dir, round_dir
from evoforge.training.trainer import TRAINING_FILE

SECTION = "self-evolution"
CHART = "self_evolution_scores.png"
MERGED = "merged"  # rounds/<i>/merged: base + the round's adapter, with export_merged


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


def write_qa_card(res: Resources, state: SelfEvolveState, i: int, records: list[dict[str, Any]]) -> str:
    """The dataset card of round ``i``'s Q&A (``rounds/<i>/qa.jsonl``, IFD scored): its source fragments, who wrote
    it, what was dropped, and (with ``generator: llm``) the models and their cost; returns its run-relative path."""
    settings = res.config.self_evolve
    folder = round_dir(res.run.path, i)
    source = settings.source_data_file or f"{settings.n_fragments} fragments of the skills world"
    writer = "the LLM gateway" if settings.generator == "llm" else f"the round's model (`{settings.model_path}`)"
    summary = (state.get("rounds") or {}).get(str(i)) or {}
    dropped = ", ".join(f"{k} {v}" for k, v in (summary.get("dropped") or {}).items()) or "none"
    card = write_dataset_card(
        folder,
        title=f"Self-Evolution Q&A, round {i} ({res.run.run_id})",
        data_files={"default": QA_FILE},
        n_rows=len(records),
        fields=sorted({key for row in records for key in row}),
        summary=f"Questions and answers {writer} wrote about {state.get('n_fragments')} fragments "
        f"({machine_free(source, res.run.path)}), one question per fragment answered from it (Self-Evolution); "
        "`ifd` is each pair's instruction-following difficulty under the base model.",
        sections={
            "Filters": f"Dropped while writing: {dropped}. Training replays up to {settings.ifd_k} earlier Q&A "
            f"chosen by IFD (mode `{settings.mode}`).",
            "Models that wrote it and their cost (the run so far)": usage_section(res.config, res.gateway.usage())
            if settings.generator == "llm"
            else "",
        },
        run_id=res.run.run_id,
        tags=["self-evolution"],
    )
    return str(card.relative_to(res.run.path))


def write_model_cards(res: Resources, state: SelfEvolveState, i: int, results: dict[str, float]) -> list[str]:
    """Model cards of round ``i``'s adapter (replacing PEFT's template) and, with ``export_merged``, its merged
    model: the closed-book scores as the model-index, the training settings, the run's config; run-relative paths."""
    settings, folder = res.config.self_evolve, round_dir(res.run.path, i)
    base = base_model_name(settings.model_path)
    training = folder / ADAPTER / TRAINING_FILE
    delta = json.loads(training.read_text(encoding="utf-8")) if training.is_file() else None
    common: dict[str, Any] = {
        "base_model": base,
        "run_id": res.run.run_id,
        "metric": "exact_match",
        "scores": results,
        "datasets": [f"rounds/{i}"],
        "config_yaml": machine_free((res.run.path / "config.yaml").read_text(encoding="utf-8"), res.run.path),
        "sections": {"Closed-book results": markdown_table(["metric", "value"], [[k, v] for k, v in results.items()])},
    }
    what = f"round {i} of Self-Evolution (closed book on its Q&A" + (f", continuing round {i - 1}'s)" if i else ")")
    summary = f"A LoRA adapter of `{base}`: {what}."
    paths = [write_model_card(folder / ADAPTER, kind="adapter", delta=delta, summary=summary, **common)]
    if (folder / MERGED / "config.json").is_file():
        summary = f"`{base}` with the adapter of {what} merged in."
        paths.append(write_model_card(folder / MERGED, kind="model", summary=summary, **common))
    return [str(p.relative_to(res.run.path)) for p in paths]
