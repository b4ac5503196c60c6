"""One evolve step of the real evolve graph, real agents, real gateway and the simulated LLM, streamed with
``astream_events``: every LLM call of the step shows as a chat-model run nested under its node, with the messages,
the model, the role and the token usage."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langgraph.checkpoint.memory import InMemorySaver
from small_runs import SMALL_EVOLVE

from evoforge.graphs.evolve.graph import build
from evoforge.graphs.runtime import RunContext, thread_config
from evoforge.llm.run_gateway import build_gateway
from evoforge.runs import RunDir
from evoforge.settings import load_config

NODES = {"evolve_batch", "optimize_candidate", "validate"}  # the nodes of a step that call the LLM


async def stream_one_step(run: RunDir, gateway: Any) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """The events of the run up to the method review (after one step), and the nodes it then waits at."""
    graph = build().compile(checkpointer=InMemorySaver(), name="evolve")
    config, context = thread_config(run), RunContext(run_dir=str(run.path), gateway=gateway)
    events = [e async for e in graph.astream_events({}, config, context=context, version="v2")]
    return events, (await graph.aget_state(config)).next


def test_the_llm_calls_of_one_evolve_step_stream_as_chat_model_runs_under_their_nodes(runs_dir: Path) -> None:
    cfg = load_config(None, [*SMALL_EVOLVE, "evolve.max_steps=1", f"run.runs_dir={runs_dir}"])
    run = RunDir.create(cfg, "evolve", "events")
    gateway = build_gateway(cfg, run)
    events, waiting_at = asyncio.run(stream_one_step(run, gateway))
    gateway.close()
    assert waiting_at == ("review_method",)

    node_runs = {e["run_id"]: e["name"] for e in events if e["event"] == "on_chain_start" and e["name"] in NODES}
    starts = {e["run_id"]: e for e in events if e["event"] == "on_chat_model_start"}
    ends = [e for e in events if e["event"] == "on_chat_model_end"]
    usage = gateway.usage()["total"]
    assert len(ends) == len(starts) == usage["calls"] + usage["cache_hits"] > 0  # every gateway call, once

    roles: dict[str, set[str]] = defaultdict(set)
    for end in ends:
        node, role = end["metadata"]["langgraph_node"], end["metadata"]["llm_role"]
        roles[node].add(role)
        assert node_runs[end["parent_ids"][-1]] == node  # nested directly under its node's run
        assert end["name"] == role and end["metadata"]["ls_model_name"] == "skills"
        messages = starts[end["run_id"]]["data"]["input"]["messages"][0]
        assert messages and all(isinstance(m, BaseMessage) and m.content for m in messages)
        reply = end["data"]["output"]
        assert isinstance(reply, AIMessage) and reply.text
        assert reply.response_metadata["model_name"] == "sim/skills"
        assert reply.usage_metadata is not None
        assert reply.usage_metadata["input_tokens"] > 0 and reply.usage_metadata["output_tokens"] > 0
    assert roles == {
        "validate": {"evolver", "validator"},
        "evolve_batch": {"evolver"},
        "optimize_candidate": {"analyzer", "optimizer"},
    }
    paid = [e["data"]["output"] for e in ends if not e["data"]["output"].response_metadata["cached"]]
    assert len(paid) == usage["calls"]
    assert sum(r.usage_metadata["input_tokens"] for r in paid) == usage["tokens_in"]
    assert sum(r.usage_metadata["output_tokens"] for r in paid) == usage["tokens_out"]
