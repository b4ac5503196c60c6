"""Batched generation (greedy, or sampled with a seed) from a resident base model with a weighted mix of LoRA
adapters.

The merge search calls :meth:`Generator.generate` thousands of times, so the model and every adapter are loaded
once into one ``PeftModel``. A mix ``{name: w}`` activates the adapters with non-zero weight together and sets each
LoRA layer's scale to ``w × alpha / r``: the forward pass then adds exactly ``Σ wᵢ·sᵢ·BᵢAᵢ x`` — the linear merge of
the deltas — without writing merged weights. Prompts are raw user messages; the tokenizer's chat template is
applied inside; batches are formed by length (left padding, KV cache), bounded by rows and by a token budget, and
the results returned in input order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evoforge.errors import ConfigError
from evoforge.settings.evaluation import MAX_BATCH_TOKENS

if TYPE_CHECKING:
    from evoforge.console import ProgressHandle


def token_batches(lengths: Sequence[int], max_rows: int, max_tokens: int | None) -> Iterator[list[int]]:
    """Indices by decreasing length (ties in input order), cut into batches of at most ``max_rows`` rows and
    ``max_tokens`` padded tokens (rows × the batch's longest length; a longer row still gets a batch alone)."""
    budget = max_tokens if max_tokens is not None else float("inf")
    batch: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda j: lengths[j], reverse=True):
        if batch and (len(batch) >= max_rows or lengths[batch[0]] * (len(batch) + 1) > budget):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


@dataclass(frozen=True)
class Sampling:
    """Sampled rather than greedy generation: temperature, nucleus ``top_p``, and the seed that makes it repeat."""

    temperature: float
    top_p: float
    seed: int


def render_prompt(tokenizer: Any, prompt: str) -> str:
    """``prompt`` as a user turn through the chat template with the generation prompt (raw text without one)."""
    if not getattr(tokenizer, "chat_template", None):
        return prompt
    text: str = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
    )
    return text


def lora_layers(model: Any) -> list[Any]:
    """Every PEFT LoRA layer in ``model``."""
    from peft.tuners.lora import LoraLayer

    return [m for m in model.modules() if isinstance(m, LoraLayer)]


def full_mix(weights: Mapping[str, float], names: Sequence[str]) -> dict[str, float]:
    """``weights`` over every loaded adapter (0.0 for those left out); an unknown name is a ConfigError."""
    unknown = set(weights) - set(names)
    if unknown:
        raise ConfigError(f"unknown adapter(s) {sorted(unknown)}; loaded: {list(names)}")
    return {name: float(weights.get(name, 0.0)) for name in names}


class Generator:
    """A resident model (+ LoRA adapters) for batched generation (greedy unless asked to sample).

    ``model_path`` is a local Hugging Face model directory or ``"tiny"`` (the built-in tiny student); ``adapters``
    maps names to adapter directories; all are loaded at start. A generate batch holds at most ``batch_size``
    prompts and ``max_batch_tokens`` padded tokens (prompt + ``max_new_tokens``; None = no token bound). The
    initial mix gives every adapter weight 1.0 (PEFT's behaviour when several adapters are active);
    :meth:`set_weights` changes it.
    """

    def __init__(
        self,
        model_path: Path | str,
        adapters: Mapping[str, Path | str] | None = None,
        device: str = "auto",
        batch_size: int = 32,
        max_new_tokens: int = 48,
        max_batch_tokens: int | None = MAX_BATCH_TOKENS,
    ) -> None:
        if batch_size < 1 or max_new_tokens < 1 or (max_batch_tokens is not None and max_batch_tokens < 1):
            raise ConfigError("batch_size, max_new_tokens and max_batch_tokens must be positive")
        from evoforge.training.student import load_student

        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.max_batch_tokens = max_batch_tokens
        self.model, self.tokenizer = load_student(model_path, device=device)
        self.adapter_names: list[str] = list(adapters or {})
        self._weights: dict[str, float] = {}
        self._encoded: dict[str, list[int]] = {}
        if adapters:
            self._load_adapters(adapters)
            self.set_weights(dict.fromkeys(self.adapter_names, 1.0))
        eos = self.tokenizer.eos_token_id
        gen_eos = getattr(self.model.generation_config, "eos_token_id", None)
        ids = {eos} | set(gen_eos if isinstance(gen_eos, list) else [gen_eos])
        self.eos_ids: set[int] = {i for i in ids if i is not None}

    def _load_adapters(self, adapters: Mapping[str, Path | str]) -> None:
        from peft import PeftModel

        for name, path in adapters.items():
            if not (Path(path) / "adapter_config.json").is_file():
                raise ConfigError(f"adapter '{name}': {path} is not a PEFT adapter directory (no adapter_config.json)")
        items = list(adapters.items())
        first_name, first_path = items[0]
        self.model = PeftModel.from_pretrained(self.model, first_path, adapter_name=first_name)
        for name, path in items[1:]:
            self.model.load_adapter(path, adapter_name=name)
        self.model.eval()
        self._layers = lora_layers(self.model)

    @property
    def weights(self) -> dict[str, float]:
        """The current adapter mix (every loaded adapter, 0.0 for those left out)."""
        return dict(self._weights)

    def set_weights(self, weights: Mapping[str, float]) -> None:
        """Set the adapter mix: adapter ``i`` contributes ``weights[i] × BᵢAᵢ × alpha/r``; unnamed adapters get 0."""
        self._weights = full_mix(weights, self.adapter_names)
        active = [name for name, w in self._weights.items() if w != 0.0]
        if not self.adapter_names:
            return
        for layer in self._layers:
            for name in self.adapter_names:
                layer.set_scale(name, self._weights[name])
        self.model.base_model.set_adapter(active, inference_mode=True)

    def render(self, prompt: str) -> str:
        """The text the model sees for ``prompt`` (chat template with the generation prompt)."""
        return render_prompt(self.tokenizer, prompt)

    def generate(
        self, prompts: Sequence[str], progress: ProgressHandle | None = None, sampling: Sampling | None = None
    ) -> list[str]:
        """Completions of ``prompts`` (in order), cut at the first end-of-sequence token and stripped: greedy, or
        sampled by ``sampling`` (each batch seeded from its seed and position, so the same call repeats)."""
        import torch

        encoded = [self._encode(p) for p in prompts]
        lengths = [len(ids) + self.max_new_tokens for ids in encoded]
        outputs = [""] * len(prompts)
        start = 0  # the batch's first position in length order (seeds a sampled batch)
        for idx in token_batches(lengths, self.batch_size, self.max_batch_tokens):
            batch = self.tokenizer.pad({"input_ids": [encoded[i] for i in idx]}, padding=True, return_tensors="pt")
            batch = {k: v.to(self.model.device) for k, v in batch.items()}
            sample: dict[str, Any] = {"do_sample": False}
            if sampling is not None and sampling.temperature > 0:
                torch.manual_seed(sampling.seed * 1_000_003 + start)
                sample = {"do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p}
            with torch.inference_mode():
                out = self.model.generate(
                    **batch,
                    max_new_tokens=self.max_new_tokens,
                    **sample,
                    num_beams=1,
                    use_cache=True,
                    pad_token_id=self.tokenizer.pad_token_id,
                    eos_token_id=sorted(self.eos_ids) or None,
                )
            new_tokens = out[:, batch["input_ids"].shape[1] :].tolist()
            for i, tokens in zip(idx, new_tokens, strict=True):
                outputs[i] = self._decode(tokens)
            if progress is not None:
                progress.advance(len(idx))
            start += len(idx)
        return outputs

    def _encode(self, prompt: str) -> list[int]:
        """Token ids of the rendered prompt, cached (the merge search repeats the same eval prompts)."""
        ids = self._encoded.get(prompt)
        if ids is None:
            ids = list(self.tokenizer(self.render(prompt), add_special_tokens=False)["input_ids"])
            self._encoded[prompt] = ids
        return ids

    def _decode(self, tokens: list[int]) -> str:
        cut = next((k for k, t in enumerate(tokens) if t in self.eos_ids), len(tokens))
        text: str = self.tokenizer.decode(tokens[:cut], skip_special_tokens=True)
        return text.strip()
