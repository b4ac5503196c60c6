"""From the LMoE's experts and rows to vLLM's arguments, and vLLM's output back onto a row: the vLLM backend's
pure half (it never imports vllm, so it is tested on any machine; :mod:`evoforge.serve.vllm_engine` makes the calls).

- **Experts → LoRA slots**: each expert's adapter is one slot, the three arguments of vLLM's ``LoRARequest``: the
  expert's name, a unique positive integer id (``lora_int_id``: 1, 2, … in the experts' order) and its directory.
  The base model (``__base__``) has none: its requests carry no ``lora_request``.
- **The engine** (``AsyncEngineArgs``): the base model as model and tokenizer; ``enable_lora`` with ``max_loras`` =
  every expert (one batch may mix them all) and ``max_lora_rank`` the smallest rank vLLM accepts that holds the
  largest adapter's; ``max_num_seqs`` = the server's ``--max-batch``; ``max_model_len`` = the model's context.
  ``--vllm-arg KEY=VALUE`` adds any other engine argument or overrides these (not the model itself).
- **A row → ``SamplingParams``**: ``n`` = 1 (each choice of a request is its own row, seeded ``seed + index`` by
  :meth:`~evoforge.serve.decoding.Sampling.for_choice`, as vLLM seeds its own ``n``), temperature (0 = greedy),
  ``top_p``, ``max_tokens``, stop strings (left out of the text, vLLM's default) and seed.
- **vLLM's output → the row**: a ``RequestOutput``'s first completion is cumulative (all its tokens and text so
  far); its tokens without a final end-of-sequence token (the PEFT engine does not count it either, so usage
  agrees), its text, and its finish reason (``stop``, ``length``; ``abort`` = the row was cancelled).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evoforge.errors import ConfigError
from evoforge.serve.decoding import BASE_ADAPTER, FinishReason, Row, Sampling
from evoforge.serve.experts import check_adapter_dirs

VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # vllm.config.lora.MaxLoRARanks
RESERVED_ARGS = ("model", "tokenizer", "enable_lora")  # set from the experts; --vllm-arg may not change them
INSTALL_HINT = (
    "the vllm backend needs the vllm extra on a machine with a GPU vLLM supports: install the torch your GPU needs, "
    "then pip install 'evoforge[vllm]' (without -c constraints.txt, which pins the CPU torch)"
)


@dataclass(frozen=True)
class LoraSlot:
    """One expert as vLLM's ``LoRARequest(lora_name, lora_int_id, lora_path)``."""

    name: str
    lora_int_id: int
    path: str


def lora_slots(adapters: Mapping[str, Path | str]) -> dict[str, LoraSlot]:
    """A slot per adapter, ids 1, 2, … in order (vLLM needs a unique positive id per adapter)."""
    check_adapter_dirs(adapters)
    return {name: LoraSlot(name, i, str(path)) for i, (name, path) in enumerate(adapters.items(), 1)}


def slot_for(slots: Mapping[str, LoraSlot], adapter: str) -> LoraSlot | None:
    """The slot a row's ``adapter`` is served by; None for the base model.

    Raises:
        ConfigError: no expert has that adapter.
    """
    if adapter == BASE_ADAPTER:
        return None
    if adapter not in slots:
        raise ConfigError(f"unknown adapter '{adapter}'; loaded: {list(slots)}")
    return slots[adapter]


def adapter_rank(path: Path | str) -> int:
    """The largest LoRA rank in a PEFT adapter (its ``r``, or a larger one in its ``rank_pattern``)."""
    config = json.loads((Path(path) / "adapter_config.json").read_text(encoding="utf-8"))
    return max([int(config["r"]), *(int(r) for r in (config.get("rank_pattern") or {}).values())])


def max_lora_rank(slots: Mapping[str, LoraSlot]) -> int:
    """The smallest ``max_lora_rank`` vLLM accepts that holds every slot's adapter."""
    largest = max((adapter_rank(slot.path) for slot in slots.values()), default=1)
    for allowed in VLLM_LORA_RANKS:
        if allowed >= largest:
            return allowed
    raise ConfigError(f"an adapter of rank {largest} exceeds vLLM's largest max_lora_rank ({VLLM_LORA_RANKS[-1]})")


def parse_engine_args(pairs: Mapping[str, str]) -> dict[str, Any]:
    """``--vllm-arg KEY=VALUE`` pairs as engine arguments: each value read as JSON when it is JSON
    (``0.8``, ``true``, ``2``, ``{"a": 1}``), else kept as a string (``bfloat16``)."""
    reserved = sorted(set(pairs) & set(RESERVED_ARGS))
    if reserved:
        raise ConfigError(f"--vllm-arg may not set {reserved}: evoforge sets them from --base/--run and the experts")
    out: dict[str, Any] = {}
    for key, value in pairs.items():
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def engine_arguments(
    base: Path | str, slots: Mapping[str, LoraSlot], *, max_batch: int, context: int, extra: Mapping[str, Any]
) -> dict[str, Any]:
    """The keyword arguments of vLLM's ``AsyncEngineArgs`` for ``base`` with ``slots`` (see the module doc)."""
    arguments: dict[str, Any] = {
        "model": str(base),
        "tokenizer": str(base),
        "max_num_seqs": max_batch,
        "max_model_len": context,
    }
    if slots:
        count = len(slots)
        arguments |= {"enable_lora": True, "max_loras": count, "max_cpu_loras": count}
        arguments["max_lora_rank"] = max_lora_rank(slots)
    return arguments | dict(extra)


def sampling_arguments(sampling: Sampling) -> dict[str, Any]:
    """The keyword arguments of vLLM's ``SamplingParams`` for one row (one completion)."""
    return {
        "n": 1,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_tokens,
        "stop": list(sampling.stop),
        "seed": sampling.seed,
    }


def finish_reason(reason: str | None) -> FinishReason | None:
    """A vLLM completion's finish reason as a row's (None while it runs)."""
    if reason is None:
        return None
    reasons: dict[str, FinishReason] = {"length": "length", "abort": "cancelled"}
    return reasons.get(reason, "stop")


def apply_output(row: Row, token_ids: Sequence[int], text: str, reason: str | None, eos: set[int]) -> None:
    """Put a vLLM completion's cumulative output onto ``row`` (streaming what is new)."""
    tokens = list(token_ids)
    if reason == "stop" and tokens and tokens[-1] in eos:
        tokens.pop()
    row.update(tokens, text, finish_reason(reason))
