"""The one door to LiteLLM: a lazy import (offline cost map) and custom-provider registration.

Importing LiteLLM costs seconds and, by default, fetches a price map from the internet; nothing in evoforge
imports it at start-up. :func:`litellm_module` sets ``LITELLM_LOCAL_MODEL_COST_MAP`` first and imports it on
first use. Models named ``sim/...`` are served by the simulated LLM, registered as the custom provider "sim".
"""

from __future__ import annotations

import importlib
import os
from typing import Any

_module: Any = None

SIM_PROVIDER = "sim"


def litellm_module() -> Any:
    """Import LiteLLM once, offline (local cost map, no debug banners), and return the module."""
    global _module
    if _module is None:
        os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
        module: Any = importlib.import_module("litellm")
        module.suppress_debug_info = True
        _module = module
    return _module


def is_registered(name: str) -> bool:
    """Whether a custom provider called ``name`` is registered with LiteLLM."""
    return any(item.get("provider") == name for item in litellm_module().custom_provider_map)


def register_provider(name: str, handler: Any) -> None:
    """Serve ``<name>/...`` models with ``handler`` (a ``litellm.CustomLLM``); a no-op if ``name`` is registered."""
    if is_registered(name):
        return
    litellm = litellm_module()
    litellm.custom_provider_map = [*litellm.custom_provider_map, {"provider": name, "custom_handler": handler}]


def ensure_provider_for(model: str) -> None:
    """Import LiteLLM and, for a ``sim/...`` model, register the simulated LLM (imported only then)."""
    litellm_module()
    if model.startswith(f"{SIM_PROVIDER}/") and not is_registered(SIM_PROVIDER):
        from evoforge.llm.sim import get_handler

        register_provider(SIM_PROVIDER, get_handler())
