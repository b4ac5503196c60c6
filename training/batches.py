"""How many sequences one forward pass of a delta's training holds: a token budget per micro-batch, and gradient
accumulation that keeps ``train.batch_size`` × ``train.gradient_accumulation_steps`` sequences per optimiser step.

A step of ``batch_size`` sequences is cut into micro-batches of ``rows`` sequences, ``rows`` the largest divisor
of ``batch_size`` whose padded tokens (rows × the chunk's longest sequence) fit the budget; the trainer accumulates
their gradients (over ``gradient_accumulation_steps`` such batches). The sampler groups by length over the whole
step and TRL normalises the loss by the step's tokens, so a step trains on the same sequences with the same loss as
one batch would (up to float summation order).

The default budget (``train.max_batch_tokens`` None) follows where the memory goes. On a CPU, TRL's fused LM head
(log-probabilities in tiles, never the whole logits) still builds each tile as float32 tokens × vocabulary and
about ten temporaries of its size in the forward and backward pass; the budget is therefore
:data:`LOGITS_PER_BATCH` logits per micro-batch: 16,384 tokens with the tiny students' 1,024-token vocabulary (their
batches never split), 524 with a 32k one. On a GPU TRL's Triton kernel streams the tiles and activation
checkpointing is on, so no bound applies unless one is set.
"""

from __future__ import annotations

from dataclasses import dataclass

LOGITS_PER_BATCH = 2**24  # float32 logits of one micro-batch's tokens × vocabulary: 64 MB per temporary


@dataclass(frozen=True)
class BatchPlan:
    """Sequences per forward pass (``rows``) and micro-batches per optimiser step (``accumulation``)."""

    rows: int
    accumulation: int


def token_budget(max_batch_tokens: int | None, vocab_size: int, cpu: bool) -> int | None:
    """The padded tokens one micro-batch may hold: ``max_batch_tokens`` when set, else on a CPU
    :data:`LOGITS_PER_BATCH` over the vocabulary, else none."""
    if max_batch_tokens is not None:
        return max_batch_tokens
    return LOGITS_PER_BATCH // vocab_size if cpu else None


def plan_batches(batch_size: int, row_tokens: int, max_tokens: int | None, batches: int = 1) -> BatchPlan:
    """The largest divisor of ``batch_size`` whose rows of ``row_tokens`` padded tokens fit ``max_tokens`` (one
    row at least), and the accumulation that makes up ``batches`` batches of ``batch_size``."""
    if max_tokens is None:
        return BatchPlan(batch_size, batches)
    fits = [d for d in range(1, batch_size + 1) if batch_size % d == 0 and d * row_tokens <= max_tokens]
    rows = max(fits, default=1)
    return BatchPlan(rows, batch_size // rows * batches)
