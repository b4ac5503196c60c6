"""Test helpers for the LMoE server: a tiny LMoE with two random LoRA experts, ``auto`` routed by the agent
router through the real gateway, whose LLM answer is LiteLLM's mock response (no network)."""

from __future__ import annotations

import json
from pathlib import Path

from evoforge.llm.gateway import LLMGateway
from evoforge.serve.experts import Expert
from evoforge.serve.lmoe import LMoE, RouterSettings, build_lmoe
from evoforge.settings import LLMSettings, ModelEntry, RoleSettings
from evoforge.testing.tiny_models import build_lora_adapter, build_tiny_lm


def agent_gateway(answer: dict[str, str]) -> LLMGateway:
    """A gateway whose ``router`` role always answers ``answer`` (as JSON)."""
    entry = ModelEntry(
        model="openai/mock", api_base="http://127.0.0.1:9/v1", params={"mock_response": json.dumps(answer)}
    )
    settings = LLMSettings(models={"mock": entry}, roles={"router": RoleSettings(model="mock")}, cache=False)
    return LLMGateway(settings)


def tiny_lmoe(root: Path, routed_to: str = "strings") -> LMoE:
    """Experts ``arithmetic`` and ``strings`` on a tiny Llama; the agent router sends ``auto`` to ``routed_to``."""
    base = build_tiny_lm(root / "base")
    experts = [
        Expert("arithmetic", build_lora_adapter(base, root / "arithmetic", seed=1), "adds and subtracts numbers"),
        Expert("strings", build_lora_adapter(base, root / "strings", seed=2), "reverses and sorts words"),
    ]
    gateway = agent_gateway({"expert": routed_to, "reason": "it is about a word"})
    return build_lmoe(base, experts, router=RouterSettings(kind="agent"), gateway=gateway, device="cpu")
