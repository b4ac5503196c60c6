"""The vLLM backend's decoder behind the real API, through the official ``openai`` client on loopback.

No vllm here (no GPU): :class:`VllmDecoder` drives a scripted stand-in for ``AsyncLLMEngine`` with the documented
``generate(prompt, sampling_params, request_id, *, lora_request=None)`` — an async generator of cumulative outputs,
aborted when its iteration is cancelled — and builds its ``SamplingParams`` / ``TokensPrompt`` as plain dicts. So
this checks everything evoforge does around vLLM (each expert's LoRA request, per-choice sampling, streaming,
usage, cancelling on disconnect), not vLLM itself.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import openai
import pytest

from evoforge.serve.api import create_app
from evoforge.serve.background import BackgroundServer
from evoforge.serve.experts import Expert
from evoforge.serve.lmoe import LMoE
from evoforge.serve.prompting import PromptTokens
from evoforge.serve.vllm_args import lora_slots
from evoforge.serve.vllm_engine import VllmDecoder
from evoforge.testing.tiny_models import build_tokenizer

ASK = [{"role": "user", "content": "Reverse the word 'hello'."}]
EOS = 2


class ScriptedAsyncLLM:
    """Writes the first letter of its LoRA's name (``b`` for the base) once per step, one token each; records every
    request and every request aborted (its generator cancelled or closed before it finished)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.aborted: list[str] = []
        self.step_s = 0.0

    async def generate(
        self, prompt: dict[str, Any], sampling_params: dict[str, Any], request_id: str, *, lora_request: Any = None
    ) -> AsyncIterator[Any]:
        self.requests.append({"prompt": prompt, "params": sampling_params, "id": request_id, "lora": lora_request})
        letter = lora_request[0][0] if lora_request else "b"
        tokens: list[int] = []
        try:
            for step in range(sampling_params["max_tokens"]):
                await asyncio.sleep(self.step_s)
                tokens.append(10 + step)
                reason = "length" if step + 1 == sampling_params["max_tokens"] else None
                completion = SimpleNamespace(token_ids=list(tokens), text=letter * len(tokens), finish_reason=reason)
                yield SimpleNamespace(outputs=[completion], finished=reason is not None)
        except (asyncio.CancelledError, GeneratorExit):
            self.aborted.append(request_id)
            raise

    def shutdown(self) -> None:
        """The engine's shutdown (nothing to release)."""


class ScriptedVllmEngine(PromptTokens):
    """The vLLM engine's face to the API (a real tokenizer and chat template), started on the scripted engine."""

    def __init__(self, root: Path, adapters: dict[str, Path]) -> None:
        self.tokenizer = build_tokenizer(root / "tokenizer")
        self.slots = lora_slots(adapters)
        self.adapters = list(self.slots)
        self.context = 1024
        self.llm = ScriptedAsyncLLM()

    def start(self, max_batch: int) -> VllmDecoder:
        loras = {name: (s.name, s.lora_int_id, s.path) for name, s in self.slots.items()}  # LoRARequest's arguments
        return VllmDecoder(self.llm, self.slots, loras, {EOS}, dict, dict)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> ScriptedVllmEngine:
    root = tmp_path_factory.mktemp("vllm")
    adapters = {}
    for name in ("arithmetic", "strings"):
        (root / name).mkdir()
        (root / name / "adapter_config.json").write_text(json.dumps({"r": 4, "lora_alpha": 8}))
        adapters[name] = root / name
    return ScriptedVllmEngine(root, adapters)


@pytest.fixture(scope="module")
def server(engine: ScriptedVllmEngine) -> Iterator[BackgroundServer]:
    experts = [Expert(name, Path(slot.path)) for name, slot in engine.slots.items()]
    with BackgroundServer(create_app(LMoE(engine, experts, router=None))) as running:
        yield running


@pytest.fixture
def client(server: BackgroundServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


def test_each_expert_is_its_lora_request_and_the_base_none(client: openai.OpenAI, engine: ScriptedVllmEngine) -> None:
    engine.llm.requests.clear()
    reply = client.chat.completions.create(model="strings", messages=ASK, max_tokens=5, temperature=0)
    assert reply.model == "strings" and reply.choices[0].message.content == "sssss"
    assert reply.choices[0].finish_reason == "length" and reply.usage is not None
    assert reply.usage.completion_tokens == 5 and reply.usage.prompt_tokens == len(engine.chat_prompt(ASK))
    base = client.completions.create(model="base", prompt="What is", max_tokens=3)
    assert base.choices[0].text == "bbb"
    strings, plain = engine.llm.requests
    assert strings["lora"] == ("strings", 2, str(engine.slots["strings"].path)) and plain["lora"] is None
    assert strings["prompt"] == {"prompt_token_ids": engine.chat_prompt(ASK)}
    assert plain["prompt"] == {"prompt_token_ids": engine.encode("What is")}
    assert strings["params"] == {"n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": 5, "stop": [], "seed": None}


def test_n_choices_are_requests_seeded_one_apart(client: openai.OpenAI, engine: ScriptedVllmEngine) -> None:
    engine.llm.requests.clear()
    reply = client.completions.create(model="arithmetic", prompt="1+1", n=3, seed=7, temperature=1.0, max_tokens=2)
    assert [c.text for c in reply.choices] == ["aa"] * 3 and reply.model == "arithmetic"
    assert sorted(r["params"]["seed"] for r in engine.llm.requests) == [7, 8, 9]
    assert len({r["id"] for r in engine.llm.requests}) == 3


def test_streaming_adds_up_to_the_whole_answer(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="arithmetic", messages=ASK, max_tokens=4, stream=True, stream_options={"include_usage": True}
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "aaaa"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4


def wait_for(condition: Any, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_client_leaving_aborts_its_vllm_requests(server: BackgroundServer, engine: ScriptedVllmEngine) -> None:
    engine.llm.step_s = 0.02  # 200 tokens: 4 s
    try:
        body = {"model": "strings", "messages": ASK, "max_tokens": 200}
        for stream in (False, True):
            engine.llm.requests.clear()
            engine.llm.aborted.clear()
            url = f"{server.url}/v1/chat/completions"
            if stream:
                with httpx.stream("POST", url, json={**body, "stream": True}) as response:
                    next(response.iter_lines())
            else:
                with pytest.raises(httpx.ReadTimeout):
                    httpx.post(url, json=body, timeout=httpx.Timeout(10, read=0.3))
            wait_for(lambda: engine.llm.aborted)
            assert engine.llm.aborted == [r["id"] for r in engine.llm.requests]
    finally:
        engine.llm.step_s = 0.0
