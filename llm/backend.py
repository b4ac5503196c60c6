"""The one door to LiteLLM: a lazy import (offline cost map) and custom-provider registration.

Importing LiteLLM costs seconds and, by default, fetches a price map from the internet; nothing in evoforge
imports it at start-up. :func:`litellm_module` sets ``LITELLM_LOCAL_MODEL_COST_MAP`` first and imports it on
first use. Custom providers plug in through the ``evoforge.llm_providers`` entry point group: a model named
``<name>/...`` whose ``<name>`` is an entry point there is served by the ``litellm.CustomLLM`` that entry point
returns (evoforge ships one: ``sim``, the simulated LLM of :mod:`evoforge.offline.sim`). So ``llm`` imports
nothing above it, and the simulated model is registered only when a ``sim/...`` model is first called.
"""

from __future__ import annotations

import importlib
import os
import threading
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evoforge.settings import ModelEntry

_module: Any = None
_REGISTERING = threading.Lock()

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
    with _REGISTERING:
        if is_registered(name):
            return
        litellm = litellm_module()
        litellm.custom_provider_map = [*litellm.custom_provider_map, {"provider": name, "custom_handler": handler}]


PROVIDER_GROUP = "evoforge.llm_providers"


def provider_revision(model: str) -> str | None:
    """The ``revision`` a plug-in provider's handler declares for ``model`` (part of the response-cache key, so
    cached answers of a simulated model change when its code does), or None."""
    name = model.split("/", 1)[0]
    for item in litellm_module().custom_provider_map:
        if item.get("provider") == name:
            revision = getattr(item.get("custom_handler"), "revision", None)
            return str(revision) if revision is not None else None
    return None


def ensure_provider_for(model: str) -> None:
    """Import LiteLLM; when ``model``'s provider is a plug-in (an entry point), register its handler once; and
    give ``model`` a price of zero when LiteLLM's price map lacks it (:func:`price_if_unknown`).

    Called from worker threads: the handler is complete (its ``revision`` set) before anyone can see it.
    """
    litellm_module()
    name = model.split("/", 1)[0]
    if "/" in model and not is_registered(name):
        for entry in entry_points(group=PROVIDER_GROUP, name=name):
            register_provider(name, entry.load()())
    price_if_unknown(model)


def own_cost(entry: ModelEntry, tokens_in: int, tokens_out: int) -> float | None:
    """USD of ``tokens_in`` + ``tokens_out`` at the entry's own per-token prices; None when it sets neither."""
    if entry.input_cost_per_token is None and entry.output_cost_per_token is None:
        return None
    return tokens_in * (entry.input_cost_per_token or 0.0) + tokens_out * (entry.output_cost_per_token or 0.0)


def token_cost(entry: ModelEntry, tokens_in: int, tokens_out: int) -> float | None:
    """USD of ``tokens_in`` + ``tokens_out`` on ``entry``: its own per-token prices when it sets any, else LiteLLM's
    price table; None when neither prices the model."""
    cost = own_cost(entry, tokens_in, tokens_out)
    if cost is not None:
        return cost
    try:
        return float(
            sum(
                litellm_module().cost_per_token(
                    model=entry.model, prompt_tokens=tokens_in, completion_tokens=tokens_out
                )
            )
        )
    except Exception:  # LiteLLM says "This model isn't mapped yet" with a plain Exception
        return None


ZERO_PRICES = {
    "input_cost_per_token": 0.0,
    "output_cost_per_token": 0.0,
    "cache_creation_input_token_cost": 0.0,
    "cache_read_input_token_cost": 0.0,
}


def price_if_unknown(model: str) -> None:
    """Enter ``model`` in LiteLLM's price map at zero when the map lacks it (a local server's model, a plug-in's).

    LiteLLM prices every response from that map; for a model it lacks, the lookup fails the slow way on every call
    (about a sixth of the client's CPU per call against a local OpenAI-compatible server). Such a call cost 0 then
    and still does; an entry's own per-token prices are applied by the gateway, not by LiteLLM.
    """
    litellm = litellm_module()
    with _REGISTERING:
        try:
            litellm.get_model_info(model)
            return
        except Exception:  # LiteLLM says "This model isn't mapped yet" with a plain Exception
            pass
        try:
            provider = litellm.get_llm_provider(model)[1]
        except Exception:  # LiteLLM cannot route it: the call itself fails with LiteLLM's message
            return
        litellm.register_model({model: {**ZERO_PRICES, "litellm_provider": provider, "mode": "chat"}})


class ModelFailed(Exception):
    """One model gave up on a request (retries exhausted, a non-transient error, no key); the message is secret-free.

    ``transient``: the last error was a transport fault (timeout, 429, 5xx), so the request may succeed later.
    """

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def api_key_of(entry: ModelEntry) -> str | None:
    """The entry's key, read from its environment variable now; a placeholder for keyless local servers.

    Raises:
        ModelFailed: the variable the entry names is not set.
    """
    if entry.api_key_env:
        value = os.environ.get(entry.api_key_env)
        if not value:
            raise ModelFailed(f"environment variable {entry.api_key_env} (llm api_key_env) is not set")
        return value
    if entry.api_base is not None and entry.model.startswith("openai/"):
        return "EMPTY"  # OpenAI-compatible local servers (vLLM, evoforge serve) want some key
    return None


def call_kwargs(
    entry: ModelEntry, messages: list[dict[str, str]], request: dict[str, Any], sample: int
) -> dict[str, Any]:
    """The LiteLLM parameters of one request to ``entry`` (its provider parameters, ``seed=sample`` — the simulated
    LLM and OpenAI-style samplers vary candidates by seed — then ``request``'s sampling and response format), without
    the transport's (timeout, retries, key, API base)."""
    return {**entry.params, "seed": sample, **request, "model": entry.model, "messages": messages}
