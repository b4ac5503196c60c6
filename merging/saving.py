"""Saving a merge: a PEFT adapter for linear merges of LoRA deltas, a full model directory for any merge (one
adapter merged into its base among them).

The adapter concatenates the deltas' factors (PEFT's ``combination_type="cat"``, which is exact): per module,
A = [w₁s₁A₁; w₂s₂A₂; …] and B = [B₁ B₂ …], so B·A = Σ wᵢ·sᵢ·Bᵢ·Aᵢ, with r = lora_alpha = Σ rᵢ (scale 1).
Unlike ``add_weighted_adapter`` it takes a weight per layer group.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from evoforge.errors import ConfigError
from evoforge.merging.lora import PEFT_PREFIX, Delta, layer_groups, load_lora_delta
from evoforge.merging.methods import get_method, normalized
from evoforge.merging.trial import DeltaMixer, MergeSpec
from evoforge.runs import atomic_write_json


def _effective_weights(spec: MergeSpec, names: list[str], groups: int) -> dict[str, list[float]]:
    """Per delta, the weight of each group after the method's own normalisation (linear only)."""
    import torch

    method = get_method(spec.method, **spec.params)
    if not method.linear:
        raise ConfigError(f"a '{spec.method}' merge is not a sum of the LoRA factors; save it as a full model")
    out: dict[str, list[float]] = {n: [] for n in names}
    for g in range(groups):
        w = torch.tensor([spec.weights[n][g] for n in names], dtype=torch.float64)
        for n, v in zip(names, (normalized(w) if method.params.get("normalize") else w).tolist(), strict=True):
            out[n].append(v)
    return out


def save_cat_adapter(deltas: list[Delta], spec: MergeSpec, out: Path, groups: int = 1) -> Path:
    """Write the linear merge ``spec`` of LoRA ``deltas`` as one PEFT LoRA adapter folder at ``out``.

    Raises:
        ConfigError: a delta is not LoRA, the method is not linear, or every weight is zero.
    """
    import torch
    from safetensors.torch import save_file

    chosen = [d for d in deltas if d.name in spec.weights]
    if any(d.kind != "lora" for d in chosen):
        raise ConfigError("only LoRA deltas can be saved as an adapter; save the merge as a full model")
    weights = _effective_weights(spec, [d.name for d in chosen], groups)
    chosen = [d for d in chosen if any(weights[d.name])]
    if not chosen:
        raise ConfigError("every merge weight is zero: the merge is the base model itself")
    params = sorted({p for d in chosen for p in d.factors})
    group_of = layer_groups(params, groups)
    tensors: dict[str, torch.Tensor] = {}
    ranks: dict[str, int] = {}
    for p in params:
        parts = [(d.factors[p], weights[d.name][group_of[p]]) for d in chosen if p in d.factors]
        module = p.removesuffix(".weight")
        a = torch.cat([f.a * (w * f.scale) for f, w in parts])
        tensors[f"{PEFT_PREFIX}{module}.lora_A.weight"] = a.contiguous()
        tensors[f"{PEFT_PREFIX}{module}.lora_B.weight"] = torch.cat([f.b for f, _ in parts], dim=1).contiguous()
        ranks[module] = sum(f.a.shape[0] for f, _ in parts)
    rank = max(ranks.values())
    pattern = {m: r for m, r in ranks.items() if r != rank}
    config: dict[str, Any] = json.loads((chosen[0].path / "adapter_config.json").read_text()) if chosen[0].path else {}
    config.update(
        peft_type="LORA",
        r=rank,
        lora_alpha=rank,
        rank_pattern=pattern,
        alpha_pattern=pattern,
        use_rslora=False,
        target_modules=sorted(ranks),
        fan_in_fan_out=chosen[0].factors[params[0]].fan_in_fan_out,
        lora_dropout=0.0,
    )
    for key in ("layers_to_transform", "layers_pattern", "modules_to_save", "exclude_modules"):
        config.pop(key, None)
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / "adapter_model.safetensors"))
    atomic_write_json(out / "adapter_config.json", config)
    return out


def save_full_model(
    base: Path, deltas: list[Delta], spec: MergeSpec, out: Path, groups: int = 1, seed: int = 0
) -> Path:
    """Load the base afresh, add the merged ΔW of ``spec`` and save it (with the base's tokenizer) at ``out``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base)
    DeltaMixer(model, deltas, groups, seed).apply(spec)
    model.save_pretrained(out)
    with contextlib.suppress(OSError, ValueError):  # a base without tokenizer files (toy models)
        AutoTokenizer.from_pretrained(base).save_pretrained(out)
    return out


def merge_adapter(base: Path, adapter: Path, out: Path) -> Path:
    """Save ``base`` with the LoRA ``adapter`` merged in (weight 1) as a full model folder at ``out`` (what
    LLaMA-Factory's ``export_model.py`` writes), loadable with ``AutoModelForCausalLM.from_pretrained``."""
    delta = load_lora_delta(adapter, "adapter")
    return save_full_model(base, [delta], MergeSpec({"adapter": [1.0]}), out)
