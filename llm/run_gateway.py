"""The LLM gateway of a run: what a graph's nodes share, and what a command without a graph (the cull) opens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evoforge.database import database_url
from evoforge.llm.cache import response_cache_path

if TYPE_CHECKING:
    from evoforge.llm.gateway import LLMGateway
    from evoforge.runs import RunDir
    from evoforge.settings import Config


def build_gateway(config: Config, run: RunDir) -> LLMGateway:
    """The LLM gateway of a run, with the response cache shared by all runs (unless ``llm.cache`` is off): the
    SQLite file, or the run-state database, which then also holds the per-model limits across processes."""
    from evoforge.llm.gateway import LLMGateway

    return LLMGateway(config.llm, response_cache_path(config.llm), run, database_url(config.run))
