"""vLLM generation backend (the ``vllm`` extra, GPU): the same interface as
:class:`evoforge.evals.batched_generation.Generator`.

vLLM applies one LoRA per request, so a weighted mix of adapters is written as one exact adapter first
(:func:`write_mixed_adapter`: the "cat" combination — A and B stacked, so ``B_mix A_mix = Σ wᵢ·sᵢ·BᵢAᵢ``) and served
with a fresh ``LoRARequest``. Written against vLLM's documented offline API (``LLM``, ``SamplingParams``,
``LoRARequest``); vllm is imported only when a :class:`VLLMGenerator` is created.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evoforge.errors import ConfigError
from evoforge.evals.batched_generation import Sampling, full_mix, render_prompt

if TYPE_CHECKING:
    from evoforge.console import ProgressHandle

_SUFFIXES = (".lora_A.weight", ".lora_B.weight")


def _adapter_scale(config: dict[str, Any]) -> float:
    if config.get("rank_pattern") or config.get("alpha_pattern") or config.get("use_dora"):
        raise ConfigError("mixing adapters with rank/alpha patterns or DoRA is not supported")
    r, alpha = config["r"], config["lora_alpha"]
    return float(alpha / math.sqrt(r) if config.get("use_rslora") else alpha / r)


def _load_tensors(path: Path) -> dict[str, Any]:
    import torch
    from safetensors.torch import load_file

    if (path / "adapter_model.safetensors").is_file():
        return dict(load_file(path / "adapter_model.safetensors"))
    return dict(torch.load(path / "adapter_model.bin", map_location="cpu", weights_only=True))


def write_mixed_adapter(adapters: Mapping[str, Path], weights: Mapping[str, float], out_dir: Path) -> Path:
    """Write the exact linear mix ``Σ wᵢ·sᵢ·BᵢAᵢ`` of LoRA adapters as one PEFT adapter (rank Σ rᵢ, scale 1)."""
    import torch
    from safetensors.torch import save_file

    names = [n for n in adapters if weights.get(n, 0.0) != 0.0]
    if not names:
        raise ConfigError("a mixed adapter needs at least one non-zero weight")
    configs = {n: json.loads((Path(adapters[n]) / "adapter_config.json").read_text()) for n in names}
    tensors = {n: _load_tensors(Path(adapters[n])) for n in names}
    modules = sorted({k[: -len(s)] for t in tensors.values() for k in t for s in _SUFFIXES if k.endswith(s)})
    mixed: dict[str, Any] = {}
    for module in modules:
        present = [n for n in names if module + _SUFFIXES[0] in tensors[n]]
        like_a, like_b = tensors[present[0]][module + _SUFFIXES[0]], tensors[present[0]][module + _SUFFIXES[1]]
        parts_a, parts_b = [], []
        for n in names:
            r = configs[n]["r"]
            if n in present:
                scale = weights[n] * _adapter_scale(configs[n])
                parts_a.append(tensors[n][module + _SUFFIXES[0]].float() * scale)
                parts_b.append(tensors[n][module + _SUFFIXES[1]].float())
            else:
                parts_a.append(torch.zeros(r, like_a.shape[1]))
                parts_b.append(torch.zeros(like_b.shape[0], r))
        mixed[module + _SUFFIXES[0]] = torch.cat(parts_a, 0).to(like_a.dtype).contiguous()
        mixed[module + _SUFFIXES[1]] = torch.cat(parts_b, 1).to(like_b.dtype).contiguous()
    rank = sum(configs[n]["r"] for n in names)
    targets = sorted({t for c in configs.values() for t in (c.get("target_modules") or [])})
    config = {**configs[names[0]], "r": rank, "lora_alpha": rank, "use_rslora": False, "target_modules": targets}
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(mixed, str(out_dir / "adapter_model.safetensors"))
    (out_dir / "adapter_config.json").write_text(json.dumps(config, indent=2))
    return out_dir


class VLLMGenerator:
    """Generation with vLLM (greedy, or sampled); ``set_weights`` mixes LoRA adapters exactly (see module doc)."""

    def __init__(
        self,
        model_path: Path | str,
        adapters: Mapping[str, Path | str] | None = None,
        batch_size: int = 32,
        max_new_tokens: int = 48,
        **llm_kwargs: Any,
    ) -> None:
        try:
            from vllm import LLM, SamplingParams
        except ImportError:
            raise ConfigError("the vllm backend needs the vllm extra: pip install 'evoforge[vllm]'") from None
        self.adapters = {n: Path(p) for n, p in (adapters or {}).items()}
        self.adapter_names = list(self.adapters)
        self.batch_size = batch_size  # vLLM schedules its own batches; kept for interface parity
        ranks = [json.loads((p / "adapter_config.json").read_text())["r"] for p in self.adapters.values()]
        if self.adapters:
            llm_kwargs = {"enable_lora": True, "max_loras": 1, "max_lora_rank": _allowed_rank(sum(ranks))} | llm_kwargs
        self.llm = LLM(model=str(model_path), **llm_kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens)
        self._tmp = Path(tempfile.mkdtemp(prefix="evoforge-vllm-"))
        self._lora_id = 0
        self._request: Any = None
        self._weights: dict[str, float] = {}
        if self.adapters:
            self.set_weights(dict.fromkeys(self.adapter_names, 1.0))

    @property
    def weights(self) -> dict[str, float]:
        """The current adapter mix."""
        return dict(self._weights)

    def set_weights(self, weights: Mapping[str, float]) -> None:
        """Serve the mix ``weights`` (unnamed adapters get 0; all zero = the base model)."""
        from vllm.lora.request import LoRARequest

        self._weights = full_mix(weights, self.adapter_names)
        active = {n: w for n, w in self._weights.items() if w != 0.0}
        shutil.rmtree(self._tmp / f"mix-{self._lora_id}", ignore_errors=True)
        if not active:
            self._request = None
            return
        self._lora_id += 1
        if len(active) == 1 and next(iter(active.values())) == 1.0:
            path = self.adapters[next(iter(active))]
        else:
            path = write_mixed_adapter(self.adapters, active, self._tmp / f"mix-{self._lora_id}")
        self._request = LoRARequest(f"mix-{self._lora_id}", self._lora_id, str(path))

    def _encode(self, prompt: str) -> list[int]:
        return list(self.tokenizer(render_prompt(self.tokenizer, prompt), add_special_tokens=False)["input_ids"])

    def generate(
        self, prompts: Sequence[str], progress: ProgressHandle | None = None, sampling: Sampling | None = None
    ) -> list[str]:
        """Completions of ``prompts`` in order (chat template applied, tokens passed as ids): greedy, or sampled by
        ``sampling`` (vLLM's per-request seed, so the same call repeats)."""
        params = self.params
        if sampling is not None and sampling.temperature > 0:
            from vllm import SamplingParams

            params = SamplingParams(
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                seed=sampling.seed,
                max_tokens=self.params.max_tokens,
            )
        inputs = [{"prompt_token_ids": self._encode(p)} for p in prompts]
        outputs = self.llm.generate(inputs, params, lora_request=self._request, use_tqdm=False)
        if progress is not None:
            progress.advance(len(prompts))
        return [o.outputs[0].text.strip() for o in outputs]


def _allowed_rank(rank: int) -> int:
    """The smallest ``max_lora_rank`` vLLM accepts that holds ``rank``."""
    for allowed in (8, 16, 32, 64, 128, 256, 320, 512):
        if rank <= allowed:
            return allowed
    raise ConfigError(f"a mixed adapter of rank {rank} exceeds vLLM's largest max_lora_rank (512)")
