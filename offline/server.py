"""The simulated LLM behind an OpenAI-compatible HTTP API (``/v1/models``, ``/v1/chat/completions``).

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


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind, "code": status}})


def create_app(options: SimOptions | None = None, models: tuple[str, ...] = DEFAULT_MODELS) -> FastAPI:
    """The FastAPI app serving ``models`` (names without the ``sim/`` prefix) with simulator ``options``.

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

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: ChatRequest) -> dict[str, Any] | JSONResponse:
        if request.model not in models:
            return _error(404, f"model '{request.model}' does not exist; served: {', '.join(models)}", "not_found")
        if request.stream:
            return _error(400, "streaming is not supported by the simulated LLM")
        if request.n != 1:
            return _error(400, "n must be 1")
        extra = request.model_extra or {}
        opts = SimOptions.from_params(
            {
                "sim_seed": extra.get("sim_seed", base.sim_seed),
                "error_rate": extra.get("error_rate", base.error_rate),
                "latency": extra.get("latency", base.latency),
            }
        )
        if opts.latency > 0:
            await asyncio.sleep(opts.latency)
        fault = current().status(
            request.model, request.messages, {"seed": request.seed, "temperature": request.temperature}
        )
        if fault is not None:  # EVOFORGE_SIM_FAULTS in the server's environment
            return _error(fault, f"injected fault {fault}", "rate_limit_error" if fault == 429 else "server_error")
        reply = respond(
            request.messages,
            options=opts,
            response_format=request.response_format,
            temperature=request.temperature,
            seed=request.seed,
        )
        return {
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

    return app
