"""The options that name what ``evoforge serve lmoe`` and ``evoforge chat`` load (:class:`ModelSource`): a run's
or a base's experts, an LMoE package, routing and backend; :func:`model_options` gives them to a command."""

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

BaseOpt = Annotated[
    str | None,
    typer.Option(
        "--base",
        "--base-model",
        "--model_name_or_path",
        help="Base model: a folder, a Hugging Face hub id, or 'tiny' (the offline student).",
    ),
]
LmoeOpt = Annotated[
    str | None,
    typer.Option("--lmoe", help="An airoboros LMoE package folder (adapters/<expert>/, routing_data/*.jsonl)."),
]
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
AgentRouterOpt = Annotated[bool, typer.Option("--agent-router", help="airoboros' spelling of --router agent.")]
RouterModelOpt = Annotated[
    str | None,
    typer.Option("--router-model", help="Embedding model of the router (sentence-transformers name or folder)."),
]
RouterKOpt = Annotated[int, typer.Option("--router-k", min=1, help="Nearest instructions averaged per expert.")]
SamplesOpt = Annotated[int, typer.Option("--router-max-samples", min=1, help="Instructions indexed per expert.")]
IdentityOpt = Annotated[
    Path | None,
    typer.Option(
        "--identity", help="Identity file: its first line is every chat's system prompt (default ./model_identity.txt)."
    ),
]
NoIdentityOpt = Annotated[bool, typer.Option("--no-identity", help="Ignore ./model_identity.txt.")]
RemoteCodeOpt = Annotated[
    bool, typer.Option("--trust-remote-code", help="Let the model run the code its folder ships (Baichuan2, …).")
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


def api_key(variable: str | None) -> str | None:
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
    lmoe: LmoeOpt = None
    expert: ExpertOpt = None
    expert_data: ExpertDataOpt = None
    describe: DescribeOpt = None
    run: RunOpt = None
    round_n: RoundOpt = None
    router: RouterOpt = "embedding"
    agent_router: AgentRouterOpt = False
    router_k: RouterKOpt = 25
    router_model: RouterModelOpt = None
    max_samples: SamplesOpt = 1000
    backend: BackendOpt = "peft"
    vllm_arg: VllmArgOpt = None
    config: ConfigOpt = None
    runs_dir: RunsDirOpt = None
    device: DeviceOpt = "auto"
    threads: ThreadsOpt = None
    trust_remote_code: RemoteCodeOpt = False

    @property
    def given(self) -> bool:
        """Whether any model was named (a run, a base, an LMoE package or an expert)."""
        return bool(self.base or self.run or self.expert or self.lmoe)

    def preflight(self, command: str, flags: dict[str, str | None]) -> None:
        """:func:`evoforge.preflight.ensure` for ``command`` (serve, chat) over these options and the command's own
        ``flags`` (``{"--api-key-env": ..., "--url": ...}``): every problem together, before any weights load."""
        from evoforge.cli.options import resolve_config
        from evoforge.preflight import ensure, flag_inputs

        given = {
            "--base": self.base,
            "--lmoe": self.lmoe,
            "--run": self.run,
            "--router": "agent" if self.agent_router else self.router,
            "--router-model": self.router_model,
            "--backend": self.backend,
            **flags,
        }
        inputs = {flag: value for flag, value in given.items() if value is not None}
        inputs |= flag_inputs("--expert", self.expert) | flag_inputs("--expert-data", self.expert_data)
        ensure(resolve_config(self.config, runs_dir=self.runs_dir), command, inputs)

    def run_folder(self, name: str) -> Path | None:
        """The folder ``name`` in ``--run``'s run directory (None without ``--run``)."""
        if self.run is None:
            return None
        from evoforge.cli.options import resolve_config
        from evoforge.runs import RunDir

        return RunDir.open(resolve_config(self.config, runs_dir=self.runs_dir).run.runs_dir, self.run).path / name

    def open(self, identity: str = "") -> LMoE:
        """Load the experts these options name into one :class:`LMoE` (``identity``: its identity text)."""
        from evoforge.cli.options import resolve_config
        from evoforge.console import info
        from evoforge.serve.experts import parse_pairs
        from evoforge.serve.function_router import FUNCTION
        from evoforge.serve.lmoe import RouterSettings, build_lmoe
        from evoforge.serve.model_sources import model_name, resolve_experts, router_gateway
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
            lmoe=self.lmoe,
        )
        kind = "agent" if self.agent_router else self.router
        settings = RouterSettings(kind, self.router_k, self.max_samples, embedding_model=self.router_model)
        own_router = any(e.name == FUNCTION for e in experts)  # airoboros: the package's function adapter routes
        gateway = router_gateway(cfg.llm, settings.role) if kind == "agent" and not own_router else None
        names = ", ".join(e.name for e in experts) or "-"
        info(f"loading {base_dir} with {len(experts)} expert(s) on {self.backend}: {names}")
        return build_lmoe(
            base_dir,
            experts,
            router=settings,
            gateway=gateway,
            identity=identity,
            device=self.device,
            backend=self.backend,
            engine_args=parse_engine_args(parse_pairs(self.vllm_arg or [], "--vllm-arg")),
            base_name=model_name(self.base) if self.base and not self.run else None,
            trust_remote_code=self.trust_remote_code,
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
