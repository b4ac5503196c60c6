"""The simulated LLM (``sim/<name>`` models): plays every agent role inside the offline skills world.

:func:`respond` is the pure core (used by the HTTP server too); :func:`get_handler` returns the LiteLLM
custom-provider singleton that the gateway registers as provider "sim" (LiteLLM is imported only then).
See docs/offline-world.md for the model of the world.
"""

from __future__ import annotations

import threading
from typing import Any

from evoforge.offline.revision import source_digest
from evoforge.offline.sim.core import SimOptions, SimReply, respond

_handler: Any = None
_LOCK = threading.Lock()


def get_handler() -> Any:
    """The ``litellm.CustomLLM`` that serves ``sim/...`` models (one per process, safe to call from threads)."""
    global _handler
    with _LOCK:
        if _handler is None:
            from evoforge.llm.backend import litellm_module

            litellm_module()  # offline cost map before LiteLLM is imported for the first time
            from evoforge.offline.sim.provider import SimProvider

            handler = SimProvider()
            # cached answers of the simulated LLM are keyed by its code and the world's, so they never go stale;
            # set before the handler is published, so that no call is keyed without it
            handler.revision = source_digest("evoforge.offline.sim", "evoforge.offline.world")
            _handler = handler
    return _handler


__all__ = ["SimOptions", "SimReply", "get_handler", "respond"]
