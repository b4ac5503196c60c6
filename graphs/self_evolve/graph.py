"""The ``self_evolve`` graph: Self-Evolution's rounds as a LangGraph state machine.

prepare (read the fragments and the eval set, resolve the model) → per round: generate (the current model writes
a question per fragment and answers it from the fragment) → score (IFD with the base model) → human review of a
sample → train (the round's Q&A and the replayed history, closed book, continuing the previous adapter) → evaluate
(closed book, greedy; LLaMA-Factory's predict files) → the next round, or finish (the chart and the report). A
rejected review ends the run; every finished round stays in the run directory.

``graph`` is compiled without a checkpointer (LangGraph Studio attaches its own); the CLI compiles :func:`build`
with the run's checkpointer, so a killed run resumes (``evoforge resume``) with the same results.
"""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END, START, StateGraph

from evoforge.graphs.paths import add_path
from evoforge.graphs.runtime import RunContext, llm_retry
from evoforge.graphs.self_evolve import nodes
from evoforge.graphs.self_evolve.state import SelfEvolveInput, SelfEvolveState


def after_review(state: SelfEvolveState) -> Literal["train", "__end__"]:
    """Approve → train on the round's Q&A; reject → end (the rounds done so far are kept)."""
    return "__end__" if state["qa_decision"]["action"] == "reject" else "train"


def after_evaluate(state: SelfEvolveState) -> Literal["generate", "finish"]:
    """Another round while ``round < end_id``, else the chart and the report."""
    return "generate" if state["round"] < state["end_id"] else "finish"


def build() -> StateGraph[SelfEvolveState, RunContext, SelfEvolveInput, SelfEvolveState]:
    """The self_evolve graph's builder (compile it with or without a checkpointer)."""
    builder = StateGraph(SelfEvolveState, context_schema=RunContext, input_schema=SelfEvolveInput)
    builder.add_node("prepare", nodes.prepare)
    builder.add_node("generate", nodes.generate, retry_policy=llm_retry())
    builder.add_node("score", nodes.score)
    builder.add_node("review_qa", nodes.review_qa)
    builder.add_node("train", nodes.train)
    builder.add_node("evaluate", nodes.evaluate)
    builder.add_node("finish", nodes.finish)
    add_path(builder, START, "prepare", "generate", "score", "review_qa")
    builder.add_conditional_edges("review_qa", after_review)
    builder.add_edge("train", "evaluate")
    builder.add_conditional_edges("evaluate", after_evaluate)
    builder.add_edge("finish", END)
    return builder


graph = build().compile(name="self_evolve")
