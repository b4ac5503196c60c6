"""The ``cycle`` graph: AutoLLM's closed loop as a LangGraph state machine — the main job.

prepare round (seeds from the feedback plan) → evolve (the evolve graph as a subgraph; its human reviews pass
through), or with ``cycle.data_source: instruct`` instruct (the instruct graph as a subgraph: each instructor's
records, its reviews passing through) → chunk + hold out (on the instruct graph: one chunk per category) → train
one delta per chunk and method, and train@all beside them (``Send`` branches sharing ``train.workers`` worker
processes on a CPU) → merge-weight search (``merge.workers`` trials at once) → evaluate raw, train@all, each
delta, average and best merge on the fixed test set, and the deltas as routed experts (``merge.route``: the LMoE's
router picks one delta per prompt) → **human checkpoint: promote the merge?** → feedback (fold the merge into the
student, record whether one merged student or the experts + router won on the test set, steer the next round's
seeds or records) → next round, until ``cycle.rounds`` or until the test score stops improving for
``cycle.patience`` rounds.

``graph`` is compiled without a checkpointer (LangGraph Studio attaches its own); the CLI compiles :func:`build`
with the SQLite checkpointer of the run directory.
"""

from __future__ import annotations

from typing import Literal

from langgraph.graph import START, StateGraph
from langgraph.types import Send

from evoforge.graphs.cycle import nodes
from evoforge.graphs.cycle.state import CycleState, DeltaPayload
from evoforge.graphs.evolve.graph import graph as evolve_graph
from evoforge.graphs.instruct.graph import graph as instruct_graph
from evoforge.graphs.paths import add_path
from evoforge.graphs.runtime import RunContext

AFTER_TRAINING = ("merge", "evaluate", "review_promotion", "feedback")


def after_feedback(state: CycleState) -> Literal["prepare_round", "__end__"]:
    """Another round unless the round budget is spent or the test score stopped improving (patience)."""
    limits = state.get("limits") or {}
    more = state["round"] < limits.get("rounds", 1) and state.get("stale", 0) < limits.get("patience", 1)
    return "prepare_round" if more else "__end__"


def data_source(state: CycleState) -> Literal["evolve", "instruct"]:
    """The subgraph that makes the round's data (``cycle.data_source``)."""
    return "instruct" if state.get("data_source") == "instruct" else "evolve"


def spread_training(state: CycleState) -> list[Send]:
    """Fan out one ``train_delta`` branch per planned delta (train@all beside the chunks' deltas)."""
    return [
        Send(
            "train_delta",
            DeltaPayload(
                chunk=job["chunk"],
                method=job["method"],
                round=state["round"],
                round_dir=state["round_dir"],
                student=state["student"],
            ),
        )
        for job in state["training_plan"]
    ]


def build() -> StateGraph[CycleState, RunContext, CycleState, CycleState]:
    """The cycle graph's builder (compile it with or without a checkpointer)."""
    builder = StateGraph(CycleState, context_schema=RunContext)
    builder.add_node("prepare_round", nodes.prepare_round)
    builder.add_node("evolve", evolve_graph)  # a real subgraph: Studio shows it, its reviews and checkpoints nest
    builder.add_node("instruct", instruct_graph)  # the same for airoboros' generation
    for name in ("chunk", "train_delta", *AFTER_TRAINING):
        builder.add_node(name, getattr(nodes, name))
    builder.add_edge(START, "prepare_round")
    builder.add_conditional_edges("prepare_round", data_source)
    builder.add_edge("evolve", "chunk")
    builder.add_edge("instruct", "chunk")
    builder.add_conditional_edges("chunk", spread_training, ["train_delta"])
    builder.add_edge("train_delta", "merge")
    add_path(builder, *AFTER_TRAINING)
    builder.add_conditional_edges("feedback", after_feedback)
    return builder


graph = build().compile(name="cycle")
