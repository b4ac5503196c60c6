"""IFD — instruction-following difficulty (Cherry_LLM) — scored in batches, and Self-Evolution's selection modes.

``IFD(Q, A) = s(A | Q) / s(A)`` with ``s`` the mean cross-entropy over the answer tokens only. Variants:

- ``cherry`` (default): conditioned text = the prompt (chat template around the instruction [+ input], or Cherry's
  ``instruction [\\nInput:input] \\n\\n### Response:`` when the tokenizer has no template) + answer; direct text = the
  answer behind the response header alone (the template around an *empty* user turn, or ``### Response:``).
- ``superfiltering``: perplexity ratio ``exp s(A|Q) / exp s(A)`` with the bare answer as the direct text.
- ``self_evolution``: the *question* (``input``) only in Self-Evolution's Alpaca-style prompt, ``### Response:``
  direct text (score it with the base model, as Self-Evolution does).

Prompt and answer are tokenised separately and concatenated, so both texts score the very same answer tokens; a
sequence longer than ``max_length`` loses answer tokens from its end (in both texts). Scoring batches many
sequences at once (sorted by length, right padding, answer-token masks). Its per-sample reference, written the way
Cherry_LLM scores (one sample, two forward passes), is test code: ``evoforge.testing.ifd_reference`` (the
correctness oracle of ``tests/unit/test_evals_ifd.py`` and the baseline of ``bench/ifd_throughput.py``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from evoforge.errors import ConfigError
from evoforge.evals.batched_generation import render_prompt, token_batches

if TYPE_CHECKING:
    from evoforge.console import ProgressHandle

Variant = Literal["cherry", "superfiltering", "self_evolution"]
Mode = Literal["random", "easy", "even", "hard", "all"]
VARIANTS: tuple[str, ...] = ("cherry", "superfiltering", "self_evolution")
MODES: tuple[str, ...] = ("random", "easy", "even", "hard", "all")

SELF_EVOLUTION_PROMPT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n### Input:\n{input}\n\n### Response:"
)
RESPONSE_HEADER = "### Response:"


@dataclass(frozen=True)
class IFDScore:
    """Mean answer-token losses with and without the instruction, their ratio, and how many tokens were scored."""

    ifd: float | None
    loss_conditioned: float | None
    loss_direct: float | None
    answer_tokens: int


def _texts(tokenizer: Any, record: dict[str, Any], variant: str) -> tuple[str, str, bool]:
    """(conditioned prompt, direct prefix, whether the prompt texts carry their own special tokens)."""
    instruction = str(record.get("instruction") or record.get("prompt") or "")
    extra = str(record.get("input") or "")
    if variant == "self_evolution":
        return SELF_EVOLUTION_PROMPT.format(input=extra or instruction), RESPONSE_HEADER, False
    templated = bool(getattr(tokenizer, "chat_template", None))
    if templated:
        message = f"{instruction}\n{extra}" if extra else instruction
        prompt, header = render_prompt(tokenizer, message), render_prompt(tokenizer, "")
    else:
        question = f"{instruction}\nInput:{extra}" if extra else instruction
        prompt = f"{question}\n\n{RESPONSE_HEADER}"
        header = RESPONSE_HEADER
    return prompt, ("" if variant == "superfiltering" else header), templated


def encode_pair(
    tokenizer: Any, record: dict[str, Any], variant: str = "cherry", max_length: int = 512
) -> tuple[tuple[list[int], int], tuple[list[int], int]]:
    """The conditioned and direct token sequences of ``record``, each as ``(ids, index of the first answer token)``."""
    if variant not in VARIANTS:
        raise ConfigError(f"unknown IFD variant '{variant}'; known: {', '.join(VARIANTS)}")
    prompt, header, templated = _texts(tokenizer, record, variant)
    special = not templated

    def ids(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=special)["input_ids"]) if text or special else []

    prompt_ids, header_ids = ids(prompt), ids(header)
    answer = record.get("output") or record.get("completion") or record.get("response") or ""
    answer_ids = list(tokenizer(str(answer), add_special_tokens=False)["input_ids"])
    answer_ids = answer_ids[: max(0, max_length - len(prompt_ids))]
    return (prompt_ids + answer_ids, len(prompt_ids)), (header_ids + answer_ids, len(header_ids))


def ifd_from_losses(conditioned: float | None, direct: float | None, n: int, variant: str) -> IFDScore:
    """The IFD of a record from its mean answer losses with (``conditioned``) and without (``direct``) the
    instruction, over ``n`` answer tokens; None when a loss is missing or the ratio is undefined."""
    if conditioned is None or direct is None:
        return IFDScore(None, conditioned, direct, n)
    if variant == "superfiltering":
        ifd = math.exp(conditioned) / math.exp(direct)
    else:
        ifd = conditioned / direct if direct > 0 else float("nan")
    return IFDScore(None if math.isnan(ifd) else ifd, conditioned, direct, n)


def answer_losses(
    model: Any,
    sequences: Sequence[tuple[list[int], int]],
    batch_size: int = 16,
    pad_id: int = 0,
    progress: ProgressHandle | None = None,
    max_tokens: int | None = None,
) -> list[float | None]:
    """Mean next-token cross-entropy over positions ``start..end`` of each sequence (None when there are none
    that can be predicted). Identical sequences are scored once; the rest in length-sorted right-padded batches
    of at most ``batch_size`` rows and ``max_tokens`` padded tokens."""
    import torch

    unique: dict[tuple[tuple[int, ...], int], int] = {}
    slots = [unique.setdefault((tuple(ids), max(1, start)), len(unique)) for ids, start in sequences]
    todo = [(list(ids), start) for ids, start in unique]
    copies = [0] * len(todo)
    for slot in slots:
        copies[slot] += 1
    results: list[float | None] = [None] * len(todo)
    device = next(model.parameters()).device
    for chunk in token_batches([len(ids) for ids, _ in todo], batch_size, max_tokens):
        idx = [i for i in chunk if len(todo[i][0]) - todo[i][1] > 0]
        if progress is not None:
            progress.advance(sum(copies[i] for i in chunk))
        if not idx:
            continue
        width = max(len(todo[i][0]) for i in idx)
        first = min(todo[i][1] for i in idx)  # first scored position of the batch
        input_ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
        targets = torch.full((len(idx), width - first + 1), -100, dtype=torch.long)
        for row, i in enumerate(idx):
            ids, start = todo[i]
            input_ids[row, : len(ids)] = torch.tensor(ids)
            targets[row, start - first : len(ids) - first] = torch.tensor(ids[start:])
        with torch.inference_mode():
            # Right padding under a causal mask needs no attention mask (the fast path), and only the logits that
            # predict answer tokens are computed (positions first-1 .. width-1; the last one predicts nothing).
            logits = model(input_ids=input_ids.to(device), logits_to_keep=width - first + 1).logits
        targets = targets[:, :-1].to(device)
        mask = targets != -100
        token_losses = torch.nn.functional.cross_entropy(logits[:, :-1][mask].float(), targets[mask], reduction="none")
        rows = mask.nonzero()[:, 0]
        sums = torch.zeros(len(idx), device=device).index_add_(0, rows, token_losses)
        means = sums / mask.sum(1)
        for row, i in enumerate(idx):
            results[i] = float(means[row])
    return [results[slot] for slot in slots]


def score_records(
    model: Any,
    tokenizer: Any,
    records: Sequence[dict[str, Any]],
    variant: str = "cherry",
    max_length: int = 512,
    batch_size: int = 16,
    progress: ProgressHandle | None = None,
    max_tokens: int | None = None,
) -> list[IFDScore]:
    """IFD of every record, batched: alpaca rows (``instruction``, ``input``, ``output``) or normalised ones
    (``prompt``, ``completion``). Batches hold at most ``batch_size`` rows and ``max_tokens`` padded tokens (on a CPU
    a few thousand tokens per batch is fastest); ``progress`` advances by sequences (two per record)."""
    pairs = [encode_pair(tokenizer, r, variant, max_length) for r in records]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    flat = [seq for pair in pairs for seq in pair]
    losses = answer_losses(model, flat, batch_size, pad, progress, max_tokens)
    return [
        ifd_from_losses(losses[2 * k], losses[2 * k + 1], len(cond[0]) - cond[1], variant)
        for k, (cond, _direct) in enumerate(pairs)
    ]


# -- selection --------------------------------------------------------------------------------------------------
def resolve_k(n: int, k: int | None, fraction: float | None) -> int:
    """How many to keep: ``k``, or ``fraction`` of ``n`` (at least 1); one of the two must be given."""
    if (k is None) == (fraction is None):
        raise ConfigError("give exactly one of k and fraction")
    if k is not None:
        if k < 1:
            raise ConfigError(f"k must be at least 1 (got {k})")
        return k
    assert fraction is not None
    if not 0 < fraction <= 1:
        raise ConfigError(f"fraction must be in (0, 1] (got {fraction})")
    return max(1, int(n * fraction))


def select(
    records: Sequence[dict[str, Any]],
    mode: str,
    k: int | None = None,
    fraction: float | None = None,
    *,
    drop_above_one: bool = False,
    seed: int = 0,
    key: str = "ifd",
) -> list[dict[str, Any]]:
    """Pick records by their IFD (field ``key``) as Self-Evolution's ``get_added_source_data`` does.

    Records are sorted by IFD, highest first (a missing IFD counts as 1, as there); then ``hard`` = the first k,
    ``easy`` = the last k, ``even`` = every ``max(1, N // k)``-th from the first (so it can return a few more than
    k, as Self-Evolution's does), ``random`` = k drawn with ``seed`` (all when k ≥ N), ``all`` = every record.
    ``drop_above_one`` first removes records with IFD > 1 or none (Cherry's filter: the instruction does not help).
    """
    if mode not in MODES:
        raise ConfigError(f"unknown selection mode '{mode}'; known: {', '.join(MODES)}")
    pool = [r for r in records if not drop_above_one or (r.get(key) is not None and r[key] <= 1)]
    ranked = sorted(pool, key=lambda r: 1.0 if r.get(key) is None else r[key], reverse=True)
    if mode == "all" or not ranked:
        return ranked
    count = resolve_k(len(ranked), k, fraction)
    if mode == "hard":
        return ranked[:count]
    if mode == "easy":
        return ranked[-count:]
    if mode == "even":
        return ranked[:: max(1, len(ranked) // count)]
    return ranked if count > len(ranked) else random.Random(seed).sample(ranked, count)
