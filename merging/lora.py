"""Deltas: what a fine-tune changed, per base parameter.

A delta is either a LoRA adapter (ΔW = scale·B·A per module, kept as factors so the resident trial path can
mix adapter scales and the export can concatenate them exactly) or a full fine-tuned checkpoint
(ΔW = W − W₀ for every parameter that differs from the base). Either way :meth:`Delta.dense` gives the dense
ΔW per base parameter name (the names of the plain, unwrapped base model, e.g.
``model.layers.0.self_attn.q_proj.weight``), which is what the ΔW merge methods combine.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from evoforge.errors import DataError

if TYPE_CHECKING:
    import torch

PEFT_PREFIX = "base_model.model."
_LAYER_INDEX = re.compile(r"\.(\d+)\.")


@dataclass
class LoraFactors:
    """One module's LoRA factors: ΔW = scale · B @ A (transposed when the base stores W as in×out)."""

    a: torch.Tensor
    b: torch.Tensor
    scale: float
    fan_in_fan_out: bool = False

    def dense(self) -> torch.Tensor:
        """The dense ΔW of this module, in float32."""
        delta = (self.b.float() @ self.a.float()) * self.scale
        return delta.T if self.fan_in_fan_out else delta


@dataclass
class Delta:
    """A named delta over a base model: LoRA factors or dense full-checkpoint differences."""

    name: str
    kind: Literal["lora", "full"]
    path: Path | None = None
    factors: dict[str, LoraFactors] = field(default_factory=dict)
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)

    def dense(self) -> dict[str, torch.Tensor]:
        """ΔW per base parameter name, float32 (computed once for LoRA deltas, then cached)."""
        if self.kind == "lora" and not self.tensors:
            self.tensors = {name: f.dense() for name, f in self.factors.items()}
        return self.tensors

    @property
    def params(self) -> list[str]:
        """Names of the base parameters this delta touches."""
        return sorted(self.factors if self.kind == "lora" else self.tensors)


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file (or every shard in a folder)."""
    from safetensors.torch import load_file

    files = [path] if path.is_file() else sorted(path.glob("*.safetensors"))
    if not files:
        raise DataError(f"{path}: no .safetensors weights found")
    state: dict[str, torch.Tensor] = {}
    for file in files:
        state.update(load_file(str(file)))
    return state


def _alpha_for(config: dict[str, Any], module: str) -> float:
    """lora_alpha for ``module``, honouring alpha_pattern (PEFT's own pattern matching)."""
    pattern = config.get("alpha_pattern") or {}
    if pattern:
        from peft.utils.other import get_pattern_key

        key = get_pattern_key(list(pattern), module)
        if key in pattern:
            return float(pattern[key])
    return float(config.get("lora_alpha", config.get("r", 8)))


def load_lora_delta(path: Path, name: str | None = None) -> Delta:
    """Read a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) as a delta.

    Raises:
        DataError: the folder is not a plain LoRA adapter (missing files, DoRA, non-linear modules...).
    """
    config_file = path / "adapter_config.json"
    if not config_file.is_file():
        raise DataError(f"{path}: not a PEFT adapter folder (no adapter_config.json)")
    config = json.loads(config_file.read_text(encoding="utf-8"))
    if config.get("peft_type", "LORA") != "LORA":
        raise DataError(f"{config_file}: peft_type {config.get('peft_type')!r}; only LORA adapters can be merged")
    if config.get("use_dora"):
        raise DataError(f"{config_file}: DoRA adapters are not supported by the merge methods")
    weights = path / "adapter_model.safetensors"
    if not weights.is_file():
        raise DataError(f"{path}: adapter_model.safetensors not found")
    state = read_state(weights)
    factors: dict[str, LoraFactors] = {}
    for key, a in state.items():
        if not key.endswith(".lora_A.weight"):
            continue
        module = key[: -len(".lora_A.weight")].removeprefix(PEFT_PREFIX)
        b = state.get(key.replace(".lora_A.weight", ".lora_B.weight"))
        if b is None or a.dim() != 2:
            raise DataError(f"{weights}: {key} has no matching 2-D lora_B (only Linear LoRA modules are supported)")
        rank = a.shape[0]
        alpha = _alpha_for(config, module)
        scale = alpha / rank**0.5 if config.get("use_rslora") else alpha / rank
        factors[module + ".weight"] = LoraFactors(a.float(), b.float(), scale, bool(config.get("fan_in_fan_out")))
    if not factors:
        raise DataError(f"{weights}: no lora_A/lora_B weights found")
    return Delta(name or path.name, "lora", path=path, factors=factors)


def load_full_delta(path: Path, base_state: dict[str, torch.Tensor], name: str | None = None) -> Delta:
    """ΔW = W − W₀ of a full fine-tuned checkpoint folder against the base's state dict.

    Only floating parameters that differ from the base are kept; keys absent from the checkpoint are unchanged.
    """
    tuned = read_state(path)
    extra = sorted(set(tuned) - set(base_state))
    if extra:
        raise DataError(f"{path}: {len(extra)} parameters are not in the base model, e.g. {extra[0]}")
    tensors = {}
    for key, w in tuned.items():  # keys the checkpoint leaves out (tied embeddings) are unchanged
        w0 = base_state[key]
        if w.shape != w0.shape:
            raise DataError(f"{path}: {key} has shape {tuple(w.shape)}, the base has {tuple(w0.shape)}")
        if w0.is_floating_point() and not bool((w.to(w0.device) == w0).all()):
            tensors[key] = w.float() - w0.float().cpu()
    return Delta(name or path.name, "full", path=path, tensors=tensors)


def load_delta(path: Path, base_state: dict[str, torch.Tensor] | None = None, name: str | None = None) -> Delta:
    """A LoRA adapter folder or (given the base's state dict) a full checkpoint folder, as a delta."""
    if (path / "adapter_config.json").is_file():
        return load_lora_delta(path, name)
    if not path.is_dir():
        raise DataError(f"delta not found: {path}")
    if base_state is None:
        raise DataError(f"{path}: a full checkpoint needs the base model's weights to compute ΔW")
    return load_full_delta(path, base_state, name)


def layer_index(param: str) -> int | None:
    """The block index in a parameter name (``model.layers.3.mlp...`` → 3), or None outside numbered blocks."""
    match = _LAYER_INDEX.search(param)
    return int(match.group(1)) if match else None


def layer_groups(params: list[str], groups: int) -> dict[str, int]:
    """Assign each parameter to one of ``groups`` contiguous layer groups (outside the blocks: group 0)."""
    indices = [i for p in params if (i := layer_index(p)) is not None]
    n_layers = max(indices) + 1 if indices else 1
    out = {}
    for p in params:
        i = layer_index(p)
        out[p] = 0 if i is None else min(groups - 1, i * groups // n_layers)
    return out


def base_parameter(model: Any, name: str) -> torch.Tensor:
    """The base weight tensor ``name`` in a plain or PEFT-wrapped model (LoRA layers: their base layer's)."""
    root = model.get_base_model() if hasattr(model, "get_base_model") else model
    module_path, _, attr = name.rpartition(".")
    module = root.get_submodule(module_path)
    if hasattr(module, "get_base_layer"):
        module = module.get_base_layer()
    tensor: torch.Tensor = getattr(module, attr)
    return tensor
