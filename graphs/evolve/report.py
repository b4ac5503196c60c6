"""The evolve graph's outputs: evolved.jsonl, methods.json, the optional save_path, the λ chart and report section."""

from __future__ import annotations

from typing import Any

from evoforge.data.dataset_cards import machine_free, usage_section, write_dataset_card
from evoforge.data.io import read_jsonl
from evoforge.evolve import inputs
from evoforge.evolve.dataset import dataset_line
from evoforge.graphs.evolve.state import EvolveState, lowest_rate, rate
from evoforge.graphs.runtime import Resources
from evoforge.report import line_chart, markdown_table, write_section
from evoforge.runs import atomic_write_json, atomic_write_jsonl, atomic_write_text

SECTION = "evolve"
CHART = "evolve_lambda.png"
E0 = "e0 (universal initial method)"


def _rate(state: EvolveState, cid: str) -> float | None:
    rate = (state.get("candidates") or {}).get(cid, {}).get("failure_rate")
    return None if rate is None else float(rate)


def e0_rate(state: EvolveState) -> float | None:
    """λ of the universal initial method e0: ``s0c1`` when the run started from a carried method, else ``s0c0``."""
    carried = _rate(state, "s0c1")
    return carried if carried is not None else _rate(state, "s0c0")


def _start(state: EvolveState) -> tuple[str, float]:
    """The method step 0 selected (the carried one unless e0 did better) and its λ."""
    best = lowest_rate(state, 0)
    return (best["id"], float(rate(best))) if best is not None else ("s0c0", 1.0)


def lambda_series(state: EvolveState) -> dict[str, list[float]]:
    """λ per step (index 0 = the start): the selected method's, the step's best candidate's, and e0's for reference
    when the run started from a carried method."""
    start = _start(state)[1]
    history = state.get("history") or []
    series = {
        "selected method": [start, *(p["selected_rate"] for p in history)],
        "best candidate of the step": [start, *(p["best_candidate_rate"] for p in history)],
    }
    e0 = _rate(state, "s0c1")
    if e0 is not None:
        series[E0] = [e0] * (len(history) + 1)
    return series


def methods_document(state: EvolveState) -> dict[str, Any]:
    """methods.json: the selected method, the λ history, and every candidate with its λ and feedback."""
    candidates = sorted((state.get("candidates") or {}).values(), key=lambda c: (c.get("step", 0), c.get("index", 0)))
    return {
        "selected": {
            "id": state.get("method_id"),
            "method": state.get("method"),
            "failure_rate": state.get("failure_rate"),
        },
        "e0_failure_rate": e0_rate(state),
        "history": state.get("history") or [],
        "decision": state.get("method_decision"),
        "candidates": candidates,
    }


def report_section(state: EvolveState, outputs: dict[str, str]) -> str:
    """The markdown of the report's evolve section."""
    history = state.get("history") or []
    series = lambda_series(state)
    start_id, start_rate = _start(state)
    rows: list[list[object]] = [[0, start_id, start_rate, start_id, start_rate]]
    rows += [
        [p["step"], p["best_candidate"], p["best_candidate_rate"], p["selected"], p["selected_rate"]] for p in history
    ]
    counts = state.get("counts") or {}
    decision = state.get("method_decision") or {}
    lines = [
        "## Evolve (Auto Evol-Instruct)",
        "",
        f"Seeds: {state.get('n_seeds')} (train {state.get('n_train')}, dev {state.get('n_dev')}); "
        f"optimisation steps: {len(history)}; selected method: `{state.get('method_id')}` "
        f"(reviewer: {decision.get('action', 'n/a')} by {decision.get('by', 'n/a')}).",
        "",
        "Failure rate λ on the dev set per step (step 0 = the start method"
        + (f"; e0, the universal initial method, scored λ={series[E0][0]:.3f} beside it" if E0 in series else "")
        + "):",
        "",
        markdown_table(["step", "best candidate", "its λ", "selected", "selected λ"], rows),
        "",
        f"![failure rate per step]({CHART})",
        "",
        "Dataset: "
        + dataset_line(counts)
        + "."
        + (
            f" The {counts['lost']} row(s) lost to transport errors (after every retry) are in `dataset/lost.jsonl`, "
            "each with its reason; `evoforge resume` sends exactly those calls again and fills them in."
            if counts.get("lost")
            else ""
        ),
        "",
        "Files: " + ", ".join(f"`{name}`" for name in outputs.values()) + ".",
        "",
        "Selected method:",
        "",
        "```text",
        str(state.get("method") or "").strip(),
        "```",
    ]
    return "\n".join(lines)


def write_outputs(res: Resources, state: EvolveState) -> dict[str, str]:
    """Write every output of the evolve graph into the run directory; returns ``{kind: relative path}``."""
    rows = read_jsonl(res.path(state["filtered_path"]))
    records = inputs.output_records(rows)
    outputs = {"dataset": "evolved.jsonl", "methods": "methods.json", "chart": CHART, "report": "evolve_report.md"}
    atomic_write_jsonl(res.run.file("evolved.jsonl"), records)
    atomic_write_json(res.run.file("methods.json"), methods_document(state))
    save_path = inputs.resolve_save_path(res.config, res.run.path)
    if save_path is not None:
        if save_path.suffix == ".json":
            atomic_write_json(save_path, inputs.columns(rows))
        else:
            atomic_write_jsonl(save_path, records)
        outputs["save_path"] = str(save_path)
    series = lambda_series(state)
    line_chart(res.run.file(CHART), series, "Failure rate λ per optimisation step", "step", "λ (dev)")
    section = report_section(state, outputs)
    atomic_write_text(res.run.file("evolve_report.md"), section + "\n")
    write_section(res.run.file("report.md"), SECTION, section)
    outputs["card"] = write_card(res, state, outputs)
    return outputs


def write_card(res: Resources, state: EvolveState, outputs: dict[str, str]) -> str:
    """The run directory's dataset card for ``evolved.jsonl``: sources, the evolving method and its λ history, the
    filters' counts and the models that wrote the data with their cost; returns its relative path."""
    records = read_jsonl(res.run.file(outputs["dataset"]))
    history = state.get("history") or []
    start_id, start_rate = _start(state)
    steps = [[0, start_id, start_rate], *([p["step"], p["selected"], p["selected_rate"]] for p in history)]
    method = f"Method `{state.get('method_id')}`:\n\n```text\n{state.get('method', '')}\n```\n\n"
    source = res.config.evolve.data_path or "the skills world's seeds"
    card = write_dataset_card(
        res.run.path,
        title=f"Evolved instructions ({res.run.run_id})",
        data_files={"default": outputs["dataset"]},
        n_rows=len(records),
        fields=sorted({key for row in records for key in row}),
        summary=f"Instructions evolved from {state.get('n_seeds')} seeds ({machine_free(source, res.run.path)}) "
        "with Auto Evol-Instruct (an evolving method optimised on the failure rate λ), then answered.",
        sections={
            "Evolving method and its λ history": method + markdown_table(["step", "selected", "λ (dev)"], steps),
            "Filters and de-duplication": dataset_line(state.get("counts") or {}) + ".",
            "Models that wrote it and their cost (the run so far)": usage_section(res.config, res.gateway.usage()),
        },
        run_id=res.run.run_id,
        tags=["evol-instruct"],
    )
    return card.name
