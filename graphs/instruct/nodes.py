"""The instruct graph's nodes: each reads the state, calls one piece of :mod:`evoforge.instruct`, returns an update.

The output file is the record of progress: a node that re-runs after a crash (or a resumed run with ``append``)
reads it and continues, and the gateway's response cache answers the calls that had already returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from evoforge.agents.instructors import dedup_key
from evoforge.console import info
from evoforge.data.dedup import make_index
from evoforge.graphs.instruct.report import write_outputs as write_output_files
from evoforge.graphs.instruct.state import InstructState
from evoforge.graphs.review import parse_decision
from evoforge.graphs.runtime import Resources, RunContext, node_resources

Update = dict[str, Any]
TOPICS_SHOWN = 20


async def _resources(runtime: Runtime[RunContext], state: InstructState) -> Resources:
    """The resources of the run the node works in (the round's, inside a cycle)."""
    return await node_resources(runtime, "instruct", state.get("workdir", ""))


def _path(res: Resources, value: str | None, default: str) -> Path:
    """A configured path (absolute once the CLI resolved it; a relative one is inside the run directory)."""
    path = Path(value).expanduser() if value else Path(default)
    return path if path.is_absolute() else res.run.path / path


async def topics(state: InstructState, runtime: Runtime[RunContext]) -> Update:
    """Read the topics file, or generate it (airoboros' topic requests) when it does not exist."""
    from evoforge.instruct.topics import generate_topics, read_topics

    res = await _resources(runtime, state)
    settings = res.config.instruct
    path = _path(res, settings.topics_path, "topics.txt")
    if path.is_file():
        found = await asyncio.to_thread(read_topics, path)
        info(f"instruct: {len(found)} topics from {path}")
    else:
        found = await generate_topics(res.gateway, settings, path)
        info(f"instruct: generated {len(found)} topics into {path}")
    return {"topics_path": str(path), "n_topics": len(found), "topics_sample": found[:TOPICS_SHOWN]}


async def review_topics(state: InstructState) -> Update:
    """Human checkpoint: approve the topics (edit the file first if you like), or reject them and stop."""
    answer = interrupt(
        {
            "checkpoint": "review_topics",
            "question": f"Approve the {state['n_topics']} topics in {state['topics_path']} (a sample is shown; edit "
            "the file before approving to change them), or reject and stop?",
            "actions": ["approve", "reject"],
            "counts": {"topics": state["n_topics"]},
            "sample": [{"instruction": topic, "category": "topic"} for topic in state.get("topics_sample") or []],
        }
    )
    return {"topics_decision": parse_decision(answer, allow_edit=False)}


async def prepare_output(state: InstructState, runtime: Runtime[RunContext]) -> Update:
    """Ready the output file: continue it (append), set it aside (overwrite), or refuse an existing one."""
    from evoforge.instruct.output import prepare

    res = await _resources(runtime, state)
    settings = res.config.instruct
    path = _path(res, settings.output_path, "instructions.jsonl")
    done = await asyncio.to_thread(prepare, path, settings.overwrite, settings.append)
    info(f"instruct: output {path} ({done})")
    started = await asyncio.to_thread(_started, res, path)
    return {"output_path": str(path), "prepared": done, "started": started}


def _cards_dir(res: Resources) -> Path:
    """The character cards' folder."""
    character = res.config.instruct.instructors.get("character")
    return _path(res, character.output_dir if character else None, "characters")


def _started(res: Resources, path: Path) -> dict[str, int]:
    """What counts toward each instructor's count when generation starts: its records in ``path`` (a
    conversation once), the cards in the cards folder (blocking)."""
    from evoforge.instruct.characters import read_cards
    from evoforge.instruct.dependent import counted
    from evoforge.instruct.output import read_records

    records = read_records(path) if path.exists() else []
    started = {name: counted(records, name) for name in res.config.instruct.instructors}
    if "character" in started and _cards_dir(res).is_dir():
        started["character"] = len(read_cards(_cards_dir(res)))
    return started


def _top_run(res: Resources, state: InstructState) -> Path:
    """The top run directory (a cycle's, when this graph works in one of its rounds' folders)."""
    path = res.run.path
    for _ in Path(state.get("workdir", "")).parts:
        path = path.parent
    return path


def _open_generation(res: Resources, state: InstructState) -> tuple[Any, Any, dict[str, list[str]]]:
    """The output file, the de-duplication index over what it and the earlier rounds' records hold, and each
    instructor's topics (blocking)."""
    from evoforge.instruct.output import RecordFile, read_records
    from evoforge.instruct.topics import instructor_topics, read_topics

    settings = res.config.instruct
    output = RecordFile(Path(state["output_path"]))
    earlier = [r for name in state.get("earlier_datasets") or [] for r in read_records(_top_run(res, state) / name)]
    index = make_index(settings.dedup, settings.threshold(), settings.embedding_model, settings.embedding_device)
    index.extend(dedup_key(str(r["category"]), str(r["instruction"])) for r in [*earlier, *output.records])
    base = read_topics(Path(state["topics_path"]))
    by_name = {name: instructor_topics(settings, name, base, res.config.run.seed) for name in settings.instructors}
    return output, index, by_name


async def generate(state: InstructState, runtime: Runtime[RunContext]) -> Update:
    """Run every instructor's producer until its count, its patience or the token budget ends it."""
    from evoforge.errors import ConfigError
    from evoforge.instruct.producers import Producers

    res = await _resources(runtime, state)
    settings = res.config.instruct
    if not settings.instructors:
        raise ConfigError("instruct.instructors names no instructor; add at least one (e.g. general: {count: 10})")
    output, index, by_name = await asyncio.to_thread(_open_generation, res, state)
    try:
        producers = Producers(res.gateway, settings, output, index, by_name, res.config.run.seed)
        progress = await producers.run()
    finally:
        output.close()
    figures = _announce(progress, state.get("started") or {})
    if producers.stop_reason == "budget":
        info("instruct: the token budget is spent; what was written is kept. Raise it and run again with append: true")
    return {"progress": figures, "stop_reason": producers.stop_reason, "counts": dict(output.counts)}


def _announce(progress: Mapping[str, Any], started: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    """Each instructor's figures (``as_dict`` of its progress; ``before``: what it had when generation
    ``started``, so the records of earlier passes of batch generation, or of a run resumed after a stop, count as
    new), one line printed per instructor (none after a pass that set requests aside for a batch: its figures are
    dropped, the pass after it prints them)."""
    from evoforge.llm.batch import collector

    figures = {name: p.as_dict() for name, p in progress.items()}
    for name, p in figures.items():
        if name in started:
            p["before"] = min(started[name], p["total"])
            p["written"] = p["total"] - p["before"]
    pending = collector()
    if pending is not None and pending.requests:
        return figures
    for name, p in figures.items():
        info(f"instruct: {name}: {p['total']}/{p['target']} ({p['written']} new, stopped: {p['stopped']})")
    return figures


async def generate_dependent(state: InstructState, runtime: Runtime[RunContext]) -> Update:
    """The second pass: the instructors that work on what the first pass wrote (character cards, then rp, gtkm,
    stylized_response and editor), resumed from the output file and the cards folder as the first pass is."""
    from evoforge.instruct.dependent import DependentPass, dependent_names

    res = await _resources(runtime, state)
    settings = res.config.instruct
    if not dependent_names(settings):
        return {}
    cards = _cards_dir(res)
    output, index, by_name = await asyncio.to_thread(_open_generation, res, state)
    try:
        second = DependentPass(res.gateway, settings, output, index, by_name, res.config.run.seed, cards)
        progress = await second.run()
    finally:
        output.close()
    figures = _announce(progress, state.get("started") or {})
    return {
        "progress": {**(state.get("progress") or {}), **figures},
        "stop_reason": state.get("stop_reason") or second.stop_reason,
        "counts": dict(output.counts),
        "cards_dir": str(cards),
    }


async def review_sample(state: InstructState, runtime: Runtime[RunContext]) -> Update:
    """Human checkpoint: approve a sample of each instructor's records, or reject (the records stay written)."""
    from evoforge.instruct.output import read_records

    res = await _resources(runtime, state)
    records = await asyncio.to_thread(read_records, Path(state["output_path"]))
    per = res.config.instruct.sample_size
    by_name = {name: [r for r in records if r["category"] == name][:per] for name in res.config.instruct.instructors}
    sample = [record for chosen in by_name.values() for record in chosen]
    answer = interrupt(
        {
            "checkpoint": "review_sample",
            "question": "Approve the generated records (a sample per instructor is shown), or reject and stop?",
            "actions": ["approve", "reject"],
            "counts": state.get("counts") or {},
            "sample": sample,
        }
    )
    return {"sample_decision": parse_decision(answer, allow_edit=False)}


async def write_outputs(state: InstructState, runtime: Runtime[RunContext]) -> Update:
    """Write the ShareGPT and alpaca exports, the HF dataset and the report section; hand a parent graph the
    records' summary (``instructed``)."""
    res = await _resources(runtime, state)
    outputs = await asyncio.to_thread(write_output_files, res, state)
    info(f"instruct: wrote {', '.join(outputs.values())}")
    update: Update = {"outputs": outputs}
    if state.get("output_path"):
        path, workdir = Path(state["output_path"]), state.get("workdir", "")
        inside = path.is_relative_to(res.run.path)
        dataset = "/".join(p for p in (workdir, str(path.relative_to(res.run.path))) if p) if inside else str(path)
        update["instructed"] = {
            "dataset": dataset,
            "counts": dict(state.get("counts") or {}),
            "stop_reason": state.get("stop_reason"),
        }
    return update
