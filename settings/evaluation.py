"""The ``eval`` section: how students are evaluated (metric, generation batches, IFD, the test set)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from evoforge.settings.sections import Section

# Padded tokens per generate batch by default: keeps the eval default (32 prompts of ≤ 464 tokens + 48 new) in one
# batch, and bounds a batch's KV cache at 16k × 2 × layers × kv width (2 GB in bf16 for llama-3-8b).
MAX_BATCH_TOKENS = 16_384


class EvalSettings(Section):
    """Evaluation of students on held-out sets."""

    metric: str = Field(
        "exact_match",
        description="Per-example score (see evals/metrics.py): exact_match, numeric, bleu4 (characters), bleu4_word, "
        "rouge_1, rouge_2, rouge_l (bleu4*/rouge_* are 0..100), judge (the LLM judge's pass rate, through llm), or "
        "a scorer of yours as 'module:function' (a callable (prediction, reference) -> float in 0..1).",
    )

    @field_validator("metric")
    @classmethod
    def _metric_name(cls, value: str) -> str:
        known = ("exact_match", "numeric", "bleu4", "bleu4_word", "rouge_1", "rouge_2", "rouge_l", "judge")
        module, sep, function = value.partition(":")
        if value in known or (sep and function.isidentifier() and all(p.isidentifier() for p in module.split("."))):
            return value
        raise ValueError(f"expected one of {', '.join(known)}, or a scorer 'module:function'")

    max_new_tokens: int = Field(48, gt=0)
    batch_size: int = Field(32, gt=0, description="Most prompts per generate batch (evaluation, Self-Evolution's Q&A).")
    max_batch_tokens: int | None = Field(
        MAX_BATCH_TOKENS,
        gt=0,
        description="Most padded tokens per generate batch: rows × (longest prompt + max_new_tokens), what the KV "
        "cache and the prefill grow with (16k: a few MB of cache on the tiny students, 2 GB in bf16 on an 8B "
        "Llama); None = rows alone bound a batch. Batching never changes greedy outputs.",
    )
    backend: Literal["transformers", "vllm"] = Field("transformers", description="vllm needs the vllm extra.")
    ifd_variant: Literal["cherry", "superfiltering", "self_evolution"] = Field("cherry")
    ifd_max_length: int = Field(512, gt=8, description="Tokens of prompt + answer scored by IFD.")
    ifd_batch_size: int = Field(32, gt=0, description="Most sequences per IFD scoring batch.")
    ifd_max_tokens: int | None = Field(
        2048, gt=0, description="Most padded tokens per IFD batch (a few thousand suit a CPU; raise it on a GPU)."
    )
    test_path: str | None = Field(
        None,
        description="The user's fixed test set (any supported data format), scored every round and never searched "
        "on or trained on. None: the skills world's test set offline, else eval.test_size seeds carved off.",
    )
    test_size: int = Field(
        50, gt=0, description="With evolve.data_path and no test_path: seeds carved off at round 1 as the test set."
    )
