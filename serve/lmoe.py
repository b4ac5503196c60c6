"""The LMoE: one resident base model, its experts, a router for ``model: auto``, and the model's identity.

:func:`build_lmoe` loads everything once, on one of two backends: ``peft`` (the default: every adapter in one
PEFT model, decoded by our own batching loop, any machine) or ``vllm`` (vLLM multi-LoRA on a GPU, the ``vllm``
extra). :class:`LMoE` answers which models are served, where a request goes (:meth:`LMoE.route`) and which adapter
serves a model name, whichever backend decodes. The HTTP server (:mod:`evoforge.serve.api`), the
:class:`~evoforge.serve.Assistant` (PEFT only) and the chat UI all use it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from evoforge.errors import ConfigError
from evoforge.serve.decoding import BASE_ADAPTER, Row
from evoforge.serve.engine import LoraEngine
from evoforge.serve.engine_api import Decoder, Engine
from evoforge.serve.experts import AUTO, BASE, Expert, run_experts
from evoforge.serve.function_router import FUNCTION, FunctionRouter
from evoforge.serve.routing import AgentRouter, EmbeddingRouter, Route, Router

if TYPE_CHECKING:
    from evoforge.llm.protocol import Gateway

log = logging.getLogger("evoforge.serve")
RouterKind = Literal["embedding", "agent", "none"]
Backend = Literal["peft", "vllm"]


class UnknownModel(LookupError):
    """A request named a model that is not served."""


@dataclass(frozen=True)
class RouterSettings:
    """How ``model: auto`` is routed.

    Attributes:
        kind: ``embedding`` (faiss over the experts' training instructions), ``agent`` (an LLM reads their
            descriptions, the embedding router as its fallback when experts have instructions; with a ``function``
            expert, as in airoboros' LMoE packages, that adapter is the LLM) or ``none``.
        k: nearest instructions averaged per expert (airoboros' ``router_k``).
        max_samples: instructions indexed per expert at most (airoboros' ``router_max_samples``).
        role: the gateway role of the agent router.
        embedding_model: a sentence-transformers directory; None = the packaged all-MiniLM-L6-v2.
    """

    kind: RouterKind = "embedding"
    k: int = 25
    max_samples: int = 1000
    role: str = "router"
    embedding_model: str | None = None


class LMoE:
    """Experts over one engine (PEFT's :class:`LoraEngine` or vLLM's), ``router`` for ``auto`` (None: not served)."""

    def __init__(
        self,
        engine: Engine,
        experts: Sequence[Expert],
        router: Router | None,
        identity: str = "",
        base_name: str | None = None,
    ):
        self.engine = engine
        self.experts = {e.name: e for e in experts}
        self.router = router
        self.identity = identity
        self.base_name = base_name if base_name not in {AUTO, BASE, *self.experts} else None
        self.decoder: Decoder | None = None

    def start(self, max_batch: int) -> Decoder:
        """Start the engine's decoder (the HTTP server's): at most ``max_batch`` completions decoded together."""
        self.decoder = self.engine.start(max_batch)
        return self.decoder

    async def complete(self, row: Row) -> Row:
        """Decode ``row`` to its end: through the running decoder, else here (the Assistant's PEFT engine)."""
        if self.decoder is not None:
            return await self.decoder.submit(row).result()
        if not isinstance(self.engine, LoraEngine):
            raise ConfigError("this engine decodes only once started (LMoE.start)")
        await asyncio.to_thread(self.engine.run, [row])
        return row

    @property
    def models(self) -> list[str]:
        """Every servable model name: ``auto`` (when routed), each expert, ``base``, and the base model's own name."""
        named = [self.base_name] if self.base_name else []
        return ([AUTO] if self.router is not None else []) + [*self.experts, BASE, *named]

    def adapter(self, name: str) -> str:
        """The engine's adapter name for the model ``name`` (``__base__`` for ``base``)."""
        if name in (BASE, self.base_name):
            return BASE_ADAPTER
        if name not in self.experts:
            raise UnknownModel(name)
        return name

    async def route(self, model: str, texts: Sequence[str], expert: str | None = None) -> list[Route]:
        """Where each text of a request for ``model`` goes: ``expert`` when given (airoboros' request field), routed
        for ``auto`` and for the base model's own name (as airoboros routes it), else the named model.

        Raises:
            UnknownModel: ``model`` or ``expert`` is not served.
        """
        router = self.router if model in (AUTO, self.base_name) else None
        if router is None:
            self.adapter(model)  # a served model, else UnknownModel
        if expert:
            self.adapter(expert)
            routes = [Route(expert, "request")] * len(texts)
        elif router is not None:
            routes = await router.route(texts)
        else:
            routes = [Route(model, "request")] * len(texts)
        for route in routes:
            log.info("routed to %s by %s %s", route.expert, route.router, route.detail)
        return routes


def build_lmoe(
    base: Path | str,
    experts: Sequence[Expert],
    *,
    router: RouterSettings | None = None,
    gateway: Gateway | None = None,
    identity: str = "",
    device: str = "auto",
    backend: Backend = "peft",
    engine_args: Mapping[str, Any] | None = None,
    base_name: str | None = None,
    trust_remote_code: bool = False,
) -> LMoE:
    """Load the base model with every expert's adapter on ``backend`` and build the router ``router`` asks for.

    ``device`` places the PEFT model; ``engine_args`` are more of vLLM's engine arguments (``--vllm-arg``);
    ``base_name`` is the name a request gives the base model itself (routed like ``auto``, as airoboros does);
    ``trust_remote_code`` lets a model run the code its folder ships (only when the user asked for it).
    """
    names = [e.name for e in experts]
    reserved = {AUTO, BASE} & set(names)
    if reserved or len(set(names)) != len(names):
        raise ConfigError(f"expert names must be unique and not {AUTO!r} or {BASE!r}: {names}")
    settings = router or RouterSettings()
    adapters = {e.name: e.adapter for e in experts if e.adapter is not None}
    engine: Engine
    if backend == "vllm":
        from evoforge.serve.vllm_engine import VllmEngine

        remote = {"trust_remote_code": True} if trust_remote_code else {}
        engine = VllmEngine(base, adapters, {**remote, **(engine_args or {})})
    else:
        if engine_args:
            raise ConfigError("--vllm-arg applies to --backend vllm only")
        engine = LoraEngine(base, adapters, device=device, trust_remote_code=trust_remote_code)
    lmoe = LMoE(engine, experts, None, identity, base_name)
    lmoe.router = _router(settings, experts, gateway, lmoe)
    return lmoe


def _router(settings: RouterSettings, experts: Sequence[Expert], gateway: Gateway | None, lmoe: LMoE) -> Router | None:
    routable = [e for e in experts if e.routable]
    embedding = embedding_router(experts, settings)
    if settings.kind == "agent" and FUNCTION in lmoe.experts and embedding is not None:
        descriptions = {e.name: e.description for e in routable}
        return FunctionRouter(lmoe.complete, lmoe.engine.encode, descriptions, embedding)
    if settings.kind == "agent":
        if gateway is None:
            raise ConfigError("the agent router needs an LLM gateway (the llm settings of --config)")
        candidates = routable or [e for e in experts if e.adapter is not None]
        return AgentRouter(gateway, {e.name: e.description for e in candidates}, settings.role, embedding)
    if settings.kind == "embedding" and embedding is None and experts:
        log.warning("no expert has training instructions: 'auto' is not served (pass --expert-data NAME=FILE)")
    return embedding


def embedding_router(experts: Sequence[Expert], settings: RouterSettings) -> EmbeddingRouter | None:
    """The embedding router over the routable ``experts`` (None when none is routable or ``settings`` route none)."""
    routable = [e for e in experts if e.routable]
    if not routable or settings.kind == "none":
        return None
    instructions = {e.name: e.instructions for e in routable}
    return EmbeddingRouter(instructions, settings.max_samples, settings.k, settings.embedding_model)


def round_router(
    run_path: Path, round_n: int, names: Collection[str], settings: RouterSettings | None = None
) -> Callable[[Sequence[str]], list[str]]:
    """Where ``model: auto`` sends each text among the experts ``names`` of round ``round_n`` of the cycle run at
    ``run_path``: the embedding router ``evoforge serve lmoe --run`` builds over their training chunks, without
    loading any model; returns a function from texts to expert names.

    Raises:
        ConfigError: none of ``names`` is a routable expert of the round.
    """
    settings = settings or RouterSettings()
    _, experts = run_experts(run_path, round_n, settings.max_samples)
    router = embedding_router([e for e in experts if e.name in names], settings)
    if router is None:
        raise ConfigError(f"round {round_n} of {run_path.name} has no routable expert among {sorted(names)}")
    return lambda texts: [route.expert for route in router.choose(texts)]
