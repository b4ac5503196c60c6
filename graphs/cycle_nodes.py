"""The cycle graph's nodes: each reads the state, runs one piece (off the event loop when heavy), returns an update.

A round lives in ``rounds/<n>/``, itself an evolve run directory: the evolve subgraph writes its outputs there,
and the round's chunks, adapters, merge search and evaluations sit beside them. Every node can run again after a
crash: it rewrites the same files from the same inputs (training skips deltas whose inputs did not change, the
merge study resumes from its SQLite storage, the LLM response cache answers calls that had already returned).
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.config import get_config
from langgraph.runtime import Runtime
from langgraph.types import Overwrite, Send, interrupt

from evoforge.console import console, info
from evoforge.evals.metrics import metric_ceiling
from evoforge.graphs import cycle_work as work
from evoforge.graphs.cycle_feedback import steer
from evoforge.graphs.cycle_report import console_table, write_cycle_report
from evoforge.graphs.cycle_state import CycleState, DeltaTask, RoundResult
from evoforge.graphs.evolve_context import EvolveContext, Resources, resources
from evoforge.graphs.interactive import parse_decision

Update = dict[str, Any]


async def _resources(runtime: Runtime[EvolveContext]) -> Resources:
    thread = str(get_config().get("configurable", {}).get("thread_id", "default"))
    return await resources(runtime.context, thread, command="cycle")


async def prepare_round(state: CycleState, runtime: Runtime[EvolveContext]) -> Update:
    """Open round ``n`` (its own evolve run directory) and write its seed data from the seed plan."""
    res = await _resources(runtime)
    n = state.get("round", 0) + 1
    student = state.get("student") or res.config.student.model
    plan = state.get("seed_plan") or work.even_plan(res.config)
    steering = (state.get("results") or [{}])[-1].get("steering") or {}
    round_dir = await asyncio.to_thread(work.open_round, res.config, res.run.path, n, plan, steering.get("max_level"))
    info(f"[bold]round {n}[/bold]: student {student}; seeds {plan}")
    res.run.event("round_started", round=n, student=student, seed_plan=plan)
    limits = {"rounds": res.config.cycle.rounds, "patience": res.config.cycle.patience}
    return {
        "round": n,
        "student": student,
        "seed_plan": plan,
        "round_dir": round_dir,
        "limits": limits,
        "deltas": Overwrite({}),
        "train_all": "",
    }


async def evolve(state: CycleState, runtime: Runtime[EvolveContext]) -> Update:
    """Run the evolve graph on the round's seeds (a subgraph: its checkpoints and human reviews pass through)."""
    from evoforge.graphs.evolve import build

    res = await _resources(runtime)
    context = EvolveContext(run_dir=str(res.run.path / state["round_dir"]), gateway=res.gateway)
    values = await build().compile(name="evolve").ainvoke({}, context=context)
    lam = [float(p["selected_rate"]) for p in values.get("history") or []]
    return {"evolved_path": f"{state['round_dir']}/{values['outputs']['dataset']}", "result": {"lambda_history": lam}}


async def chunk(state: CycleState, runtime: Runtime[EvolveContext]) -> Update:
    """Cut the evolved data into chunks and a held-out split (no delta trains on it); plan the deltas."""
    res = await _resources(runtime)
    chunks, eval_path = await asyncio.to_thread(
        work.chunk_round, res.config, res.run.path, state["round_dir"], state["evolved_path"]
    )
    plan = await asyncio.to_thread(work.plan_training, res.config, res.run.path, state["round_dir"])
    info(f"chunks: {', '.join(chunks)}; held-out eval: {eval_path}; {len(plan)} deltas to train")
    return {"chunks": chunks, "eval_path": eval_path, "training_plan": plan}


def spread_training(state: CycleState) -> list[Send]:
    """Fan out one ``train_delta`` branch per planned delta (train@all beside the chunks' deltas)."""
    return [
        Send(
            "train_delta",
            DeltaTask(
                chunk=job["chunk"],
                method=job["method"],
                round=state["round"],
                round_dir=state["round_dir"],
                student=state["student"],
            ),
        )
        for job in state["training_plan"]
    ]


async def train_delta(task: DeltaTask, runtime: Runtime[EvolveContext]) -> Update:
    """Train one LoRA delta (SFT or DPO) in a worker thread; train@all lands in ``train_all``."""
    res = await _resources(runtime)
    name, path, is_all = await asyncio.to_thread(work.train_delta, res.config, res.run.path, dict(task))
    res.run.event("delta_trained", round=task["round"], delta=name)
    return {"train_all": path} if is_all else {"deltas": {name: path}}


async def merge(state: CycleState, runtime: Runtime[EvolveContext]) -> Update:
    """Search the merge weights of the deltas on the held-out split (Optuna; resumes from its storage)."""
    res = await _resources(runtime)
    results = await asyncio.to_thread(work.merge_round, res.config, res.run.path, dict(state))
    weights = {
        label: {d: float(sum(w) / len(w)) for d, w in m["weights"].items()} for label, m in results["merges"].items()
    }
    rows = {label: float(score) for label, score in results["table"].items()}
    result: RoundResult = {**state.get("result", {}), "rows": rows, "weights": weights}
    result["merge_trials"] = int(results["n_trials"])
    return {"merge": results["best"], "result": result}


async def evaluate(state: CycleState, runtime: Runtime[EvolveContext]) -> Update:
    """Score raw, train@all, each delta, the average and the best merge on the fixed test set."""
    res = await _resources(runtime)
    test, per_category = await asyncio.to_thread(work.evaluate_round, res.config, res.run.path, dict(state))
    return {"result": {**state["result"], "test": test, "per_category": per_category}}


async def review_promotion(state: CycleState) -> Update:
    """Human checkpoint: promote the best merge to be the next round's student?"""
    result = state["result"]
    test = result.get("test") or {}
    better = test.get("auto_merge", 0.0) > test.get("raw", 0.0)  # a tie keeps the student as it is
    answer = interrupt(
        {
            "checkpoint": "promote_merge",
            "question": "Promote auto_merge to be the next round's student?",
            "actions": ["approve", "reject"],
            "recommended": "approve" if better else "reject",
            "round": state["round"],
            "scores": result.get("rows"),
            "test": test,
            "weights": (result.get("weights") or {}).get("auto_merge"),
        }
    )
    decision = parse_decision(answer, allow_edit=False)
    promoted = decision["action"] == "approve"
    return {"result": {**result, "promoted": promoted, "decided_by": decision.get("by", "reviewer")}}


async def feedback(state: CycleState, runtime: Runtime[EvolveContext]) -> Update:
    """Close the round: fold a promoted merge into the student, steer the next round's seeds, record results."""
    res = await _resources(runtime)
    result: RoundResult = {**state["result"], "round": state["round"], "student": state["student"]}
    student = state["student"]
    if result.get("promoted"):
        student = await asyncio.to_thread(work.promote, res.config, res.run.path, dict(state))
    current = "auto_merge" if result.get("promoted") else "raw"
    per_category = (result.get("per_category") or {}).get(current) or {}
    ceiling = metric_ceiling(res.config.eval.metric)
    failed = await asyncio.to_thread(work.failed_examples, res.run.path, state["round_dir"], current, ceiling)
    result["steering"] = steer(res.config.world.n_seeds, per_category, failed, res.config.world.max_level, ceiling)
    score = float((result.get("test") or {}).get(current, 0.0))
    best = state.get("best_score", float("-inf"))
    stale = 0 if score > best else state.get("stale", 0) + 1
    console.print(console_table(result))
    results = [*(state.get("results") or []), result]
    await asyncio.to_thread(write_cycle_report, res.run.path, results, res.config.eval.metric)
    res.run.event("round_finished", round=state["round"], test=result.get("test"), promoted=result.get("promoted"))
    return {
        "student": student,
        "seed_plan": result["steering"]["plan"],
        "results": [result],
        "best_score": max(best, score),
        "stale": stale,
    }
