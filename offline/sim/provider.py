"""The simulated LLM as a LiteLLM custom provider (``sim/<name>`` models).

The gateway registers :func:`evoforge.offline.sim.get_handler` as provider "sim"; LiteLLM then hands every request
here with its sampling parameters and the model entry's params in ``optional_params``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from litellm import CustomLLM
from litellm.types.utils import ModelResponse, Usage

from evoforge.offline.sim.core import SimOptions, SimReply, respond
from evoforge.offline.sim.faults import current, raise_fault


def _reply(messages: list[dict[str, Any]], optional_params: dict[str, Any]) -> SimReply:
    return respond(
        messages,
        options=SimOptions.from_params(optional_params),
        response_format=optional_params.get("response_format"),
        temperature=optional_params.get("temperature"),
        seed=optional_params.get("seed"),
    )


def _fill(model_response: ModelResponse, model: str, reply: SimReply) -> ModelResponse:
    model_response.choices[0].message.content = reply.text
    model_response.choices[0].finish_reason = "stop"
    model_response.model = f"sim/{model}"
    total = reply.prompt_tokens + reply.completion_tokens
    model_response.usage = Usage(  # type: ignore[attr-defined]
        prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens, total_tokens=total
    )
    return model_response


class SimProvider(CustomLLM):
    """LiteLLM handler that answers with the simulated LLM (``latency`` seconds later, if set), or fails with the
    transport fault ``EVOFORGE_SIM_FAULTS`` injects (:mod:`.faults`)."""

    revision: str | None = None  # the source digest of the simulator and the world (part of the cache key)

    def _answer(
        self, model: str, messages: list, optional_params: dict, model_response: ModelResponse
    ) -> ModelResponse:
        status = current().status(model, messages, optional_params)
        if status is not None:
            raise_fault(status, model)
        return _fill(model_response, model, _reply(messages, optional_params))

    def completion(
        self, model: str, messages: list, api_base: str, custom_prompt_dict: dict, model_response: ModelResponse,
        print_verbose: Any, encoding: Any, api_key: Any, logging_obj: Any, optional_params: dict, *args: Any,
        **kwargs: Any,
    ) -> ModelResponse:  # fmt: skip
        """Answer synchronously."""
        latency = SimOptions.from_params(optional_params).latency
        if latency > 0:
            time.sleep(latency)
        return self._answer(model, messages, optional_params, model_response)

    async def acompletion(
        self, model: str, messages: list, api_base: str, custom_prompt_dict: dict, model_response: ModelResponse,
        print_verbose: Any, encoding: Any, api_key: Any, logging_obj: Any, optional_params: dict, *args: Any,
        **kwargs: Any,
    ) -> ModelResponse:  # fmt: skip
        """Answer asynchronously (the latency is an ``asyncio.sleep``)."""
        latency = SimOptions.from_params(optional_params).latency
        if latency > 0:
            await asyncio.sleep(latency)
        return self._answer(model, messages, optional_params, model_response)
