"""The LMoE server through the official ``openai`` client on loopback: a tiny 2-layer Llama with two random LoRA
experts, ``auto`` routed by the agent router through the real gateway (a mocked LiteLLM answer)."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from serve_helpers import agent_gateway, tiny_lmoe

from evoforge.serve.api import create_app
from evoforge.serve.background import BackgroundServer
from evoforge.serve.lmoe import LMoE
from evoforge.serve.schemas import Limits

KEY = "test-token-123"
ASK = [{"role": "user", "content": "Reverse the word 'hello'."}]


@pytest.fixture(scope="module")
def lmoe(tmp_path_factory: pytest.TempPathFactory) -> LMoE:
    return tiny_lmoe(tmp_path_factory.mktemp("lmoe"))


@pytest.fixture(scope="module")
def server(lmoe: LMoE) -> Iterator[BackgroundServer]:
    app = create_app(lmoe, limits=Limits(max_body_bytes=20_000, max_tokens=64), api_key=KEY, max_batch=8)
    with BackgroundServer(app) as running:
        yield running


@pytest.fixture
def client(server: BackgroundServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0)


def test_models_lists_auto_each_expert_and_the_base(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["auto", "arithmetic", "strings", "base"]


def test_chat_names_the_expert_in_the_header_and_the_model(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="arithmetic", messages=ASK, max_tokens=6, temperature=0
    )
    reply = raw.parse()
    assert raw.headers["x-expert"] == "arithmetic" and reply.model == "arithmetic"
    assert reply.choices[0].finish_reason in {"stop", "length"} and reply.usage is not None
    assert reply.usage.completion_tokens <= 6 and reply.usage.prompt_tokens > 5
    routed = client.chat.completions.with_raw_response.create(model="auto", messages=ASK, max_tokens=3, temperature=0)
    assert routed.headers["x-expert"] == "strings" and routed.parse().model == "strings"


def test_experts_answer_differently_and_greedy_is_repeatable(client: openai.OpenAI) -> None:
    def answer(model: str) -> str:
        reply = client.chat.completions.create(model=model, messages=ASK, max_tokens=12, temperature=0)
        return reply.choices[0].message.content or ""

    first = {m: answer(m) for m in ("arithmetic", "strings", "base")}
    assert len(set(first.values())) == 3
    assert answer("strings") == first["strings"]


def test_streaming_chat_adds_up_to_the_whole_answer(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model="strings", messages=ASK, max_tokens=10, temperature=0)
    chunks = list(
        client.chat.completions.create(
            model="strings",
            messages=ASK,
            max_tokens=10,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens  # type: ignore[union-attr]
    assert {c.model for c in chunks} == {"strings"}


def test_completions_with_several_prompts_and_n(client: openai.OpenAI) -> None:
    reply = client.completions.create(model="base", prompt=["What is", "Reverse"], max_tokens=4, n=2, temperature=0)
    assert [c.index for c in reply.choices] == [0, 1, 2, 3]
    assert reply.choices[0].text == reply.choices[1].text  # greedy: both samples of a prompt agree
    assert reply.usage is not None and reply.usage.completion_tokens <= 16
    sampled = client.completions.create(model="base", prompt="What is", max_tokens=6, n=3, temperature=1.5, seed=3)
    again = client.completions.create(model="base", prompt="What is", max_tokens=6, n=3, temperature=1.5, seed=3)
    assert [c.text for c in sampled.choices] == [c.text for c in again.choices]


def test_stop_strings_end_the_completion(client: openai.OpenAI) -> None:
    free = client.completions.create(model="base", prompt="What is", max_tokens=12, temperature=0).choices[0].text
    assert len(free) > 3
    stop = free[2:4]
    cut = client.completions.create(model="base", prompt="What is", max_tokens=12, temperature=0, stop=[stop])
    assert cut.choices[0].text == free[: free.find(stop)] and cut.choices[0].finish_reason == "stop"


def test_errors_come_in_openai_shape(client: openai.OpenAI, server: BackgroundServer) -> None:
    with pytest.raises(openai.NotFoundError, match="does not exist; served: auto, arithmetic"):
        client.chat.completions.create(model="nope", messages=ASK)
    with pytest.raises(openai.BadRequestError, match="at most 64"):
        client.chat.completions.create(model="base", messages=ASK, max_tokens=65)
    with pytest.raises(openai.AuthenticationError, match="invalid API key"):
        openai.OpenAI(base_url=f"{server.url}/v1", api_key="wrong", max_retries=0).models.list()
    with pytest.raises(openai.APIStatusError, match="at most 20000") as too_big:
        client.chat.completions.create(model="base", messages=[{"role": "user", "content": "x" * 30_000}])
    assert too_big.value.status_code == 413
    auth = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    bad = httpx.post(f"{server.url}/v1/chat/completions", content=b"{not json", headers=auth)
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]["message"]
    fields = httpx.post(f"{server.url}/v1/chat/completions", json={"model": "base", "messages": []}, headers=auth)
    assert fields.status_code == 400 and "messages" in fields.json()["error"]["message"]
    missing = httpx.get(f"{server.url}/v1/nothing", headers=auth)
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    assert "Traceback" not in bad.text + fields.text + missing.text


def test_concurrent_requests_for_different_experts_share_batches(
    client: openai.OpenAI, server: BackgroundServer, lmoe: LMoE
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    models = ["arithmetic", "strings", "base"] * 4
    alone = {m: client.chat.completions.create(model=m, messages=ASK, max_tokens=8, temperature=0) for m in set(models)}
    batcher = server.server.config.app.state.decoder
    before = batcher.batches
    with ThreadPoolExecutor(len(models)) as pool:
        replies = list(
            pool.map(
                lambda m: client.chat.completions.create(model=m, messages=ASK, max_tokens=8, temperature=0), models
            )
        )
    assert batcher.batches - before < len(models)  # several requests decoded per batch
    for model, reply in zip(models, replies, strict=True):
        assert reply.choices[0].message.content == alone[model].choices[0].message.content


def test_a_request_arriving_mid_batch_joins_it_at_the_next_step(
    client: openai.OpenAI, server: BackgroundServer
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def ask(model: str, max_tokens: int) -> str:
        reply = client.chat.completions.create(model=model, messages=ASK, max_tokens=max_tokens, temperature=0)
        return reply.choices[0].message.content or ""

    alone = ask("strings", 6)
    decoder = server.server.config.app.state.decoder
    before = decoder.batches
    with ThreadPoolExecutor(1) as pool:
        long = pool.submit(ask, "arithmetic", 64)
        deadline = time.monotonic() + 30
        while decoder.batches == before:  # until the long answer's batch is decoding
            assert time.monotonic() < deadline
            time.sleep(0.002)
        joined = ask("strings", 6)
        assert not long.done()  # the short answer did not wait for the long one's batch to end
        assert long.result(timeout=60)
    assert joined == alone and decoder.batches == before + 1  # one batch served both


def test_rows_joining_mid_batch_decode_as_they_would_alone(lmoe: LMoE) -> None:
    from evoforge.serve.decoding import Row, Sampling
    from evoforge.serve.engine import LoraEngine

    engine = lmoe.engine
    assert isinstance(engine, LoraEngine)
    prompts = {  # a joiner longer than the running batch's cache, and one shorter
        "first": ("arithmetic", engine.chat_prompt(ASK)),
        "longer": ("strings", engine.chat_prompt([{"role": "user", "content": "Reverse every word of: " * 6}])),
        "shorter": ("__base__", engine.encode("What is")),
    }

    def rows() -> dict[str, Row]:
        return {name: Row(list(ids), adapter, Sampling(max_tokens=12)) for name, (adapter, ids) in prompts.items()}

    alone = rows()
    for row in alone.values():
        engine.run([row])
    joined = rows()
    steps: list[int] = []

    def admit(busy: int) -> list[Row]:
        steps.append(busy)
        return {2: [joined["longer"]], 5: [joined["shorter"]]}.get(len(steps), [])

    engine.run([joined["first"]], admit=admit)
    assert steps[1:5] == [1, 2, 2, 2]  # the longer row joined after the second step, the shorter after the fifth
    for name, row in joined.items():
        assert (row.tokens, row.finish_reason) == (alone[name].tokens, alone[name].finish_reason), name


def test_a_client_leaving_mid_stream_frees_its_slot(server: BackgroundServer) -> None:
    auth = {"authorization": f"Bearer {KEY}"}
    body = {"model": "base", "messages": ASK, "max_tokens": 64, "temperature": 0, "stream": True}
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, headers=auth) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        next(response.iter_lines())
    follow = httpx.post(
        f"{server.url}/v1/chat/completions", json={**body, "stream": False, "max_tokens": 2}, headers=auth, timeout=30
    )
    assert follow.status_code == 200 and follow.headers["x-expert"] == "base"


def test_a_client_leaving_before_the_whole_answer_frees_its_slot(lmoe: LMoE, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(lmoe, limits=Limits(max_tokens=900), max_batch=8)
    body = {"model": "base", "messages": ASK, "max_tokens": 900, "temperature": 0}  # seconds of decoding on a CPU
    with BackgroundServer(app) as running, caplog.at_level(logging.INFO, logger="evoforge.serve"):
        url = f"{running.url}/v1/chat/completions"
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(url, json=body, timeout=httpx.Timeout(30, read=0.3))  # gives up and closes the connection
        deadline = time.monotonic() + 30
        while not (gone := [r.getMessage() for r in caplog.records if "client went away" in r.getMessage()]):
            assert time.monotonic() < deadline, "the server did not notice the client leave"
            time.sleep(0.02)
        tokens = int(re.search(r"after (\d+) token", gone[0]).group(1))  # type: ignore[union-attr]
        assert "1 chat completion(s) by base cancelled" in gone[0] and tokens < 900
        follow = httpx.post(url, json={**body, "max_tokens": 2}, timeout=30)
        assert follow.status_code == 200 and follow.json()["usage"]["completion_tokens"] <= 2


def test_experts_from_a_cycle_run(tmp_path: Path) -> None:
    from evoforge.merging.job import MergeJob
    from evoforge.serve.model_sources import resolve_experts

    run = tmp_path / "runs" / "r1"
    chunks = run / "rounds" / "1" / "chunks"
    chunks.mkdir(parents=True)
    (run / "manifest.json").write_text("{}")
    (chunks / "strings.jsonl").write_text(json.dumps({"instruction": "Reverse 'ab'.", "output": "ba"}) + "\n")
    adapter = run / "rounds" / "1" / "adapters" / "strings-sft"
    adapter.mkdir(parents=True)
    (adapter / "training.json").write_text(json.dumps({"chunk": "strings"}))
    job = MergeJob(base=tmp_path / "base", adapters={"strings-sft": adapter}, eval_path=tmp_path / "e", storage="x",
                   train_all=run / "rounds" / "1" / "adapters" / "all-sft")  # fmt: skip
    (run / "rounds" / "1" / "merge").mkdir()
    (run / "rounds" / "1" / "merge" / "job.json").write_text(job.model_dump_json())
    base, experts = resolve_experts(run="r1", runs_dir=tmp_path / "runs")
    assert base == tmp_path / "base"
    assert [(e.name, e.instructions) for e in experts] == [("strings-sft", ("Reverse 'ab'.",)), ("train@all", ())]


def test_the_agent_router_falls_back_when_the_llm_names_no_expert() -> None:
    import asyncio

    from evoforge.serve.routing import AgentRouter

    descriptions = {"arithmetic": "numbers", "strings": "words"}
    router = AgentRouter(agent_gateway({"expert": "poetry", "reason": "?"}), descriptions)
    [route] = asyncio.run(router.route(["Write a poem."]))
    assert route.expert == "arithmetic" and "named no expert" in route.detail
    [chosen] = asyncio.run(AgentRouter(agent_gateway({"expert": "strings"}), descriptions).route(["Reverse 'ab'."]))
    assert (chosen.expert, chosen.router) == ("strings", "agent")
