"""``evoforge serve``: OpenAI-compatible servers (``serve sim``: the simulated LLM)."""

from __future__ import annotations

from typing import Annotated

import typer

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


def register(app: typer.Typer) -> None:
    """Add ``evoforge serve``."""
    app.add_typer(serve_app, name="serve")
