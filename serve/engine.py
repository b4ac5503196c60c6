"""One resident base model with every expert's LoRA adapter loaded, decoding mixed-adapter batches.

All adapters live in one ``PeftModel``; a batch's forward passes take ``adapter_names=[…]`` (one name per row,
``__base__`` for the bare model), so PEFT applies each row's own adapter and requests for different experts share
every base-model matmul. Decoding is our own loop over the KV cache rather than ``generate()``: each row keeps its
own sampling settings, ``max_tokens`` and stop strings, streams its text as it goes, and leaves the batch (its
slot freed, the cache pruned) as soon as it is done or its client has gone. Rows handed over between steps
(``admit``) are prefilled and join the running batch: both KV caches and masks are left-padded to one width and
stacked (plain dynamic cache layers only; other caches keep batching per batch).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evoforge.errors import ConfigError
from evoforge.serve.batching import Admit, Batcher
from evoforge.serve.decoding import BASE_ADAPTER, Row
from evoforge.serve.experts import check_adapter_dirs
from evoforge.serve.prompting import PromptTokens, context_length, eos_ids


class LoraEngine(PromptTokens):
    """A base model (+ named LoRA adapters) that decodes batches of :class:`Row`\\ s.

    Args:
        base: a local Hugging Face model directory.
        adapters: expert name → PEFT adapter directory (all loaded now).
        device: ``auto`` (a GPU when visible), ``cpu`` or ``cuda``.
        trust_remote_code: let the model folder run its own code (the user's opt-in).
    """

    def __init__(
        self,
        base: Path | str,
        adapters: Mapping[str, Path | str] | None = None,
        device: str = "auto",
        trust_remote_code: bool = False,
    ):
        from evoforge.training.student import load_student

        self.model, self.tokenizer = load_student(base, device=device, trust_remote_code=trust_remote_code)
        self.adapters: list[str] = list(adapters or {})
        if adapters:
            self._load(adapters)
        self.eos_ids: set[int] = eos_ids(self.tokenizer, self.model.generation_config)
        forward = inspect.signature(self.model.get_base_model().forward if adapters else self.model.forward)
        self._cache_arg = "cache" if "cache" in forward.parameters else "past_key_values"  # renamed in transformers 5.x
        self.context = context_length(self.model.config, self.tokenizer)

    def _load(self, adapters: Mapping[str, Path | str]) -> None:
        from peft import PeftModel

        check_adapter_dirs(adapters)
        for name, path in adapters.items():
            try:
                if isinstance(self.model, PeftModel):
                    self.model.load_adapter(path, adapter_name=name)
                else:
                    self.model = PeftModel.from_pretrained(self.model, path, adapter_name=name)
            except (RuntimeError, ValueError, KeyError) as error:  # shapes or module names of another base
                reason = " ".join(str(error).split())[:300] + "…"
                raise ConfigError(
                    f"expert '{name}': the adapter {path} does not fit this base model: {reason}"
                ) from None
        self.model.eval()

    @property
    def device(self) -> Any:
        """The device the model's weights are on."""
        return self.model.device

    def start(self, max_batch: int) -> Batcher:
        """Serve from a batching thread decoding up to ``max_batch`` rows together (1 = one at a time)."""
        return Batcher(self, max_batch=max_batch)

    def run(self, rows: Sequence[Row], admit: Admit | None = None) -> None:
        """Decode ``rows`` together until each is done (each row's callbacks fire as it goes).

        With ``admit`` (continuous batching), after every step it is asked for more rows, given how many are
        decoding: those it returns are prefilled and join the batch at the next step.
        """
        import torch

        live = self._startable(rows)
        if not live:
            return
        with torch.inference_mode():
            batch = self._prefill(live)
            while True:
                chosen = self._pick(batch)
                if admit is not None and _mergeable(batch.cache):
                    chosen += self._admit(batch, admit)
                if not batch.rows:
                    return
                batch.mask = torch.cat([batch.mask, torch.ones_like(batch.mask[:, :1])], dim=1)
                batch.positions = batch.positions + 1
                ids = torch.tensor([[t] for t in chosen], device=self.device)
                self._forward(batch, ids, batch.positions)

    def _startable(self, rows: Sequence[Row]) -> list[Row]:
        for row in rows:
            if row.adapter != BASE_ADAPTER and row.adapter not in self.adapters:
                raise ConfigError(f"unknown adapter '{row.adapter}'; loaded: {self.adapters}")
        return [r for r in rows if not _ended_early(r, self.context)]

    def _prefill(self, rows: list[Row]) -> _Batch:
        """``rows``' prompts, left-padded to one width, through the model: their cache and first logits."""
        import torch
        from transformers import DynamicCache

        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        width = max(len(r.prompt_ids) for r in rows)
        ids = torch.tensor([[pad] * (width - len(r.prompt_ids)) + r.prompt_ids for r in rows], device=self.device)
        mask = torch.tensor([[0] * (width - len(r.prompt_ids)) + [1] * len(r.prompt_ids) for r in rows])
        mask = mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        batch = _Batch(rows, DynamicCache(), mask, positions[:, -1:])
        self._forward(batch, ids, positions)
        return batch

    def _forward(self, batch: _Batch, ids: Any, positions: Any) -> None:
        kwargs: dict[str, Any] = {"adapter_names": [r.adapter for r in batch.rows]} if self.adapters else {}
        out = self.model(
            input_ids=ids,
            attention_mask=batch.mask,
            position_ids=positions,
            use_cache=True,
            **{self._cache_arg: batch.cache},
            **kwargs,
        )
        batch.cache = getattr(out, self._cache_arg)
        batch.logits = out.logits[:, -1, :]

    def _pick(self, batch: _Batch) -> list[int]:
        """Each row's next token from the batch's logits; finished rows leave. Returns the tokens of those left."""
        chosen = []
        for i, row in enumerate(batch.rows):
            token = row.pick(batch.logits[i])
            is_eos = token in self.eos_ids
            text = row.text if is_eos else self._decode_text([*row.tokens, token])
            row.advance(token, text, is_eos)
            if row.finish_reason is None and batch.positions[i, -1] + 2 >= self.context:
                row.finish("length")
            chosen.append(token)
        keep = [i for i, row in enumerate(batch.rows) if row.finish_reason is None]
        if len(keep) < len(batch.rows):
            batch.select(keep)
        return [chosen[i] for i in keep]

    def _admit(self, batch: _Batch, admit: Admit) -> list[int]:
        """Prefill the rows ``admit`` hands over and add them to ``batch``; returns their first tokens."""
        fresh = self._startable(admit(len(batch.rows)))
        if not fresh:
            return []
        joining = self._prefill(fresh)
        chosen = self._pick(joining)
        batch.extend(joining)
        return chosen

    def _decode_text(self, tokens: list[int]) -> str:
        text: str = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return text


@dataclass
class _Batch:
    """Rows decoding together: their KV cache, attention mask (a column per cached position), each row's last
    position and next-token logits."""

    rows: list[Row]
    cache: Any
    mask: Any
    positions: Any
    logits: Any = None

    def select(self, keep: list[int]) -> None:
        """Keep only the rows at ``keep`` (the others' cache entries are dropped)."""
        import torch

        self.rows = [self.rows[i] for i in keep]
        if keep:
            index = torch.tensor(keep, device=self.mask.device)
            self.cache.batch_select_indices(index)
            self.mask, self.positions, self.logits = self.mask[index], self.positions[index], self.logits[index]

    def extend(self, other: _Batch) -> None:
        """Add ``other``'s rows: both caches and masks left-padded to the longer of the two, then stacked."""
        import torch

        if not self.rows:
            self.rows, self.cache, self.mask, self.positions = other.rows, other.cache, other.mask, other.positions
            return
        if not other.rows:
            return
        width = max(self.mask.shape[1], other.mask.shape[1])
        for mine, theirs in zip(self.cache.layers, other.cache.layers, strict=True):
            mine.keys = torch.cat([_left_pad(mine.keys, width, -2), _left_pad(theirs.keys, width, -2)])
            mine.values = torch.cat([_left_pad(mine.values, width, -2), _left_pad(theirs.values, width, -2)])
        self.mask = torch.cat([_left_pad(self.mask, width, 1), _left_pad(other.mask, width, 1)])
        self.positions = torch.cat([self.positions, other.positions])
        self.rows = self.rows + other.rows


def _left_pad(tensor: Any, width: int, dim: int) -> Any:
    """``tensor`` with zeros before its entries along ``dim`` up to ``width`` (masked-out cache positions)."""
    import torch

    missing = width - tensor.shape[dim]
    if missing == 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)


def _mergeable(cache: Any) -> bool:
    """Whether rows can join ``cache`` mid-batch: only plain dynamic layers (no sliding windows, no static
    buffers) can be left-padded and stacked; other caches keep batching per batch."""
    from transformers.cache_utils import DynamicLayer

    return all(type(layer) is DynamicLayer for layer in getattr(cache, "layers", [None]))


def _ended_early(row: Row, context: int) -> bool:
    """Finish rows that cannot start: cancelled before their turn, or no room left in the context window."""
    if row.cancelled:
        row.finish("cancelled")
    elif len(row.prompt_ids) >= context:
        row.finish("length")
    return row.finish_reason is not None
