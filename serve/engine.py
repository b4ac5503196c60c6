"""One resident base model with every expert's LoRA adapter loaded, decoding mixed-adapter batches.

All adapters live in one ``PeftModel``; a batch's forward passes take ``adapter_names=[…]`` (one name per row,
``__base__`` for the bare model), so PEFT applies each row's own adapter and requests for different experts share
every base-model matmul. Decoding is our own loop over the KV cache rather than ``generate()``: each row keeps its
own sampling settings, ``max_tokens`` and stop strings, streams its text as it goes, and leaves the batch (its
slot freed, the cache pruned) as soon as it is done or its client has gone.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evoforge.errors import ConfigError
from evoforge.serve.decoding import BASE_ADAPTER, Row


class LoraEngine:
    """A base model (+ named LoRA adapters) that decodes batches of :class:`Row`\\ s.

    Args:
        base: a local Hugging Face model directory.
        adapters: expert name → PEFT adapter directory (all loaded now).
        device: ``auto`` (a GPU when visible), ``cpu`` or ``cuda``.
    """

    def __init__(self, base: Path | str, adapters: Mapping[str, Path | str] | None = None, device: str = "auto"):
        from evoforge.training.student import load_student

        self.model, self.tokenizer = load_student(base, device=device)
        self.adapters: list[str] = list(adapters or {})
        if adapters:
            self._load(adapters)
        eos = {self.tokenizer.eos_token_id}
        gen_eos = getattr(self.model.generation_config, "eos_token_id", None)
        eos |= set(gen_eos if isinstance(gen_eos, list) else [gen_eos])
        self.eos_ids: set[int] = {i for i in eos if i is not None}
        config = self.model.config
        forward = inspect.signature(self.model.get_base_model().forward if adapters else self.model.forward)
        self._cache_arg = "cache" if "cache" in forward.parameters else "past_key_values"  # renamed in transformers 5.x
        self.context = int(getattr(config, "max_position_embeddings", 0) or self.tokenizer.model_max_length)

    def _load(self, adapters: Mapping[str, Path | str]) -> None:
        from peft import PeftModel

        for name, path in adapters.items():
            if name == BASE_ADAPTER:
                raise ConfigError(f"'{BASE_ADAPTER}' is reserved for the base model; rename that expert")
            if not (Path(path) / "adapter_config.json").is_file():
                raise ConfigError(f"expert '{name}': {path} is not a PEFT adapter directory (no adapter_config.json)")
        (first, first_path), *rest = adapters.items()
        self.model = PeftModel.from_pretrained(self.model, first_path, adapter_name=first)
        for name, path in rest:
            self.model.load_adapter(path, adapter_name=name)
        self.model.eval()

    @property
    def device(self) -> Any:
        """The device the model's weights are on."""
        return self.model.device

    def chat_prompt(self, messages: Sequence[Mapping[str, str]]) -> list[int]:
        """Token ids of ``messages`` through the chat template, ending with the assistant's generation prompt."""
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
        else:  # a base model without a template: the turns as plain text
            text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
        return self.encode(str(text))

    def encode(self, text: str) -> list[int]:
        """Token ids of raw ``text`` (no special tokens added)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def run(self, rows: Sequence[Row]) -> None:
        """Decode ``rows`` together until each is done (each row's callbacks fire as it goes)."""
        import torch

        for row in rows:
            if row.adapter != BASE_ADAPTER and row.adapter not in self.adapters:
                raise ConfigError(f"unknown adapter '{row.adapter}'; loaded: {self.adapters}")
        live = [r for r in rows if not _ended_early(r, self.context)]
        if not live:
            return
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        width = max(len(r.prompt_ids) for r in live)
        ids = torch.tensor([[pad] * (width - len(r.prompt_ids)) + r.prompt_ids for r in live], device=self.device)
        mask = torch.tensor([[0] * (width - len(r.prompt_ids)) + [1] * len(r.prompt_ids) for r in live])
        mask = mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            self._decode(live, ids, mask, positions)

    def _decode(self, live: list[Row], ids: Any, mask: Any, positions: Any) -> None:
        import torch
        from transformers import DynamicCache

        cache = DynamicCache()
        while live:
            kwargs: dict[str, Any] = {"adapter_names": [r.adapter for r in live]} if self.adapters else {}
            out = self.model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=positions,
                past_key_values=cache,
                use_cache=True,
                **kwargs,
            )
            cache = out.past_key_values
            logits = out.logits[:, -1, :]
            chosen = []
            for i, row in enumerate(live):
                token = row.pick(logits[i])
                is_eos = token in self.eos_ids
                text = row.text if is_eos else self._decode_text([*row.tokens, token])
                row.advance(token, text, is_eos)
                if row.finish_reason is None and positions[i, -1] + 2 >= self.context:
                    row.finish("length")
                chosen.append(token)
            keep = [i for i, row in enumerate(live) if row.finish_reason is None]
            if len(keep) < len(live):
                if not keep:
                    return
                index = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(index)
                mask, positions = mask[index], positions[index]
                chosen = [chosen[i] for i in keep]
                live = [live[i] for i in keep]
            ids = torch.tensor([[t] for t in chosen], device=self.device)
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            positions = positions[:, -1:] + 1

    def _decode_text(self, tokens: list[int]) -> str:
        text: str = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return text


def _ended_early(row: Row, context: int) -> bool:
    """Finish rows that cannot start: cancelled before their turn, or no room left in the context window."""
    if row.cancelled:
        row.finish("cancelled")
    elif len(row.prompt_ids) >= context:
        row.finish("length")
    return row.finish_reason is not None
