"""The LMoE behind an OpenAI-compatible HTTP API: ``/v1/models``, ``/v1/chat/completions``, ``/v1/completions``.

Each request is routed (``model: auto`` or the base model's own name, as airoboros routes it) or sent to the expert
it names (as its ``model``, or in airoboros' ``expert`` field); its completions go to the engine's decoder
(PEFT: the batcher's mixed-adapter batch, which it joins at the next step; vLLM: vLLM's running batch). The chosen
expert is the response's ``model`` and its ``x-expert`` header (several experts, comma-separated, when the prompts
of one ``/v1/completions`` request went to different ones), and is logged. Streaming answers in server-sent events
ending with ``data: [DONE]``. A client that goes away, mid-stream or while it waits for a whole response, cancels
its completions, which leave their batch at the next step. Every error is OpenAI's error object with a clear
message, never a traceback: 400 bad JSON or fields, 401 a missing or wrong bearer token (when a key is set), 404 an
unknown model or path, 413 an oversize body.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from evoforge.serve.decoding import Row, Sampling
from evoforge.serve.engine_api import Decoder, Stream
from evoforge.serve.identity import with_identity
from evoforge.serve.lmoe import LMoE, UnknownModel
from evoforge.serve.responses import Kind, Reply, event, finish
from evoforge.serve.routing import Route
from evoforge.serve.schemas import ApiError, ChatRequest, CompletionRequest, Limits, parse

log = logging.getLogger("evoforge.serve")


def create_app(lmoe: LMoE, *, limits: Limits | None = None, api_key: str | None = None, max_batch: int = 32) -> FastAPI:
    """The FastAPI app serving ``lmoe``; ``api_key`` (when set) is the bearer token every ``/v1`` call needs.

    ``max_batch`` bounds the completions decoded together (1 = one at a time). The engine starts decoding now.
    """
    limits = limits or Limits()
    decoder = lmoe.start(max_batch)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(decoder.close)

    app = FastAPI(title="evoforge LMoE", lifespan=lifespan)
    app.state.decoder = decoder
    created = int(time.time())

    def authorize(request: Request) -> None:
        if api_key is None:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_key.encode()):
            raise ApiError(401, "missing or invalid API key (send Authorization: Bearer <key>)", code="invalid_api_key")

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, error: HTTPException) -> JSONResponse:
        kind = "not_found_error" if error.status_code == 404 else "invalid_request_error"
        return JSONResponse(ApiError(error.status_code, str(error.detail), kind).body(), status_code=error.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, error: Exception) -> JSONResponse:
        log.error("request failed: %s: %s", type(error).__name__, error)
        return JSONResponse(ApiError(500, "internal server error", "server_error").body(), status_code=500)

    @app.get("/v1/models", dependencies=[Depends(authorize)])
    async def models() -> dict[str, Any]:
        data = [{"id": name, "object": "model", "created": created, "owned_by": "evoforge"} for name in lmoe.models]
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions", dependencies=[Depends(authorize)], response_model=None)
    async def chat(request: Request) -> JSONResponse | StreamingResponse:
        body: ChatRequest = parse(ChatRequest, await _read_json(request, limits.max_body_bytes))
        sampling = body.sampling(limits, body.max_completion_tokens)
        turns = [m.text() for m in body.messages]
        users = [t["content"] for t in turns if t["role"] == "user"]
        [route] = await _route(lmoe, body, [users[-1] if users else turns[-1]["content"]])
        prompt = lmoe.engine.chat_prompt(with_identity(turns, lmoe.identity))
        return await _answer(request, decoder, "chat", body, [(prompt, route)], sampling, lmoe)

    @app.post("/v1/completions", dependencies=[Depends(authorize)], response_model=None)
    async def completions(request: Request) -> JSONResponse | StreamingResponse:
        body: CompletionRequest = parse(CompletionRequest, await _read_json(request, limits.max_body_bytes))
        sampling = body.sampling(limits)
        texts = body.prompts(limits)
        routes = await _route(lmoe, body, texts)
        prompts = [(lmoe.engine.encode(text), route) for text, route in zip(texts, routes, strict=True)]
        return await _answer(request, decoder, "text", body, prompts, sampling, lmoe)

    return app


async def _read_json(request: Request, limit: int) -> Any:
    """The request body as JSON: 413 past ``limit`` bytes (declared or sent), 400 when it is not JSON."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body is {declared} bytes; this server accepts at most {limit}", code="too_large")
    data = bytearray()
    try:
        async for piece in request.stream():
            data += piece
            if len(data) > limit:
                raise ApiError(413, f"request body exceeds {limit} bytes", code="too_large")
    except ClientDisconnect:
        raise _gone() from None
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ApiError(400, f"request body is not valid JSON: {error}") from None


async def _route(lmoe: LMoE, body: ChatRequest | CompletionRequest, texts: Sequence[str]) -> list[Route]:
    try:
        return await lmoe.route(body.model, texts, body.expert)
    except UnknownModel as error:
        served = ", ".join(lmoe.models)
        what = f"expert '{body.expert}'" if str(error) == body.expert else f"model '{body.model}'"
        raise ApiError(404, f"{what} does not exist; served: {served}", "not_found_error", "model_not_found") from None


async def _answer(
    request: Request,
    decoder: Decoder,
    kind: Kind,
    body: ChatRequest | CompletionRequest,
    prompts: list[tuple[list[int], Route]],
    sampling: Sampling,
    lmoe: LMoE,
) -> JSONResponse | StreamingResponse:
    """Queue ``n`` completions of every prompt and answer with the whole response or a stream of events."""
    for ids, _ in prompts:
        if len(ids) + sampling.max_tokens > lmoe.engine.context:
            raise ApiError(
                400,
                f"the prompt is {len(ids)} tokens; with max_tokens {sampling.max_tokens} it exceeds the model's "
                f"context of {lmoe.engine.context} tokens",
                code="context_length_exceeded",
            )
    experts = list(dict.fromkeys(route.expert for _, route in prompts))
    reply = Reply(kind, ",".join(experts))
    headers = {"x-expert": reply.model}
    prompt_tokens = sum(len(ids) for ids, _ in prompts)
    streams = [
        decoder.submit(Row(list(ids), lmoe.adapter(route.expert), sampling.for_choice(i)))
        for ids, route in prompts
        for i in range(body.n)
    ]
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    if body.stream:
        events = _events(reply, streams, prompt_tokens, include_usage)
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)
    try:
        rows = await _results(request, streams)
    finally:
        for s in streams:
            s.cancel()
    if rows is None:
        cancelled = [await s.result() for s in streams]  # each ends at its engine's next step
        log.info(
            "client went away: %d %s completion(s) by %s cancelled after %d token(s)",
            len(cancelled),
            kind,
            reply.model,
            sum(len(r.tokens) for r in cancelled),
        )
        raise _gone()
    log.info(
        "%s completion by %s: %d prompt + %d completion tokens",
        kind,
        reply.model,
        prompt_tokens,
        sum(len(r.tokens) for r in rows),
    )
    return JSONResponse(reply.body(rows, prompt_tokens), headers=headers)


async def _results(request: Request, streams: list[Stream]) -> list[Row] | None:
    """Every stream's finished row, in order; None when the client disconnects before they are all done."""
    results: asyncio.Future[list[Row]] = asyncio.ensure_future(asyncio.gather(*(s.result() for s in streams)))
    gone: asyncio.Future[Any] = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({results, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if results.done():
        return list(results.result())
    results.cancel()
    return None


async def _disconnected(request: Request) -> None:
    """Return once the client has closed the connection (the body is read: nothing else arrives before that)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _gone() -> ApiError:
    """The answer to a client that has gone (nobody reads it; nginx's 499, "client closed request")."""
    return ApiError(499, "the client closed the request", code="client_closed")


async def _events(reply: Reply, streams: list[Stream], prompt_tokens: int, include_usage: bool) -> AsyncIterator[str]:
    """The response as server-sent events; cancels every completion when the client goes away."""
    merged: asyncio.Queue[tuple[int, str | None]] = asyncio.Queue()

    async def pump(index: int, stream: Stream) -> None:
        try:
            async for piece in stream:
                await merged.put((index, piece))
        finally:
            await merged.put((index, None))

    tasks = [asyncio.create_task(pump(i, s)) for i, s in enumerate(streams)]
    try:
        if reply.kind == "chat":
            for index in range(len(streams)):
                yield reply.chunk(index, first=True)
        open_streams = len(streams)
        while open_streams:
            index, piece = await merged.get()
            if piece is None:
                open_streams -= 1
                yield reply.chunk(index, reason=finish(streams[index].row))
            elif piece:
                yield reply.chunk(index, piece)
        if include_usage:
            yield reply.usage_chunk(prompt_tokens, [s.row for s in streams])
        yield event("[DONE]")
    finally:
        for s in streams:
            s.cancel()
        for task in tasks:
            task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await task
