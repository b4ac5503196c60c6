"""The ``instruct`` graph: airoboros' generation as a LangGraph state machine.

topics (read the file, or generate it) → human review of the topics → (generate-topics ends here) → prepare the
output file (append / overwrite) → every instructor's producer at once → the second pass (character cards, then
the instructors that use them or the records written: rp, gtkm, stylized_response, editor) → human review of a
sample per instructor → outputs (ShareGPT and alpaca exports, an HF dataset, the report). A rejected review ends
the run with what is written kept. Both generation nodes run in passes while a batch is pending
(:mod:`evoforge.graphs.llm_batches`; a model entry with ``batch: true``).

Mounted in the cycle (``cycle.data_source: instruct``) it works in the round's folder (``workdir``) and hands back
:class:`~evoforge.graphs.instruct.state.InstructSummary` as ``instructed``.

``graph`` is compiled without a checkpointer (LangGraph Studio attaches its own); the CLI compiles :func:`build`
with the SQLite checkpointer of the run directory, so a killed run resumes (``evoforge resume``).
"""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END, START, StateGraph

from evoforge.graphs.instruct import nodes
from evoforge.graphs.instruct.state import InstructInput, InstructOutput, InstructState
from evoforge.graphs.llm_batches import again_while_batched, batched
from evoforge.graphs.paths import add_path
from evoforge.graphs.runtime import RunContext, llm_retry


def after_topic_review(state: InstructState) -> Literal["prepare_output", "write_outputs", "__end__"]:
    """Reject → end; generate-topics → its outputs; otherwise on to the instructions."""
    if state["topics_decision"]["action"] == "reject":
        return "__end__"
    return "write_outputs" if state.get("mode") == "topics" else "prepare_output"


def after_sample_review(state: InstructState) -> Literal["write_outputs", "__end__"]:
    """Approve → the exports; reject → end (the records stay in the output file)."""
    return "__end__" if state["sample_decision"]["action"] == "reject" else "write_outputs"


def build() -> StateGraph[InstructState, RunContext, InstructInput, InstructOutput]:
    """The instruct graph's builder (compile it with or without a checkpointer)."""
    builder = StateGraph(
        InstructState, context_schema=RunContext, input_schema=InstructInput, output_schema=InstructOutput
    )
    retry = llm_retry()
    builder.add_node("topics", nodes.topics, retry_policy=retry)
    builder.add_node("review_topics", nodes.review_topics)
    builder.add_node("prepare_output", nodes.prepare_output)
    builder.add_node("generate", batched(nodes.generate, "instruct"), retry_policy=retry)
    builder.add_node("generate_dependent", batched(nodes.generate_dependent, "instruct"), retry_policy=retry)
    builder.add_node("review_sample", nodes.review_sample)
    builder.add_node("write_outputs", nodes.write_outputs)
    add_path(builder, START, "topics", "review_topics")
    builder.add_conditional_edges("review_topics", after_topic_review)
    builder.add_edge("prepare_output", "generate")
    builder.add_conditional_edges(
        "generate", again_while_batched("generate", "generate_dependent"), ["generate", "generate_dependent"]
    )
    second = again_while_batched("generate_dependent", "review_sample")
    builder.add_conditional_edges("generate_dependent", second, ["generate_dependent", "review_sample"])
    builder.add_conditional_edges("review_sample", after_sample_review)
    builder.add_edge("write_outputs", END)
    return builder


graph = build().compile(name="instruct")
