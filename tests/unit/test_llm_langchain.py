"""The gateway as a LangChain chat model: ``chat_model(role)`` on the gateway's one path, and gateway calls inside a
LangChain run reported to its callbacks (cache hits and failures too), with no API key in any payload."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.tracers.run_collector import RunCollectorCallbackHandler
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel
from scripted_llm import ScriptedLLM, register

from evoforge.errors import ConfigError, LLMError
from evoforge.llm.backend import litellm_module
from evoforge.llm.gateway import LLMGateway
from evoforge.settings import LLMSettings, ModelEntry, RoleSettings

litellm = litellm_module()
SECRET = "sk-evoforge-test-secret-0123456789"
MESSAGES = [{"role": "system", "content": "You judge."}, {"role": "user", "content": "Say hi."}]


class Verdict(BaseModel):
    """A schema for the structured path."""

    score: int


class Recorder(AsyncCallbackHandler):
    """Keeps every chat-model callback with all its arguments."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    async def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        self.seen.append(("start", args, kwargs))

    async def on_llm_end(self, *args: Any, **kwargs: Any) -> None:
        self.seen.append(("end", args, kwargs))

    async def on_llm_error(self, *args: Any, **kwargs: Any) -> None:
        self.seen.append(("error", args, kwargs))

    def kinds(self) -> list[str]:
        return [kind for kind, _, _ in self.seen]

    def replies(self) -> list[AIMessage]:
        return [args[0].generations[0][0].message for kind, args, _ in self.seen if kind == "end"]


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> ScriptedLLM:
    handler = register(monkeypatch, ScriptedLLM("lctest", default="hi", usage=(11, 3)))
    monkeypatch.setenv("EVOFORGE_LC_TEST_KEY", SECRET)
    return handler


def gateway(tmp_path: Path) -> LLMGateway:
    entry = ModelEntry(model="lctest/judge-1", api_key_env="EVOFORGE_LC_TEST_KEY", input_cost_per_token=0.001)
    roles = {"judge": RoleSettings(model="m", temperature=0.2, max_tokens=32)}
    return LLMGateway(LLMSettings(models={"m": entry}, roles=roles), cache_path=tmp_path / "cache.sqlite")


class State(TypedDict):
    text: str


def one_node_graph(gw: LLMGateway, structured: bool = False) -> Any:
    """A graph whose node ``ask`` makes one gateway call (text, or structured into :class:`Verdict`)."""

    async def ask(state: State) -> State:
        if structured:
            return {"text": str((await gw.structured("judge", MESSAGES, Verdict)).score)}
        return {"text": await gw.complete("judge", MESSAGES)}

    builder = StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    return builder.compile()


def test_a_role_is_a_langchain_chat_model_on_the_gateway_path(tmp_path: Path, provider: ScriptedLLM) -> None:
    gw = gateway(tmp_path)
    model = gw.chat_model("judge")
    assert isinstance(model, BaseChatModel)
    reply = asyncio.run(model.ainvoke([SystemMessage("You judge."), HumanMessage("Say hi.")], temperature=0.7))
    assert isinstance(reply, AIMessage) and reply.text == "hi"
    assert reply.usage_metadata == {"input_tokens": 11, "output_tokens": 3, "total_tokens": 14}
    assert reply.response_metadata == {
        "model_name": "lctest/judge-1",
        "cached": False,
        "cost_usd": pytest.approx(0.011),
    }
    sent = provider.calls[0]
    assert sent["messages"] == MESSAGES  # the LangChain messages reach the provider as the gateway's dicts
    assert sent["optional_params"]["temperature"] == 0.7 and sent["optional_params"]["max_tokens"] == 32
    assert gw.usage()["roles"]["judge"]["calls"] == 1
    with pytest.raises(ConfigError, match="unknown LLM role 'nobody'"):
        gw.chat_model("nobody")


def test_a_cache_hit_still_reports_a_call_marked_cached(tmp_path: Path, provider: ScriptedLLM) -> None:
    gw = gateway(tmp_path)
    assert asyncio.run(gw.complete("judge", MESSAGES)) == "hi"  # outside any run: paid, cached, not reported
    recorder = Recorder()
    out = asyncio.run(one_node_graph(gw).ainvoke({"text": ""}, {"callbacks": [recorder]}))
    assert out["text"] == "hi" and len(provider.calls) == 1  # the reported call hit the same cache entry
    assert recorder.kinds() == ["start", "end"]
    (reply,) = recorder.replies()
    assert reply.response_metadata == {"model_name": "lctest/judge-1", "cached": True, "cost_usd": 0.0}
    assert reply.usage_metadata is not None and reply.usage_metadata["input_token_details"] == {"cache_read": 11}
    usage = gw.usage()["roles"]["judge"]
    assert (usage["calls"], usage["cache_hits"]) == (1, 1)
    _, args, kwargs = recorder.seen[0]
    assert kwargs["metadata"]["langgraph_node"] == "ask" and kwargs["metadata"]["llm_role"] == "judge"
    assert kwargs["metadata"]["ls_provider"] == "lctest" and kwargs["metadata"]["ls_model_name"] == "judge-1"
    assert [m.content for m in args[1][0]] == ["You judge.", "Say hi."]


def test_reported_calls_carry_no_api_key(tmp_path: Path, provider: ScriptedLLM) -> None:
    provider.script = ["not json", '{"score": 4}']
    recorder = Recorder()
    out = asyncio.run(
        one_node_graph(gateway(tmp_path), structured=True).ainvoke({"text": ""}, {"callbacks": [recorder]})
    )
    assert out["text"] == "4"
    assert recorder.kinds() == ["start", "end", "start", "end"]  # the repair request is a call of its own
    assert provider.calls[0]["api_key"] == SECRET  # the key did travel, to the provider only
    assert SECRET not in repr(recorder.seen)


def test_a_failed_call_is_reported_and_raises_the_gateway_error(tmp_path: Path, provider: ScriptedLLM) -> None:
    provider.script = ["400"]
    gw, recorder = gateway(tmp_path), Recorder()
    with pytest.raises(LLMError, match=r"role 'judge'.*BadRequestError"):
        asyncio.run(one_node_graph(gw).ainvoke({"text": ""}, {"callbacks": [recorder]}))
    assert recorder.kinds() == ["start", "error"]
    assert gw.usage()["roles"]["judge"]["failures"] == 1


def test_the_chat_model_is_async_only(tmp_path: Path, provider: ScriptedLLM) -> None:
    with pytest.raises(NotImplementedError, match="ainvoke"):
        gateway(tmp_path).chat_model("judge").invoke("hi")
    assert provider.calls == []


def test_a_traced_call_is_an_llm_run_with_latency_as_langsmith_records_it(
    tmp_path: Path, provider: ScriptedLLM
) -> None:
    collector = RunCollectorCallbackHandler()  # a tracer, as LangSmith's: it builds the run tree
    asyncio.run(one_node_graph(gateway(tmp_path)).ainvoke({"text": ""}, {"callbacks": [collector]}))
    (graph_run,) = collector.traced_runs
    (node_run,) = graph_run.child_runs
    (llm_run,) = node_run.child_runs
    assert (node_run.name, llm_run.name, llm_run.run_type) == ("ask", "judge", "llm")
    assert llm_run.end_time is not None and llm_run.end_time > llm_run.start_time
    assert llm_run.extra["metadata"]["llm_role"] == "judge"
    assert llm_run.extra["invocation_params"]["model"] == "lctest/judge-1"
    reply = llm_run.outputs["generations"][0][0]["message"]["kwargs"]  # serialised, as a tracer posts it
    assert reply["usage_metadata"]["total_tokens"] == 14 and reply["response_metadata"]["cached"] is False


def test_gateway_calls_stream_in_langgraph_messages_mode(tmp_path: Path, provider: ScriptedLLM) -> None:
    async def stream() -> list[Any]:
        graph = one_node_graph(gateway(tmp_path))
        return [chunk async for chunk in graph.astream({"text": ""}, stream_mode="messages")]

    ((message, metadata),) = asyncio.run(stream())
    assert isinstance(message, AIMessage) and message.text == "hi"
    assert metadata["langgraph_node"] == "ask" and metadata["llm_role"] == "judge"
