"""The cycle graph's nodes: each reads the state, runs one piece (off the event loop when heavy), returns an update.

A round lives in ``rounds/<n>/``, itself an evolve run directory: the evolve subgraph writes its outputs there,
and the round's chunks, adapters, merge search and evaluations sit beside them. Every node can run again after a
crash: it rewrites the same files from the same inputs (training skips deltas whose inputs did not change, the
merge study resumes from its SQLite storage, the LLM response cache answers calls that had already returned).
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Overwrite, interrupt

from evoforge.console import console, info
from evoforge.cycle import closing, opening, routed, work
from evoforge.cycle.model_cards import write_round_cards
from evoforge.cycle.round_record import RoundRecord, round_path, student_dir
from evoforge.errors import EvoforgeError
from evoforge.graphs.cycle.report import console_table, routing_lines, write_cycle_report
from evoforge.graphs.cycle.state import CycleState, DeltaPayload, RoundResult, delta_task, round_record
from evoforge.graphs.review import parse_decision
from evoforge.graphs.runtime import Resources, RunContext, in_thread, node_resources, thread_gateway
from evoforge.llm.protocol import Gateway
from evoforge.merging.merge_run import saved_job
from evoforge.serve.lmoe import round_router

Update = dict[str, Any]


async def _resources(runtime: Runtime[RunContext]) -> Resources:
    return await node_resources(runtime, "cycle")


async def prepare_round(state: CycleState, runtime: Runtime[RunContext]) -> Update:
    """Open round ``n`` (its own evolve run directory) and write its seed data from the seed plan."""
    res = await _resources(runtime)
    n = state.get("round", 0) + 1
    student = state.get("student") or res.config.student.model
    await asyncio.to_thread(student_dir, res.run.path, student)  # a bad student fails before any LLM call
    plan = state.get("seed_plan")
    if not plan:
        plan = await asyncio.to_thread(opening.first_plan, res.config, res.run.path)
    steering = (state.get("results") or [{}])[-1].get("steering") or {}
    round_dir, drawn = await asyncio.to_thread(
        opening.open_round, res.config, res.run.path, n, plan, steering.get("max_level")
    )
    source = res.config.cycle.data_source
    unit = "records" if source == "instruct" else "seeds"
    info(f"[bold]round {n}[/bold]: student {student}; {unit} {plan}" + (f" ({drawn})" if drawn else ""))
    res.run.event("round_started", round=n, student=student, seed_plan=plan, seed_draw=drawn)
    limits = {"rounds": res.config.cycle.rounds, "patience": res.config.cycle.patience}
    evolved = state.get("evolved")
    return {
        "round": n,
        "student": student,
        "seed_plan": plan,
        "data_source": source,
        "round_dir": round_dir,
        "workdir": round_dir,
        "start_method": evolved.get("method", "") if evolved else "",
        "seed_draw": drawn,
        "limits": limits,
        "deltas": Overwrite({}),
        "train_all": "",
        "instructed": {},  # the previous round's summary must not stand in for this round's
    }


def _round_data(state: CycleState) -> tuple[str, RoundResult]:
    """The round's dataset and the start of its result: the λ history and method the evolve subgraph handed back, or
    the records per category the instruct subgraph wrote."""
    if state.get("data_source") != "instruct":
        evolved = state["evolved"]
        return evolved["dataset"], {
            "lambda_history": list(evolved["lambda_history"]),
            "e0_lambda": evolved.get("e0_lambda", 0.0),
            "method_id": evolved["method_id"],
            "dataset_counts": dict(evolved.get("counts") or {}),
        }
    instructed = state.get("instructed")
    if not instructed:
        raise EvoforgeError(
            f"round {state['round']}: the instruct graph handed back no records (a review rejected them); start a new "
            "run once the instruct settings are right"
        )
    return instructed["dataset"], {"records": dict(instructed["counts"])}


async def chunk(state: CycleState, runtime: Runtime[RunContext]) -> Update:
    """Cut the round's data into chunks and a held-out split (no delta trains on it); plan the deltas.

    The round's result starts here, with what the evolve or instruct subgraph handed back.
    """
    res = await _resources(runtime)
    dataset, result = _round_data(state)
    chunks, eval_path = await asyncio.to_thread(
        opening.chunk_round, res.config, res.run.path, state["round_dir"], dataset
    )
    jobs = await asyncio.to_thread(opening.plan_training, res.config, res.run.path, state["round_dir"])
    plan = [{"chunk": job.chunk, "method": job.method} for job in jobs]
    info(f"chunks: {', '.join(chunks)}; held-out eval: {eval_path}; {len(plan)} deltas to train")
    if state.get("seed_draw"):
        result["seed_draw"] = dict(state["seed_draw"])
    update: Update = {"chunks": chunks, "eval_path": eval_path, "training_plan": plan, "result": result}
    if state.get("data_source") == "instruct":  # the next rounds' instructions are checked against this one's too
        update["earlier_datasets"] = [*(state.get("earlier_datasets") or []), dataset]
    return update


async def train_delta(task: DeltaPayload, runtime: Runtime[RunContext]) -> Update:
    """Train one LoRA delta (SFT or DPO) in a worker thread; train@all lands in ``train_all``."""
    res = await _resources(runtime)
    name, path, is_all = await in_thread(work.train_delta, res.config, res.run.path, delta_task(task))
    res.run.event("delta_trained", round=task["round"], delta=name)
    return {"train_all": path} if is_all else {"deltas": {name: path}}


async def merge(state: CycleState, runtime: Runtime[RunContext]) -> Update:
    """Search the merge weights of the deltas on the held-out split (Optuna; resumes from its storage)."""
    res = await _resources(runtime)
    results = await in_thread(work.merge_round, res.config, res.run.path, round_record(state), thread_gateway(res))
    weights = {
        label: {d: float(sum(w) / len(w)) for d, w in m["weights"].items()} for label, m in results["merges"].items()
    }
    rows = {label: float(score) for label, score in results["table"].items()}
    result: RoundResult = {**state.get("result", {}), "rows": rows, "weights": weights}
    result["merge_trials"] = int(results["n_trials"])
    return {"merge": results["best"], "result": result}


async def evaluate(state: CycleState, runtime: Runtime[RunContext]) -> Update:
    """Score raw, train@all, each delta, the average and the best merge on the fixed test set, and with
    ``merge.route`` the routed experts on the test set and the held-out split."""
    res = await _resources(runtime)
    record = round_record(state)
    test, per_category = await in_thread(work.evaluate_round, res.config, res.run.path, record, thread_gateway(res))
    result: RoundResult = {**state["result"], "test": test, "per_category": per_category}
    if res.config.merge.route:
        result = await in_thread(_routed_row, res, record, result, thread_gateway(res))
    return {"result": result}


def _routed_row(res: Resources, record: RoundRecord, result: RoundResult, gateway: Gateway) -> RoundResult:
    """``result`` with the routed_experts row (held-out and test), the router's accuracy and per-expert counts; or
    with why the row was skipped (no instruct extra for the router, no category delta to route to)."""
    root = round_path(res.run.path, record.round_dir)
    experts = routed.expert_chunks(saved_job(root))
    missing = routed.router_missing() or ("" if experts else "the round has no category delta to route to")
    if missing:
        info(f"routed_experts skipped: {missing}")
        return {**result, "routed_skipped": missing}
    route = round_router(res.run.path, record.number, experts)
    report, held_out, router = routed.evaluate_routed(res.config, res.run.path, record, route, experts, gateway)
    return {
        **result,
        "rows": {**result["rows"], routed.ROUTED: held_out},
        "test": {**result["test"], routed.ROUTED: report.score},
        "per_category": {**result["per_category"], routed.ROUTED: report.per_category},
        "router": router,
    }


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


async def feedback(state: CycleState, runtime: Runtime[RunContext]) -> Update:
    """Close the round: fold a promoted merge into the student, steer the next round's seeds, record results."""
    res = await _resources(runtime)
    result: RoundResult = {**state["result"], "round": state["round"], "student": state["student"]}
    promoted = bool(result.get("promoted"))
    record = round_record(state)
    student, result["steering"] = await in_thread(
        closing.close_round, res.config, res.run.path, record, promoted, thread_gateway(res)
    )
    promotion = routed.promotion_choice(result.get("test") or {})
    if promotion is not None:
        result["promotion"] = promotion
    await asyncio.to_thread(write_round_cards, res.config, res.run.path, record, dict(result))
    score = float((result.get("test") or {}).get("auto_merge" if promoted else "raw", 0.0))
    best = state.get("best_score", float("-inf"))
    stale = 0 if score > best else state.get("stale", 0) + 1
    console.print(console_table(result))
    for line in routing_lines(result):
        info(line)
    results = [*(state.get("results") or []), result]
    await asyncio.to_thread(write_cycle_report, res.run.path, results, res.config.eval.metric)
    res.run.event(
        "round_finished",
        round=state["round"],
        test=result.get("test"),
        promoted=result.get("promoted"),
        promotion=result.get("promotion"),
        router=result.get("router"),
    )
    return {
        "student": student,
        "seed_plan": result["steering"]["plan"],
        "results": [result],
        "best_score": max(best, score),
        "stale": stale,
    }
