"""``evoforge serve``: OpenAI-compatible servers (``serve sim``: the simulated LLM; ``serve lmoe``: LoRA experts
over one base model), and ``evoforge chat``, the chat UI over the same experts or any OpenAI-compatible URL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evoforge.cli.model_source import (
    ApiKeyEnvOpt,
    IdentityOpt,
    ModelSource,
    NoIdentityOpt,
    api_key,
    model_options,
)
from evoforge.errors import ConfigError

serve_app = typer.Typer(help="Serve models over an OpenAI-compatible HTTP API.", no_args_is_help=True)


@serve_app.command("sim")
def serve_sim(
    port: Annotated[int, typer.Option("--port", "-p", help="TCP port on 127.0.0.1.")] = 8008,
    host: Annotated[str, typer.Option("--host", help="Interface to bind (default: loopback only).")] = "127.0.0.1",
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="Model name to serve (repeatable; default: skills).")
    ] = None,
    error_rate: Annotated[
        float, typer.Option("--error-rate", min=0.0, max=1.0, help="Share of near-miss answers.")
    ] = 0.0,
    latency: Annotated[float, typer.Option("--latency", min=0.0, help="Seconds before each reply.")] = 0.0,
    sim_seed: Annotated[int, typer.Option("--sim-seed", help="Seed of the simulated world.")] = 0,
) -> None:
    """Serve the simulated LLM at http://HOST:PORT/v1 (point a model entry ``openai/<name>`` + api_base at it)."""
    import uvicorn

    from evoforge.console import info
    from evoforge.offline.server import DEFAULT_MODELS, create_app
    from evoforge.offline.sim import SimOptions

    names = tuple(model or DEFAULT_MODELS)
    app = create_app(SimOptions(sim_seed=sim_seed, error_rate=error_rate, latency=latency), names)
    info(f"simulated LLM at http://{host}:{port}/v1 serving {', '.join(names)}")
    uvicorn.run(app, host=host, port=port, log_level="warning", backlog=2048)


@serve_app.command("lmoe")
@model_options
def serve_lmoe(
    source: ModelSource,
    identity: IdentityOpt = None,
    no_identity: NoIdentityOpt = False,
    port: Annotated[int, typer.Option("--port", "-p", help="TCP port.")] = 8000,
    host: Annotated[str, typer.Option("--host", help="Interface to bind (default: loopback only).")] = "127.0.0.1",
    api_key_env: Annotated[
        str | None,
        typer.Option("--api-key-env", help="Environment variable holding the bearer token clients must send."),
    ] = None,
    max_tokens: Annotated[
        int,
        typer.Option("--max-tokens", min=1, help="Most tokens one completion may ask for (and the context bounds)."),
    ] = 4096,
    max_body: Annotated[
        int, typer.Option("--max-body-bytes", min=1024, help="Largest request body accepted.")
    ] = 1_000_000,
    max_batch: Annotated[int, typer.Option("--max-batch", min=1, help="Completions decoded together at most.")] = 32,
) -> None:
    """Serve LoRA experts over one base model as an OpenAI-compatible API at http://HOST:PORT/v1 (LMoE).

    ``model: auto`` and the base model's own name (its folder's name, as airoboros serves it) are routed
    (``--router``); naming an expert as the model (or in airoboros' ``expert`` field) skips routing. The expert that
    answered is the response's ``model``, its ``expert`` and its ``x-expert`` header. ``--lmoe DIR`` serves an
    airoboros LMoE package. ``--backend vllm`` serves the same experts with vLLM's multi-LoRA on a GPU (the ``vllm``
    extra).
    """
    import logging

    import uvicorn

    from evoforge.console import info
    from evoforge.serve.api import create_app
    from evoforge.serve.schemas import Limits

    source.preflight("serve", {"--api-key-env": api_key_env})
    key = api_key(api_key_env)
    lmoe = source.open(_identity(identity, no_identity))
    limits = Limits(max_body_bytes=max_body, max_tokens=max_tokens, default_max_tokens=min(128, max_tokens))
    app = create_app(lmoe, limits=limits, api_key=key, max_batch=max_batch)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    info(
        f"LMoE at http://{host}:{port}/v1 serving {', '.join(lmoe.models)}"
        + (" (bearer token required)" if key else "")
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")


@model_options
def chat(
    source: ModelSource,
    url: Annotated[
        str | None, typer.Option("--url", help="An OpenAI-compatible server (…/v1) instead of a local model.")
    ] = None,
    api_key_env: ApiKeyEnvOpt = None,
    identity: IdentityOpt = None,
    no_identity: NoIdentityOpt = False,
    port: Annotated[int, typer.Option("--port", "-p", help="TCP port of the UI.")] = 7860,
    host: Annotated[str, typer.Option("--host", help="Interface to bind (default: loopback only).")] = "127.0.0.1",
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, help="Longest answer.")] = 128,
    share: Annotated[bool, typer.Option("--share", help="Also open gradio's temporary public link.")] = False,
    log_dir: Annotated[
        Path | None,
        typer.Option("--log-dir", help="Chat logs here, a JSONL file per conversation (default: the run's chats/)."),
    ] = None,
) -> None:
    """Chat with a run's experts, a base model with adapters, or any OpenAI-compatible server (--url), in a browser.

    A local model is served in-process on a loopback port; the UI shows which expert wrote each answer, and when a
    long conversation outgrows the model's context, that its oldest turns were left out. Each conversation is
    logged (``--log-dir``; default ``chats/`` of ``--run``'s directory, else ``./gradio_chats``, the seed's folder).
    """
    from contextlib import ExitStack

    from evoforge.console import info
    from evoforge.serve.background import BackgroundServer
    from evoforge.serve.chat_ui import build_chat_ui, serve_ui
    from evoforge.serve.conversation import ChatLog

    source.preflight("chat", {"--api-key-env": api_key_env, "--url": url})
    text = _identity(identity, no_identity)
    key = api_key(api_key_env)
    with ExitStack() as stack:
        if url is None:
            from evoforge.serve.api import create_app

            lmoe = source.open()  # the UI sends the identity itself
            url = stack.enter_context(BackgroundServer(create_app(lmoe))).url + "/v1"
        elif source.given:
            raise ConfigError("give either --url or a local model (--run, or --base with --expert), not both")
        log = ChatLog(log_dir or source.run_folder("chats") or Path("gradio_chats"))
        ui = build_chat_ui(url, key or "unused", text, max_tokens, log)
        info(f"chat UI at http://{host}:{port} (models from {url}); chat logs in {log.folder}")
        serve_ui(ui, host, port, share=share)


def _identity(path: Path | None, no_identity: bool) -> str:
    """The identity text ``--identity``/``--no-identity`` pick (default ./model_identity.txt), announced."""
    from evoforge.console import info
    from evoforge.serve.identity import pick_identity

    text, where = pick_identity(path, not no_identity)
    info(f"identity: {where}")
    return text


def register(app: typer.Typer) -> None:
    """Add ``evoforge serve`` and ``evoforge chat``."""
    app.add_typer(serve_app, name="serve")
    app.command("chat")(chat)
