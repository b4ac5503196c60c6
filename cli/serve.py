"""``evoforge serve``: OpenAI-compatible servers (``serve sim``: the simulated LLM; ``serve lmoe``: LoRA experts
over one base model), and ``evoforge chat``, the chat UI over the same experts or any OpenAI-compatible URL."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, get_type_hints

import typer

from evoforge.cli.options import ConfigOpt, RunsDirOpt
from evoforge.errors import ConfigError

if TYPE_CHECKING:
    from evoforge.serve.lmoe import LMoE

F = TypeVar("F", bound=Callable[..., Any])
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


BaseOpt = Annotated[str | None, typer.Option("--base", help="Base model directory, or 'tiny' (the offline student).")]
ExpertOpt = Annotated[
    list[str] | None,
    typer.Option("--expert", "-e", help="An expert: NAME=ADAPTER_DIR (a PEFT LoRA adapter; repeatable)."),
]
ExpertDataOpt = Annotated[
    list[str] | None,
    typer.Option("--expert-data", help="NAME=FILE: the expert's training data, indexed by the embedding router."),
]
DescribeOpt = Annotated[
    list[str] | None, typer.Option("--describe", help="NAME=TEXT: what the expert knows (for the agent router).")
]
RunOpt = Annotated[str | None, typer.Option("--run", help="Serve a cycle run's deltas, train@all and best merge.")]
RoundOpt = Annotated[int | None, typer.Option("--round", min=1, help="The run's round (default: the latest).")]
RouterOpt = Annotated[
    Literal["embedding", "agent", "none"], typer.Option("--router", help="How 'model: auto' picks an expert.")
]
RouterKOpt = Annotated[int, typer.Option("--router-k", min=1, help="Nearest instructions averaged per expert.")]
SamplesOpt = Annotated[int, typer.Option("--router-max-samples", min=1, help="Instructions indexed per expert.")]
IdentityOpt = Annotated[
    Path | None, typer.Option("--identity", help="model_identity.txt: its first line is every chat's system prompt.")
]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto, cpu or cuda (the peft backend).")]
ThreadsOpt = Annotated[
    int | None, typer.Option("--threads", min=1, help="torch CPU threads (1 is fastest on a busy 2-core machine).")
]
BackendOpt = Annotated[
    Literal["peft", "vllm"],
    typer.Option("--backend", help="peft: every adapter in one PEFT model, any machine; vllm: multi-LoRA on a GPU."),
]
VllmArgOpt = Annotated[
    list[str] | None,
    typer.Option("--vllm-arg", help="KEY=VALUE: one more vLLM engine argument (--backend vllm; repeatable)."),
]
ApiKeyEnvOpt = Annotated[
    str | None, typer.Option("--api-key-env", help="Environment variable holding the bearer token of the API.")
]


def _api_key(variable: str | None) -> str | None:
    """The bearer token in environment variable ``variable`` (None when no variable is named)."""
    if variable is None:
        return None
    key = os.environ.get(variable, "").strip()
    if not key:
        raise ConfigError(f"--api-key-env {variable}: that environment variable is not set or empty")
    return key


@dataclass
class ModelSource:
    """The options naming what ``serve lmoe`` and ``chat`` load: a run's or a base's experts, routing, backend.

    Each field is the command-line option its annotation declares; :func:`model_options` gives them to a command.
    """

    base: BaseOpt = None
    expert: ExpertOpt = None
    expert_data: ExpertDataOpt = None
    describe: DescribeOpt = None
    run: RunOpt = None
    round_n: RoundOpt = None
    router: RouterOpt = "embedding"
    router_k: RouterKOpt = 25
    max_samples: SamplesOpt = 1000
    backend: BackendOpt = "peft"
    vllm_arg: VllmArgOpt = None
    config: ConfigOpt = None
    runs_dir: RunsDirOpt = None
    device: DeviceOpt = "auto"
    threads: ThreadsOpt = None

    @property
    def given(self) -> bool:
        """Whether any model was named (a run, a base or an expert)."""
        return bool(self.base or self.run or self.expert)

    def open(self, identity: Path | None = None) -> LMoE:
        """Load the experts these options name into one :class:`LMoE` (``identity``: its identity file)."""
        from evoforge.cli.options import resolve_config
        from evoforge.console import info
        from evoforge.serve.experts import parse_pairs
        from evoforge.serve.identity import read_identity
        from evoforge.serve.lmoe import RouterSettings, build_lmoe
        from evoforge.serve.loading import resolve_experts, router_gateway
        from evoforge.serve.vllm_args import parse_engine_args

        if self.threads is not None:
            import torch

            torch.set_num_threads(self.threads)
        cfg = resolve_config(self.config, runs_dir=self.runs_dir)
        base_dir, experts = resolve_experts(
            base=self.base,
            adapters=parse_pairs(self.expert or [], "--expert"),
            data=parse_pairs(self.expert_data or [], "--expert-data"),
            descriptions=parse_pairs(self.describe or [], "--describe"),
            run=self.run,
            round_n=self.round_n,
            runs_dir=cfg.run.runs_dir,
            max_samples=self.max_samples,
        )
        settings = RouterSettings(kind=self.router, k=self.router_k, max_samples=self.max_samples)
        gateway = router_gateway(cfg.llm, settings.role) if self.router == "agent" else None
        names = ", ".join(e.name for e in experts) or "-"
        info(f"loading {base_dir} with {len(experts)} expert(s) on {self.backend}: {names}")
        return build_lmoe(
            base_dir,
            experts,
            router=settings,
            gateway=gateway,
            identity=read_identity(identity) if identity else "",
            device=self.device,
            backend=self.backend,
            engine_args=parse_engine_args(parse_pairs(self.vllm_arg or [], "--vllm-arg")),
        )


def model_options(command: F) -> F:
    """Give ``command`` every :class:`ModelSource` option; it receives them as one keyword ``source``."""
    hints = get_type_hints(ModelSource, include_extras=True)
    shared = [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=hints[f.name])
        for f in fields(ModelSource)
    ]
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "source"]

    @functools.wraps(command)
    def with_source(**given: Any) -> Any:
        source = ModelSource(**{f.name: given.pop(f.name) for f in fields(ModelSource)})
        return command(source=source, **given)

    with_source.__signature__ = inspect.Signature([*own, *shared])  # type: ignore[attr-defined]
    with_source.__annotations__ = {p.name: p.annotation for p in [*own, *shared]}
    return with_source  # type: ignore[return-value]


@serve_app.command("lmoe")
@model_options
def serve_lmoe(
    source: ModelSource,
    identity: IdentityOpt = None,
    port: Annotated[int, typer.Option("--port", "-p", help="TCP port.")] = 8000,
    host: Annotated[str, typer.Option("--host", help="Interface to bind (default: loopback only).")] = "127.0.0.1",
    api_key_env: Annotated[
        str | None,
        typer.Option("--api-key-env", help="Environment variable holding the bearer token clients must send."),
    ] = None,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=1, help="Most tokens one completion may ask for.")
    ] = 512,
    max_body: Annotated[
        int, typer.Option("--max-body-bytes", min=1024, help="Largest request body accepted.")
    ] = 1_000_000,
    max_batch: Annotated[int, typer.Option("--max-batch", min=1, help="Completions decoded together at most.")] = 32,
) -> None:
    """Serve LoRA experts over one base model as an OpenAI-compatible API at http://HOST:PORT/v1 (LMoE).

    ``model: auto`` is routed (``--router``); naming an expert as the model skips routing. The expert that answered
    is the response's ``model`` and its ``x-expert`` header. ``--backend vllm`` serves the same experts with vLLM's
    multi-LoRA on a GPU (the ``vllm`` extra).
    """
    import logging

    import uvicorn

    from evoforge.console import info
    from evoforge.serve.api import create_app
    from evoforge.serve.schemas import Limits

    key = _api_key(api_key_env)
    lmoe = source.open(identity)
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
    port: Annotated[int, typer.Option("--port", "-p", help="TCP port of the UI.")] = 7860,
    host: Annotated[str, typer.Option("--host", help="Interface to bind (default: loopback only).")] = "127.0.0.1",
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, help="Longest answer.")] = 128,
) -> None:
    """Chat with a run's experts, a base model with adapters, or any OpenAI-compatible server (--url), in a browser.

    A local model is served in-process on a loopback port; the UI shows which expert wrote each answer.
    """
    from contextlib import ExitStack

    from evoforge.console import info
    from evoforge.serve.background import BackgroundServer
    from evoforge.serve.chat_ui import build_chat_ui
    from evoforge.serve.identity import read_identity

    text = read_identity(identity) if identity else ""
    key = _api_key(api_key_env)
    with ExitStack() as stack:
        if url is None:
            from evoforge.serve.api import create_app

            lmoe = source.open()  # the UI sends the identity itself
            url = stack.enter_context(BackgroundServer(create_app(lmoe))).url + "/v1"
        elif source.given:
            raise ConfigError("give either --url or a local model (--run, or --base with --expert), not both")
        ui = build_chat_ui(url, key or "unused", text, max_tokens)
        info(f"chat UI at http://{host}:{port} (models from {url})")
        ui.launch(server_name=host, server_port=port, share=False, quiet=True)


def register(app: typer.Typer) -> None:
    """Add ``evoforge serve`` and ``evoforge chat``."""
    app.add_typer(serve_app, name="serve")
    app.command("chat")(chat)
