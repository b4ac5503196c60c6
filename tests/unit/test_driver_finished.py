"""When is a checkpointed thread over? A process killed after a node's writes were saved but before the step's
checkpoint leaves a state whose ``next`` is empty (LangGraph omits tasks with saved writes): that run is not over,
and resuming it runs the rest of the graph."""

from __future__ import annotations

from typing import Any, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from evoforge.graphs.driver import finished


class Steps(TypedDict, total=False):
    done: list[str]


class KilledSaver(InMemorySaver):
    """A checkpointer that dies on the next step checkpoint once ``kill`` is set (a pending write has been saved)."""

    kill = False

    def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        if self.kill:
            self.kill = False
            raise KeyboardInterrupt("killed before the checkpoint")
        return super().put(config, checkpoint, metadata, new_versions)


def test_a_task_whose_writes_were_saved_without_the_next_checkpoint_is_not_the_end() -> None:
    saver = KilledSaver()

    def step(name: str) -> Any:
        def node(state: Steps) -> Steps:
            saver.kill = name == "b"
            return {"done": [*state.get("done", []), name]}

        return node

    builder = StateGraph(Steps)
    for name in ("a", "b", "c"):
        builder.add_node(name, step(name))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    builder.add_edge("c", END)
    graph = builder.compile(checkpointer=saver)
    config: Any = {"configurable": {"thread_id": "t"}}
    with pytest.raises(KeyboardInterrupt):
        graph.invoke({"done": []}, config, durability="sync")
    killed = graph.get_state(config)
    assert killed.next == () and [t.name for t in killed.tasks] == ["b"]  # b's writes saved, its step not
    assert not finished(killed)
    graph.invoke(None, config, durability="sync")
    end = graph.get_state(config)
    assert finished(end) and end.values["done"] == ["a", "b", "c"]
