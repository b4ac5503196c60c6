"""The ``evolve`` graph: Auto Evol-Instruct as a LangGraph state machine.

load seeds → split train/dev → validate the initial method → per step: evolve a mini-batch ``loop`` times →
``candidate_size`` parallel branches (analyse + optimise) → validate the candidates on dev (λ) → keep the best →
until λ stops improving (``patience``) or ``max_steps`` → human review of the method (approve / edit / reject) →
evolve and answer the whole dataset (a node with a batch pending runs again: :mod:`evoforge.graphs.llm_batches`) →
eliminate failures and duplicates → human review of a sample → outputs.

``graph`` is compiled without a checkpointer (LangGraph Studio attaches its own); the CLI compiles
:func:`build` with an SQLite checkpointer in the run directory (see :mod:`evoforge.graphs.runtime`).
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from evoforge.graphs.evolve import nodes
from evoforge.graphs.evolve.state import CandidateTask, EvolveInput, EvolveOutput, EvolveState
from evoforge.graphs.llm_batches import again_while_batched, batched
from evoforge.graphs.paths import add_path
from evoforge.graphs.runtime import RunContext, llm_retry


def after_select(state: EvolveState) -> Literal["evolve_batch", "review_method"]:
    """Keep optimising until the step budget is spent or λ stopped improving for ``patience`` steps."""
    if state["step"] >= state["step_limit"] or state.get("stale", 0) >= state["patience"]:
        return "review_method"
    return "evolve_batch"


def spread_candidates(state: EvolveState) -> list[Send]:
    """Fan out one ``optimize_candidate`` branch per candidate (sample index 0 … m-1)."""
    return [
        Send(
            "optimize_candidate",
            CandidateTask(
                step=state["step"],
                index=i,
                method_id=state["method_id"],
                method=state["method"],
                trajectories_path=state["trajectories_path"],
                workdir=state.get("workdir", ""),
            ),
        )
        for i in range(state["candidate_size"])
    ]


def after_method_review(state: EvolveState) -> Literal["evolve_dataset", "evolve_batch"]:
    """Approve or edit → build the dataset; reject → keep optimising."""
    return "evolve_batch" if state["method_decision"]["action"] == "reject" else "evolve_dataset"


def after_dataset_review(state: EvolveState) -> Literal["write_outputs", "review_method"]:
    """Approve → write the outputs; reject → back to the method review."""
    return "review_method" if state["dataset_decision"]["action"] == "reject" else "write_outputs"


def reopen(values: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """How ``evoforge resume`` takes up a completed run whose dataset lost rows to transport errors: as if the
    method review had just approved again, with ``refill`` set (the dataset steps keep what was made and send only
    the lost calls, the dataset review asks again, the outputs are rewritten); None when nothing was lost."""
    if (values.get("counts") or {}).get("lost"):
        return {"refill": True}, "review_method"
    return None


def build() -> StateGraph[EvolveState, RunContext, EvolveInput, EvolveOutput]:
    """The evolve graph's builder (compile it with or without a checkpointer)."""
    builder = StateGraph(EvolveState, context_schema=RunContext, input_schema=EvolveInput, output_schema=EvolveOutput)
    retry = llm_retry()
    builder.add_node("load_seeds", nodes.load_seeds)
    builder.add_node("split_seeds", nodes.split_seeds)
    builder.add_node("evolve_batch", nodes.evolve_batch, retry_policy=retry)
    # a Send branch: its input is the CandidateTask payload, which LangGraph's typing cannot tell from the state
    builder.add_node("optimize_candidate", nodes.optimize_candidate, retry_policy=retry)  # type: ignore
    builder.add_node("validate", nodes.validate, retry_policy=retry)
    builder.add_node("select", nodes.select)
    builder.add_node("review_method", nodes.review_method)
    builder.add_node("evolve_dataset", batched(nodes.evolve_dataset, "evolve"), retry_policy=retry)
    builder.add_node("answer_dataset", batched(nodes.answer_dataset, "evolve"), retry_policy=retry)
    builder.add_node("filter_dataset", nodes.filter_dataset)
    builder.add_node("review_dataset", nodes.review_dataset)
    builder.add_node("write_outputs", nodes.write_outputs)

    add_path(builder, START, "load_seeds", "split_seeds", "validate", "select")
    builder.add_conditional_edges("select", after_select)
    builder.add_conditional_edges("evolve_batch", spread_candidates, ["optimize_candidate"])
    builder.add_edge("optimize_candidate", "validate")
    builder.add_conditional_edges("review_method", after_method_review)
    evolved = again_while_batched("evolve_dataset", "answer_dataset")
    builder.add_conditional_edges("evolve_dataset", evolved, ["evolve_dataset", "answer_dataset"])
    answered = again_while_batched("answer_dataset", "filter_dataset")
    builder.add_conditional_edges("answer_dataset", answered, ["answer_dataset", "filter_dataset"])
    builder.add_edge("filter_dataset", "review_dataset")
    builder.add_conditional_edges("review_dataset", after_dataset_review)
    builder.add_edge("write_outputs", END)
    return builder


graph = build().compile(name="evolve")
