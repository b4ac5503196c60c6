"""The simulated LLM behind an OpenAI-compatible HTTP API (``/v1/models``, ``/v1/chat/completions``, and the
files and batches endpoints).

Agents reach it as they reach a local vLLM: a model entry ``openai/<name>`` with ``api_base`` pointing here.
Requests are answered on the event loop (the simulator is pure Python and fast); ``latency`` is an
``asyncio.sleep``, so many concurrent requests wait together instead of queueing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from evoforge.offline.batch_endpoints import BatchOptions, add_batch_routes
from evoforge.offline.sim import SimOptions, respond
from evoforge.offline.sim.faults import current

DEFAULT_MODELS: tuple[str, ...] = ("skills",)


class ChatRequest(BaseModel):
    """The OpenAI chat-completions request fields the simulator reads (others are accepted and ignored)."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[dict[str, Any]]
    temperature: float | None = None
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    stream: bool = False
    n: int = 1


def _error(status: int, message: str, kind: str = "invalid_request_error") -> tuple[int, dict[str, Any]]:
    return status, {"error": {"message": message, "type": kind, "code": status}}


def _options(base: SimOptions, extra: dict[str, Any]) -> SimOptions:
    """``base`` with the ``sim_seed``, ``error_rate`` and ``latency`` a request body overrides."""
    return SimOptions.from_params(
        {
            "sim_seed": extra.get("sim_seed", base.sim_seed),
            "error_rate": extra.get("error_rate", base.error_rate),
            "latency": extra.get("latency", base.latency),
        }
    )


def create_app(
    options: SimOptions | None = None, models: tuple[str, ...] = DEFAULT_MODELS, batches: BatchOptions | None = None
) -> FastAPI:
    """The FastAPI app serving ``models`` (names without the ``sim/`` prefix) with simulator ``options``, and the
    files and batches endpoints (:mod:`evoforge.offline.batch_endpoints`; ``batches``, else the environment's options).

    A request may override ``error_rate``, ``latency`` and ``sim_seed`` in its body (``extra_body``);
    ``EVOFORGE_SIM_FAULTS`` in the server's environment answers a share of requests with 429, 500 or 503.
    """
    base = options or SimOptions()
    app = FastAPI(title="evoforge simulated LLM")
    created = int(time.time())

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        data = [{"id": name, "object": "model", "created": created, "owned_by": "evoforge-sim"} for name in models]
        return {"object": "list", "data": data}

    def answer(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The chat-completions answer (HTTP status, body) to one request ``body``."""
        request = ChatRequest.model_validate(body)
        if request.model not in models:
            served = ", ".join(models)
            return _error(404, f"model '{request.model}' does not exist; served: {served}", "not_found")
        if request.stream:
            return _error(400, "streaming is not supported by the simulated LLM")
        if request.n != 1:
            return _error(400, "n must be 1")
        fault = current().status(
            request.model, request.messages, {"seed": request.seed, "temperature": request.temperature}
        )
        if fault is not None:  # EVOFORGE_SIM_FAULTS in the server's environment
            return _error(fault, f"injected fault {fault}", "rate_limit_error" if fault == 429 else "server_error")
        reply = respond(
            request.messages,
            options=_options(base, request.model_extra or {}),
            response_format=request.response_format,
            temperature=request.temperature,
            seed=request.seed,
        )
        return 200, {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "total_tokens": reply.prompt_tokens + reply.completion_tokens,
            },
        }

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: ChatRequest) -> dict[str, Any] | JSONResponse:
        latency = _options(base, request.model_extra or {}).latency
        if latency > 0:
            await asyncio.sleep(latency)
        status, body = answer(request.model_dump(exclude_unset=True))
        return body if status == 200 else JSONResponse(status_code=status, content=body)

    add_batch_routes(app, answer, batches)
    return app
