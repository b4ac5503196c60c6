"""The evolve graph's nodes: each reads the state, calls one piece of work, and returns an update.

Bulk goes to JSONL files in the run directory (written atomically, off the event loop); the update holds their
run-dir-relative paths and the figures. A node that re-runs after a crash rewrites the same files from the same
inputs, and the gateway's response cache answers the LLM calls that had already returned.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from evoforge.agents.evolving_method import initial_method
from evoforge.console import info
from evoforge.data.io import read_jsonl
from evoforge.errors import EvoforgeError
from evoforge.evolve import dataset as final
from evoforge.evolve import inputs
from evoforge.evolve import steps as work
from evoforge.graphs.evolve.report import e0_rate
from evoforge.graphs.evolve.report import write_outputs as write_output_files
from evoforge.graphs.evolve.state import (
    Candidate,
    CandidateTask,
    EvolveState,
    EvolveSummary,
    StepPoint,
    lowest_rate,
    rate,
    step_candidates,
)
from evoforge.graphs.review import Decision, parse_decision
from evoforge.graphs.runtime import Resources, RunContext, node_resources
from evoforge.runs import atomic_write_jsonl

Update = dict[str, Any]
SAMPLE_SIZE = 5
E0_FEEDBACK = "the universal initial method e0, validated beside the carried start method"


async def _resources(runtime: Runtime[RunContext], state: EvolveState | CandidateTask) -> Resources:
    """The resources of the folder this run of the graph works in (a cycle round's, when mounted in the cycle)."""
    return await node_resources(runtime, "evolve", state.get("workdir", ""))


async def _save(res: Resources, rows: list[dict[str, Any]], *parts: str) -> str:
    def write() -> str:
        path, relative = res.file(*parts)
        atomic_write_jsonl(path, rows)
        return relative

    return await asyncio.to_thread(write)


async def _load(res: Resources, relative: str) -> list[dict[str, Any]]:
    return await asyncio.to_thread(read_jsonl, res.path(relative))


async def load_seeds(state: EvolveState, runtime: Runtime[RunContext]) -> Update:
    """Read the seed data (file or skills world) and store it normalised as ``data/seeds.jsonl``."""
    res = await _resources(runtime, state)
    seeds = await asyncio.to_thread(inputs.load_seeds, res.config)
    info(f"evolve: {len(seeds)} seed instructions")
    return {"seeds_path": await _save(res, seeds, "data", "seeds.jsonl"), "n_seeds": len(seeds)}


async def split_seeds(state: EvolveState, runtime: Runtime[RunContext]) -> Update:
    """Split the seeds into train (optimisation) and dev (validation); the start method becomes ``s0c0``.

    A round that starts from a carried method (``start_method``) also validates the universal initial method e0 as
    ``s0c1``: the reference its λ is measured against, and the start when the carried method does worse on this dev.
    """
    res = await _resources(runtime, state)
    train, dev = inputs.split(await _load(res, state["seeds_path"]), res.config)
    universal = initial_method(res.config.run.language)
    starts = list(dict.fromkeys([state.get("start_method") or universal, universal]))
    feedback = ["", E0_FEEDBACK]
    candidates: dict[str, Candidate] = {
        f"s0c{i}": {
            "id": f"s0c{i}",
            "step": 0,
            "index": i,
            "method": method,
            "feedback": feedback[i],
            "parent": None,
            "failure_rate": None,
        }
        for i, method in enumerate(starts)
    }
    return {
        "train_path": await _save(res, train, "data", "train.jsonl"),
        "dev_path": await _save(res, dev, "data", "dev.jsonl"),
        "n_train": len(train),
        "n_dev": len(dev),
        "step": 0,
        "step_limit": res.config.evolve.max_steps,
        "stale": 0,
        "patience": res.config.evolve.patience,
        "candidate_size": res.config.evolve.candidate_size,
        "history": [],
        "candidates": candidates,
    }


async def evolve_batch(state: EvolveState, runtime: Runtime[RunContext]) -> Update:
    """Start the next step: sample a mini-batch and evolve each instruction ``loop`` times with the method."""
    res = await _resources(runtime, state)
    step = state["step"] + 1
    settings = res.config.evolve
    batch = inputs.mini_batch(await _load(res, state["train_path"]), settings.batch_size, res.config.run.seed, step)
    rows = await work.trajectories(res, batch, state["method"], step)
    path = await _save(res, rows, "steps", f"step-{step:02d}", "trajectories.jsonl")
    return {"step": step, "trajectories_path": path}


async def optimize_candidate(task: CandidateTask, runtime: Runtime[RunContext]) -> Update:
    """One of the step's parallel branches: analyse the trajectories and revise the method (sample = index)."""
    res = await _resources(runtime, task)
    rows = await _load(res, task["trajectories_path"])
    result = await work.optimize_candidate(res, rows, task["method"], task["index"])
    if result is None:
        return {}
    feedback, method = result
    cid = f"s{task['step']}c{task['index']}"
    candidate: Candidate = {
        "id": cid,
        "step": task["step"],
        "index": task["index"],
        "method": method,
        "feedback": feedback,
        "parent": task["method_id"],
        "failure_rate": None,
    }
    return {"candidates": {cid: candidate}}


async def validate(state: EvolveState, runtime: Runtime[RunContext]) -> Update:
    """Validate every candidate not yet scored on the dev set: failure rate λ = failed answers / |dev|."""
    res = await _resources(runtime, state)
    pending = {c["id"]: c["method"] for c in step_candidates(state, state["step"]) if c.get("failure_rate") is None}
    if not pending:
        return {}
    dev = await _load(res, state["dev_path"])
    results = await work.validate(res, dev, pending)
    update: dict[str, Candidate] = {}
    for cid, rows in results.items():
        failures = sum(1 for r in rows if r["failure"] is not None)
        path = await _save(res, rows, "steps", f"step-{state['step']:02d}", f"validate-{cid}.jsonl")
        update[cid] = {
            "failure_rate": failures / max(len(rows), 1),
            "failures": failures,
            "n": len(rows),
            "validation_path": path,
        }
    return {"candidates": update}


def select(state: EvolveState) -> Update:
    """Keep the step's lowest-λ candidate when it beats the selected method; else count a stale step."""
    step = state["step"]
    best = lowest_rate(state, step)
    history = list(state.get("history") or [])
    if step == 0:  # the carried start method, unless e0 does better on this dev set
        assert best is not None, "validate scores every start method"
        return {"method_id": best["id"], "method": best["method"], "failure_rate": best["failure_rate"]}
    current = state.get("failure_rate")
    improved = best is not None and (current is None or rate(best) < current)
    update: Update = {"stale": 0 if improved else state.get("stale", 0) + 1}
    if improved and best is not None:
        update.update(method_id=best["id"], method=best["method"], failure_rate=best["failure_rate"])
    selected_rate = best["failure_rate"] if improved and best is not None else current
    point: StepPoint = {
        "step": step,
        "selected": best["id"] if improved and best is not None else state["method_id"],
        "selected_rate": float(selected_rate if selected_rate is not None else 1.0),
        "best_candidate": best["id"] if best is not None else "",
        "best_candidate_rate": float(rate(best)) if best is not None else 1.0,
        "improved": improved,
    }
    info(f"step {step}: best candidate λ={point['best_candidate_rate']:.3f}, selected λ={point['selected_rate']:.3f}")
    return {**update, "history": [*history, point]}


async def review_method(state: EvolveState, runtime: Runtime[RunContext]) -> Update:
    """Human checkpoint: approve the selected method, edit it, or reject it and keep optimising."""
    answer = interrupt(
        {
            "checkpoint": "review_method",
            "question": "Approve the evolving method, edit it, or reject it and keep optimising?",
            "actions": ["approve", "edit", "reject"],
            "method_id": state["method_id"],
            "method": state["method"],
            "failure_rate": state.get("failure_rate"),
            "history": state.get("history") or [],
        }
    )
    decision: Decision = parse_decision(answer, allow_edit=True)
    update: Update = {"method_decision": decision}
    if decision["action"] == "edit":
        cid = f"s{state['step']}-edit"
        edited: Candidate = {
            "id": cid,
            "step": state["step"],
            "index": -1,
            "method": decision["method"],
            "feedback": "edited by a reviewer",
            "parent": state["method_id"],
            "failure_rate": None,
        }
        update.update(method_id=cid, method=decision["method"], failure_rate=None, candidates={cid: edited})
    elif decision["action"] == "reject":
        extra = max(1, (await _resources(runtime, state)).config.evolve.max_steps)
        update.update(step_limit=state["step"] + extra, stale=0)
    return update


async def evolve_dataset(state: EvolveState, runtime: Runtime[RunContext]) -> Update:
    """Evolve every seed (the first 10 in a test run) ``loop`` generations with the approved method (one record
    per generation); a refill keeps the earlier pass's chains and continues only those lost to errors."""
    res = await _resources(runtime, state)
    seeds = inputs.dataset_seeds(await _load(res, state["seeds_path"]), res.config)
    if len(seeds) < state["n_seeds"]:
        info(f"evolve: test run, the dataset is evolved from {len(seeds)} of the {state['n_seeds']} seeds")
    before = await _load(res, state["evolved_path"]) if state.get("refill") else None  # the pass that lost rows
    rows = await final.evolve_dataset(res, seeds, state["method"], state["method_id"], before)
    return {"evolved_path": await _save(res, rows, "dataset", "evolutions.jsonl")}


async def answer_dataset(state: EvolveState, runtime: Runtime[RunContext]) -> Update:
    """Answer every evolved instruction with the generator (a refill keeps the earlier pass's answers)."""
    res = await _resources(runtime, state)
    before = await _load(res, state["answered_path"]) if state.get("refill") else []
    rows = await final.answer_rows(res, await _load(res, state["evolved_path"]), before)
    return {"answered_path": await _save(res, rows, "dataset", "answered.jsonl")}


async def filter_dataset(state: EvolveState, runtime: Runtime[RunContext]) -> Update:
    """Eliminate failed answers (and Evol-Instruct eliminations) and duplicate instructions (``evolve.dedup``).

    Raises:
        EvoforgeError: when no row is kept (the run fails, saying why and what to change).
    """
    res = await _resources(runtime, state)
    settings = res.config.evolve
    answered = await _load(res, state["answered_path"])
    index = await asyncio.to_thread(final.duplicate_index, res.config)
    rows, counts = await asyncio.to_thread(
        final.filter_rows, answered, settings.extra_rules, settings.elimination, index
    )
    counts = {"seeds": state["n_seeds"], **counts}
    info("dataset: " + final.dataset_line(counts))
    filtered_path = await _save(res, rows, "dataset", "filtered.jsonl")
    lost_path = await _save(res, [row for row in answered if row.get("lost")], "dataset", "lost.jsonl")
    if counts["lost"]:
        info(final.lost_note(counts["lost"], lost_path, res.run.run_id, bool(state.get("workdir"))))
    if not rows:
        raise EvoforgeError(final.empty_dataset_message(answered, counts, settings.extra_rules))
    every = max(1, len(rows) // SAMPLE_SIZE)
    return {
        "refill": False,
        "lost_path": lost_path,
        "filtered_path": filtered_path,
        "counts": counts,
        "sample": inputs.output_records(rows[::every][:SAMPLE_SIZE]),
    }


async def review_dataset(state: EvolveState) -> Update:
    """Human checkpoint: approve a sample of the dataset, or reject it and go back to the method review."""
    answer = interrupt(
        {
            "checkpoint": "review_dataset",
            "question": "Approve the evolved dataset (a sample is shown), or reject it and review the method again?",
            "actions": ["approve", "reject"],
            "counts": state.get("counts") or {},
            "sample": state.get("sample") or [],
        }
    )
    return {"dataset_decision": parse_decision(answer, allow_edit=False)}


async def write_outputs(state: EvolveState, runtime: Runtime[RunContext]) -> Update:
    """Write evolved.jsonl, methods.json, the optional save_path, the λ chart and the report section."""
    res = await _resources(runtime, state)
    outputs = await asyncio.to_thread(write_output_files, res, state)
    info(f"evolve: wrote {', '.join(outputs.values())} in {res.run.path}")
    workdir = state.get("workdir", "")
    summary: EvolveSummary = {
        "dataset": f"{workdir}/{outputs['dataset']}" if workdir else outputs["dataset"],
        "lambda_history": [float(p["selected_rate"]) for p in state.get("history") or []],
        "e0_lambda": float(e0_rate(state) or 0.0),
        "method_id": state["method_id"],
        "method": state["method"],
        "counts": dict(state.get("counts") or {}),
    }
    return {"outputs": outputs, "evolved": summary}
