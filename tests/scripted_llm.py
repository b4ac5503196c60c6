"""A scripted LiteLLM custom provider for gateway tests: LiteLLM's real code path, answered in process (offline)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from evoforge.llm.backend import litellm_module

litellm = litellm_module()


class ScriptedLLM(litellm.CustomLLM):  # type: ignore[misc,name-defined]
    """Plays a script, one step a call: an answer text, or ``429``/``500``/``400`` (that error), ``401:<key>`` (an
    authentication error naming the key), ``hang`` (5 s, then ``hang``); after the script, ``default``.

    Each call's keyword arguments are kept in :attr:`calls`, with ``params`` (its ``optional_params``) and ``t`` (its
    start on the monotonic clock); ``delay`` holds every call that long, ``max_in_flight`` counts the most at once.
    """

    def __init__(self, provider: str, default: str = "ok", usage: tuple[int, int] = (10, 5)) -> None:
        super().__init__()
        self.provider, self.default, self.tokens = provider, default, usage
        self.script: list[str] = []
        self.calls: list[dict[str, Any]] = []
        self.delay = 0.0
        self.in_flight = 0
        self.max_in_flight = 0

    async def acompletion(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append({**kwargs, "params": dict(kwargs["optional_params"]), "t": time.monotonic()})
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        step = self.script.pop(0) if self.script else self.default
        if step == "hang":
            await asyncio.sleep(5)
        errors = {"429": litellm.RateLimitError, "500": litellm.InternalServerError, "400": litellm.BadRequestError}
        if step in errors:
            raise errors[step](message=f"scripted {step}", model="x", llm_provider=self.provider)
        if step.startswith("401:"):
            raise litellm.AuthenticationError(
                message=f"Incorrect API key: {step[4:]}", llm_provider=self.provider, model="x"
            )
        prompt, completion = self.tokens
        return litellm.ModelResponse(
            choices=[{"message": {"role": "assistant", "content": step}, "finish_reason": "stop", "index": 0}],
            usage=litellm.Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion),
        )


def register(monkeypatch: pytest.MonkeyPatch, handler: ScriptedLLM) -> ScriptedLLM:
    """``handler`` as LiteLLM's only custom provider (models ``<handler.provider>/...``) for this test."""
    monkeypatch.setattr(litellm, "custom_provider_map", [{"provider": handler.provider, "custom_handler": handler}])
    return handler
