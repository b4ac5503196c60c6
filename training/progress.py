"""Watching a delta train: real and padded token slots of every batch, the progress bar (loss, tokens/s), and the
held-out metrics (before and after training, and after each epoch)."""

from __future__ import annotations

import time
from typing import Any


class TokenCounter:
    """Wraps a data collator to count real and padded token slots of every training batch."""

    def __init__(self, collator: Any, pad_id: int | None) -> None:
        self.collator, self.pad_id = collator, pad_id
        self.real = self.slots = 0

    def __call__(self, examples: list[Any]) -> Any:
        """Collate and count."""
        batch = self.collator(examples)
        ids = batch["input_ids"]
        mask = batch.get("attention_mask")
        self.slots += int(ids.numel())
        if mask is not None:
            self.real += int(mask.sum())
        else:  # padding-free packing: one flat row, nothing padded
            self.real += int((ids != self.pad_id).sum()) if self.pad_id is not None else int(ids.numel())
        return batch


def progress_callback(handle: Any, counter: TokenCounter, started: float) -> Any:
    """A transformers ``TrainerCallback`` advancing an evoforge progress bar with loss and tokens/s."""
    from transformers import TrainerCallback

    class _Progress(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            handle.advance(1)

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                rate = counter.real / max(time.perf_counter() - started, 1e-6)
                handle.note(f"loss {logs['loss']:.3f}  {rate:,.0f} tok/s")

    return _Progress()


EVAL_KEYS = ("eval_loss", "eval_mean_token_accuracy", "eval_rewards/margins", "eval_rewards/accuracies")


def eval_metrics(logs: dict[str, Any]) -> dict[str, float]:
    """Held-out loss (and DPO reward margin/accuracy) of an evaluation's logs, without timing noise."""
    return {k.removeprefix("eval_"): round(float(v), 5) for k, v in logs.items() if k in EVAL_KEYS}


def epoch_evals(log_history: list[dict[str, Any]]) -> list[dict[str, float]]:
    """The evaluations a trainer logged while training (``eval_strategy="epoch"``: one per epoch), with their epoch."""
    return [{"epoch": round(h["epoch"], 2), **eval_metrics(h)} for h in log_history if "eval_loss" in h]
