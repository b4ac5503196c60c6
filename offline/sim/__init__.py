"""The simulated LLM (``sim/<name>`` models): plays every agent role inside the offline skills world.

:func:`respond` is the pure core (used by the HTTP server too); :func:`get_handler` returns the LiteLLM
custom-provider singleton that the gateway registers as provider "sim" (LiteLLM is imported only then).
See docs/offline-world.md for the model of the world.
"""

from __future__ import annotations

from typing import Any

from evoforge.offline.revision import source_digest
from evoforge.offline.sim.engine import SimOptions, SimReply, respond

_handler: Any = None


def get_handler() -> Any:
    """The ``litellm.CustomLLM`` that serves ``sim/...`` models (one per process)."""
    global _handler
    if _handler is None:
        from evoforge.llm.backend import litellm_module

        litellm_module()  # offline cost map before LiteLLM is imported for the first time
        from evoforge.offline.sim.provider import SimProvider

        _handler = SimProvider()
        # cached answers of the simulated LLM are keyed by its code and the world's, so they never go stale
        _handler.revision = source_digest("evoforge.offline.sim", "evoforge.offline.world")
    return _handler


__all__ = ["SimOptions", "SimReply", "get_handler", "respond"]
