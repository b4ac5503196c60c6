"""The ``cycle`` graph: AutoLLM's closed loop as a LangGraph state machine — the main job.

prepare round (seeds from the feedback plan) → evolve (the evolve graph as a subgraph; its human reviews pass
through) → chunk + hold out → train one delta per chunk and method, and train@all beside them (``Send`` branches,
one at a time per process on a CPU) → merge-weight search →
evaluate raw, train@all, each delta, average and best merge on the fixed test set → **human checkpoint: promote
the merge?** → feedback (fold the merge into the student, steer the next round's seeds) → next round, until
``cycle.rounds`` or until the test score stops improving for ``cycle.patience`` rounds.

``graph`` is compiled without a checkpointer (LangGraph Studio attaches its own); the CLI compiles :func:`build`
with the SQLite checkpointer of the run directory.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph

from evoforge.graphs import cycle_nodes as nodes
from evoforge.graphs.checkpoints import llm_retry
from evoforge.graphs.cycle_state import CycleState
from evoforge.graphs.evolve_context import EvolveContext
from evoforge.runs import RunDir

STEPS = ("prepare_round", "evolve", "chunk")
AFTER_TRAINING = ("merge", "evaluate", "review_promotion", "feedback")


def after_feedback(state: CycleState) -> Literal["prepare_round", "__end__"]:
    """Another round unless the round budget is spent or the test score stopped improving (patience)."""
    limits = state.get("limits") or {}
    more = state["round"] < limits.get("rounds", 1) and state.get("stale", 0) < limits.get("patience", 1)
    return "prepare_round" if more else END


def context_for(run: RunDir, gateway: Any) -> EvolveContext:
    """The context the CLI runs the graph with: its run directory and its gateway."""
    return EvolveContext(run_dir=str(run.path), gateway=gateway)


def build() -> StateGraph:
    """The cycle graph's builder (compile it with or without a checkpointer)."""
    builder = StateGraph(CycleState, context_schema=EvolveContext)
    for name in (*STEPS, "train_delta", *AFTER_TRAINING):
        builder.add_node(name, getattr(nodes, name), retry_policy=llm_retry() if name == "evolve" else None)
    builder.add_edge(START, "prepare_round")
    for a, b in itertools.pairwise(STEPS):
        builder.add_edge(a, b)
    builder.add_conditional_edges("chunk", nodes.spread_training, ["train_delta"])
    builder.add_edge("train_delta", "merge")
    for a, b in itertools.pairwise(AFTER_TRAINING):
        builder.add_edge(a, b)
    builder.add_conditional_edges("feedback", after_feedback)
    return builder


graph = build().compile(name="cycle")
