"""The instruct graph's outputs: the ShareGPT and alpaca exports, an HF dataset folder and the report section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evoforge.data.dataset_cards import usage_section, write_dataset_card
from evoforge.data.exports import save_hf_dataset, to_alpaca, to_sharegpt
from evoforge.graphs.instruct.state import InstructState
from evoforge.graphs.runtime import Resources
from evoforge.instruct.output import read_records
from evoforge.report import markdown_table, write_section
from evoforge.runs import atomic_write_jsonl, atomic_write_text

SECTION = "instruct"


def progress_rows(progress: dict[str, dict[str, Any]]) -> list[list[Any]]:
    """One table row per instructor: target, before, written, total, batches, skips, why it stopped."""
    rows = []
    for name, p in progress.items():
        skipped = ", ".join(f"{k} {v}" for k, v in p["skipped"].items()) or "-"
        rows.append([name, p["target"], p["before"], p["written"], p["total"], p["batches"], skipped, p["stopped"]])
    return rows


def report_section(res: Resources, state: InstructState, outputs: dict[str, str]) -> str:
    """The markdown of the report's instruct section."""
    settings = res.config.instruct
    lines = [
        "## Instruct (airoboros' generation)",
        "",
        f"Topics: {state.get('n_topics')} in `{state.get('topics_path')}`. De-duplication: {settings.dedup} "
        f"(threshold {settings.threshold()}).",
    ]
    if state.get("progress"):
        lines += [
            f"Records: `{state.get('output_path')}` ({state.get('prepared')}).",
            "",
            markdown_table(
                ["instructor", "target", "before", "new", "total", "batches", "skipped", "stopped"],
                progress_rows(state["progress"]),
            ),
        ]
    if state.get("cards_dir"):
        lines += [
            "",
            f"Character cards: `{state['cards_dir']}`. `character` counts cards, `rp` and `gtkm` conversations (one "
            "record per reply), the others records.",
        ]
    if state.get("stop_reason") == "budget":
        lines += ["", "The token budget stopped the run; raise it and run again with `append: true` to finish."]
    if settings.unsupported:
        lines += ["", "Not honoured from the airoboros config:", *(f"- {item}" for item in settings.unsupported)]
    lines += ["", "Files: " + ", ".join(f"`{name}`" for name in outputs.values()) + "."]
    return "\n".join(lines)


def write_outputs(res: Resources, state: InstructState) -> dict[str, str]:
    """Write every output of the instruct graph; returns ``{kind: path}`` (relative to the run directory)."""
    outputs: dict[str, str] = {"topics": state["topics_path"]}
    if state.get("output_path"):
        records = read_records(Path(state["output_path"]))
        atomic_write_jsonl(res.run.file("sharegpt.jsonl"), [to_sharegpt(r) for r in records])
        atomic_write_jsonl(res.run.file("alpaca.jsonl"), [to_alpaca(r) for r in records])
        save_hf_dataset(records, res.run.file("dataset"))
        outputs |= {
            "records": state["output_path"],
            "sharegpt": "sharegpt.jsonl",
            "alpaca": "alpaca.jsonl",
            "dataset": "dataset/",
            "card": write_card(res, state, records),
        }
    section = report_section(res, state, {**outputs, "report": "instruct_report.md"})
    atomic_write_text(res.run.file("instruct_report.md"), section + "\n")
    write_section(res.run.file("report.md"), SECTION, section)
    return {**outputs, "report": "instruct_report.md"}


def write_card(res: Resources, state: InstructState, records: list[dict[str, Any]]) -> str:
    """The run directory's dataset card: the records (when the run directory holds them), alpaca and ShareGPT; their
    topics, instructors, de-duplication and skips, and the models that wrote them with their cost."""
    settings, path = res.config.instruct, Path(state["output_path"])
    inside = path.resolve().is_relative_to(res.run.path.resolve())
    files = {"default": path.resolve().relative_to(res.run.path.resolve()).as_posix()} if inside else {}
    files |= {"alpaca" if inside else "default": "alpaca.jsonl", "sharegpt": "sharegpt.jsonl"}
    header = ["instructor", "target", "before", "new", "total", "batches", "skipped", "stopped"]
    card = write_dataset_card(
        res.run.path,
        title=f"Instructions ({res.run.run_id})",
        data_files=files,
        n_rows=len(records),
        fields=sorted({key for row in records for key in row}) if inside else ["instruction", "input", "output"],
        summary=f"Instruction/response records written by airoboros-style instructors over {state.get('n_topics')} "
        "topics; `alpaca` and `sharegpt` hold the same records in those layouts.",
        sections={
            "Instructors": markdown_table(header, progress_rows(state.get("progress") or {})),
            "Filters and de-duplication": f"De-duplication: {settings.dedup} (threshold {settings.threshold()}); "
            "the instructors' skipped rows are in the table above.",
            "Models that wrote it and their cost (the run so far)": usage_section(res.config, res.gateway.usage()),
        },
        run_id=res.run.run_id,
        tags=["airoboros"],
    )
    return card.name
