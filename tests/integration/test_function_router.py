"""``--agent-router`` over an LMoE package with a ``function`` expert: airoboros' routing prompt goes to that adapter
on the served base; its answer is read as airoboros reads it, and an answer naming no expert falls back to the
embedding router (in the Assistant, decoded in place, and behind the HTTP server, through its decoder)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from evoforge.serve.api import create_app
from evoforge.serve.background import BackgroundServer
from evoforge.serve.decoding import Row
from evoforge.serve.experts import Expert
from evoforge.serve.function_router import FunctionRouter, chosen_expert, routing_prompt
from evoforge.serve.lmoe import RouterSettings, build_lmoe
from evoforge.serve.routing import Route
from evoforge.testing.tiny_models import build_lora_adapter, build_tiny_lm

DESCRIPTIONS = {"code": "programming", "qa": "questions of fact"}


class Fixed:
    """A fallback router that always answers ``qa``."""

    async def route(self, texts: list[str]) -> list[Route]:
        return [Route("qa", "embedding", "nearest")] * len(texts)


def test_the_answer_is_read_as_airoboros_reads_it() -> None:
    assert chosen_expert('{"function": "code", "params": {}}', ["code", "qa"]) == "code"
    assert chosen_expert('I would pick "qa" here', ["code", "qa"]) == "qa"
    assert chosen_expert("no idea", ["code", "qa"]) is None
    prompt = routing_prompt("Write a sort.", DESCRIPTIONS)
    assert prompt.startswith("A chat.\nUSER: As an AI assistant, choose the correct function")
    assert "Input: Write a sort.\n\nAvailable functions:\ncode:\n description: programming\nqa:\n" in prompt
    assert prompt.endswith("ASSISTANT: ")


def test_the_function_adapter_routes_and_falls_back() -> None:
    prompts: list[list[int]] = []

    def answering(text: str) -> object:
        async def complete(row: Row) -> Row:
            prompts.append(row.prompt_ids)
            row.text = text
            return row

        return complete

    def encode(text: str) -> list[int]:
        return [len(text)]

    chosen = FunctionRouter(answering(' {"function": "code"}'), encode, {**DESCRIPTIONS, "function": "x"}, Fixed())
    [route] = asyncio.run(chosen.route(["Write a sort."]))  # type: ignore[arg-type]
    assert (route.expert, route.router) == ("code", "agent") and chosen.descriptions == DESCRIPTIONS
    assert prompts == [[len(routing_prompt("Write a sort.", DESCRIPTIONS))]]
    lost = FunctionRouter(answering("banana"), encode, DESCRIPTIONS, Fixed())  # type: ignore[arg-type]
    [route] = asyncio.run(lost.route(["Who?"]))
    assert (route.expert, route.router) == ("qa", "embedding") and "named no expert ('banana')" in route.detail


def test_agent_routing_with_a_function_expert_decodes_on_the_base(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base = build_tiny_lm(tmp_path / "base")
    experts = [
        Expert(name, build_lora_adapter(base, tmp_path / name, seed=n), name, (f"{name} task {n}",))
        for n, name in enumerate(["code", "function", "qa"], 1)
    ]
    lmoe = build_lmoe(base, experts, router=RouterSettings(kind="agent"), device="cpu")
    assert isinstance(lmoe.router, FunctionRouter)
    [route] = asyncio.run(lmoe.route("auto", ["qa task"]))  # the random adapter names no expert: embedding decides
    assert route.expert in {"code", "qa"} and "the function adapter" in route.detail
    with BackgroundServer(create_app(lmoe)) as server, caplog.at_level(logging.INFO, logger="evoforge.serve"):
        body = {"model": "auto", "max_tokens": 2, "messages": [{"role": "user", "content": "qa task"}]}
        reply = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=60)
    assert reply.status_code == 200 and reply.headers["x-expert"] == route.expert
    assert any("the function adapter" in record.getMessage() for record in caplog.records)
