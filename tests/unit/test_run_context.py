"""The run context carries the resources its nodes share: one Resources per run (and per subgraph folder) for
every node of an invocation, none shared between two contexts, nothing kept once the context is gone."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from evoforge.graphs.runtime import Resources, RunContext, node_resources
from evoforge.llm.gateway import LLMGateway
from evoforge.runs import RunDir
from evoforge.settings import load_config


class State(TypedDict, total=False):
    workdir: str


Seen = list[tuple[str, Resources]]


def recorder(seen: Seen, name: str, command: str) -> Any:
    """A node that records the resources it is given (of the state's ``workdir`` when it has one)."""

    async def node(state: State, runtime: Runtime[RunContext]) -> dict[str, Any]:
        seen.append((name, await node_resources(runtime, command, state.get("workdir", ""))))
        return {}

    return node


def cycle_like(seen: Seen) -> Any:
    """Two nodes opening the run at once, then a mounted subgraph of two nodes working in ``rounds/1``, then one."""
    sub = StateGraph(State, context_schema=RunContext)
    sub.add_node("inner_a", recorder(seen, "inner_a", "evolve"))
    sub.add_node("inner_b", recorder(seen, "inner_b", "evolve"))
    sub.add_edge(START, "inner_a")
    sub.add_edge("inner_a", "inner_b")
    sub.add_edge("inner_b", END)
    outer = StateGraph(State, context_schema=RunContext)
    outer.add_node("first_a", recorder(seen, "first_a", "cycle"))
    outer.add_node("first_b", recorder(seen, "first_b", "cycle"))
    outer.add_node("enter", lambda state: {"workdir": "rounds/1"})
    outer.add_node("evolve", sub.compile())
    outer.add_node("leave", lambda state: {"workdir": ""})
    outer.add_node("last", recorder(seen, "last", "cycle"))
    outer.add_edge(START, "first_a")
    outer.add_edge(START, "first_b")
    outer.add_edge(["first_a", "first_b"], "enter")
    outer.add_edge("enter", "evolve")
    outer.add_edge("evolve", "leave")
    outer.add_edge("leave", "last")
    outer.add_edge("last", END)
    return outer.compile()


def test_a_contexts_nodes_share_one_resources_and_two_contexts_share_none(runs_dir: Path) -> None:
    cfg = load_config(None, [f"run.runs_dir={runs_dir}"])
    run = RunDir.create(cfg, "cycle", "r1")
    RunDir.create(load_config(None, [f"run.runs_dir={run.path / 'rounds'}"]), "evolve", "1")
    given = LLMGateway(cfg.llm)
    first, second = RunContext(run_dir=str(run.path), gateway=given), RunContext(run_dir=str(run.path))
    seen: Seen = []
    graph = cycle_like(seen)

    async def both() -> tuple[dict[str, Resources], dict[str, Resources]]:
        await graph.ainvoke({}, {"configurable": {"thread_id": "t"}}, context=first)
        one = dict(seen)
        seen.clear()
        await graph.ainvoke({}, {"configurable": {"thread_id": "t"}}, context=second)
        return one, dict(seen)

    one, two = asyncio.run(both())
    for got, ctx in ((one, first), (two, second)):
        assert set(got) == {"first_a", "first_b", "inner_a", "inner_b", "last"}
        top, sub = got["first_a"], got["inner_a"]
        assert got["first_b"] is top and got["last"] is top  # one Resources for the run, opened once
        assert got["inner_b"] is sub and sub is not top  # and one for the subgraph's folder
        assert top.run.path == run.path and sub.run.path == run.path / "rounds" / "1"
        assert sub.gateway is top.gateway and sub.agents is top.agents  # the run's gateway and agents
        assert ctx.opened == {str(run.path): top, str(sub.run.path): sub}  # held by the context, nowhere else
    assert one["first_a"].gateway is given
    assert isinstance(two["first_a"].gateway, LLMGateway) and two["first_a"].gateway is not given  # its own
    assert not {id(r) for r in one.values()} & {id(r) for r in two.values()}
    two["first_a"].gateway.close()
    given.close()
