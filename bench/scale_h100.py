"""The scale bench's extrapolation to real sizes on one H100, from FLOP and byte counts and measured token counts.

Not a measurement: a model with its assumptions printed beside it. Token counts per unit of work come from the
bench's largest measured 32k-vocabulary shape (the shapes' tokenizers are byte-level BPE trained on the same data,
so a record's token count barely moves with the vocabulary). Times:

- LoRA training ≈ 4·N FLOPs per token (forward 2N + the backward's input gradients 2N; the frozen weights get no
  gradient); DPO adds the reference model's forward (the adapters disabled): 6·N;
- IFD = two forward passes (conditioned and direct text): 2·N per scored token;
- greedy decoding of a batch of b: one step ≈ max(bf16 weight bytes / HBM bandwidth, layers × a per-layer
  kernel-launch floor of eager Hugging Face ``generate``, 2·N·b / FLOP/s); prefill is left out (prompts are short);
- a merge trial = one evaluation of its held-out split (adapter scales, nothing materialised);
- the simulated judge and the checkpoint store do not depend on the student: their measured cost carries over.
"""

from __future__ import annotations

import math
from typing import Any

PEAK_FLOPS = 989e12  # dense bf16, H100 SXM
UTILISATION = 0.35
HBM_BYTES_S = 3.35e12
LAUNCH_S_PER_LAYER = 0.25e-3  # ~20 kernels per decoder layer × ~12 µs each, eager PyTorch
TARGETS = ("qwen2.5-0.5b", "llama-3-8b")
EVAL_MAX_NEW, EVAL_BATCH, HELD_OUT = 48, 32, 100  # the eval section's defaults; a 100-item held-out split
TRAIN_BATCH, TRAIN_LENGTH, LORA_R = 16, 512, 8  # the train section's defaults
SERVE_TOKENS, SERVE_CONCURRENCY = 16, 8
IFD_BATCH = 16  # records per IFD batch: 32 sequences, the eval section's ifd_batch_size
GB = 1e9
FACTOR = {"sft": 4, "dpo": 6, "ifd": 2}  # FLOPs per parameter per token


def _per_unit(results: list[dict[str, Any]], shapes: list[str], phase: str) -> tuple[float, dict[str, Any]] | None:
    """Tokens per unit of work of ``phase`` on the largest measured non-tiny shape (its row kept too)."""
    rows = [r for r in results if r["phase"] == phase and "error" not in r and r["tokens"]]
    big = [r for r in rows if r["shape"] != "tiny"] or rows
    if not big:
        return None
    row = max(big, key=lambda r: (r["params"], r["work"]))
    return row["tokens"] / row["work"], row


def _lora_params(cfg: Any) -> int:
    d, inter, layers = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    kv = _kv_dim(cfg)
    per_layer = (d + d) + 2 * (d + kv) + (d + d) + 2 * (d + inter) + (inter + d)
    return int(LORA_R * per_layer * layers)


def _kv_dim(cfg: Any) -> int:
    return int(cfg.num_key_value_heads * (getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads))


def _batched(tokens: float, batch: int, factor: int, n: int, layers: int) -> float:
    """Seconds for 1,000 units of ``tokens`` each in batches of ``batch`` units: a batch costs its FLOPs
    (``factor``·N per token) or, when more, the launch floor of its ``factor // 2`` passes over the layers."""
    per_batch = max(batch * tokens * factor * n / (PEAK_FLOPS * UTILISATION), factor // 2 * layers * LAUNCH_S_PER_LAYER)
    return math.ceil(1000 / batch) * per_batch


def _step(n: int, layers: int, batch: int) -> float:
    flops = PEAK_FLOPS * UTILISATION
    return max(2 * n / HBM_BYTES_S, layers * LAUNCH_S_PER_LAYER, 2 * n * batch / flops)


def extrapolate(results: list[dict[str, Any]], shapes: list[str]) -> list[str]:
    """The extrapolation section: the assumptions, each target's time per unit of work and its memory."""
    try:
        from evoforge.offline.shapes import parameter_count, shape_config
    except ImportError:
        return ["## Extrapolation: needs evoforge.offline.shapes (not in this checkout)", ""]
    out = [
        "## EXTRAPOLATION (a model, not a measurement): one H100, bf16",
        "",
        f"Assumptions: dense bf16 peak {PEAK_FLOPS / 1e12:.0f} TFLOP/s at {UTILISATION:.0%} utilisation; HBM "
        f"{HBM_BYTES_S / 1e12:.2f} TB/s; decode step = max(weights/bandwidth, layers × {LAUNCH_S_PER_LAYER * 1e3} ms "
        f"launch floor, 2·N·batch/FLOP/s); LoRA r {LORA_R} on every linear layer; training 4·N FLOPs/token (DPO "
        f"6·N), IFD 2·N, a training or IFD batch at least its passes × layers × the launch floor (batch "
        f"{TRAIN_BATCH} records or pairs, IFD {IFD_BATCH} records); eval batch {EVAL_BATCH}, {EVAL_MAX_NEW} new "
        "tokens (random weights: always all of them); "
        f"a merge trial scores a {HELD_OUT}-item held-out split; serving at concurrency {SERVE_CONCURRENCY}, "
        f"{SERVE_TOKENS} tokens a request. Token counts per unit are measured (source rows below).",
        "",
    ]
    measured = {p: _per_unit(results, shapes, p) for p in ("sft", "dpo", "ifd")}
    src = [[p, m[1]["shape"], m[1]["work"], m[0], FACTOR[p] * m[1]["params"] * m[1]["tokens"] / m[1]["wall_s"] / 1e9]
           for p, m in measured.items() if m]  # fmt: skip
    out += [*table(["phase", "token source shape", "work", "tokens per unit", "achieved GFLOP/s here"], src), ""]
    rows = []
    for name in TARGETS:
        cfg, n = shape_config(name), parameter_count(name)
        layers, vocab = cfg.num_hidden_layers, cfg.vocab_size
        per = {p: m[0] for p, m in measured.items() if m}
        batches = math.ceil(1000 / EVAL_BATCH)
        row: list[Any] = [name, f"{n / 1e9:.2f}B"]
        for phase, batch in (("sft", TRAIN_BATCH), ("dpo", TRAIN_BATCH), ("ifd", IFD_BATCH)):
            row.append(_batched(per[phase], batch, FACTOR[phase], n, layers) if phase in per else None)
        row.append(batches * EVAL_MAX_NEW * _step(n, layers, EVAL_BATCH))
        row.append(math.ceil(HELD_OUT / EVAL_BATCH) * EVAL_MAX_NEW * _step(n, layers, EVAL_BATCH))
        row.append(SERVE_CONCURRENCY / (SERVE_TOKENS * _step(n, layers, SERVE_CONCURRENCY)))
        kv_dim = _kv_dim(cfg)
        logits = 2 * TRAIN_BATCH * TRAIN_LENGTH * vocab * 4  # fp32 logits and their gradient
        acts = layers * TRAIN_BATCH * TRAIN_LENGTH * cfg.hidden_size * 2  # one checkpointed bf16 input per layer
        train_mem = 2 * n + 16 * _lora_params(cfg) + logits + acts
        kv = 2 * layers * kv_dim * 2 * EVAL_BATCH * (TRAIN_LENGTH + EVAL_MAX_NEW)
        row += [2 * n / GB, logits / GB, train_mem / GB, (2 * n + kv) / GB]
        rows.append(row)
    header = ["target", "params", "SFT s/1k records", "DPO s/1k pairs", "IFD s/1k records", "eval s/1k items",
              "merge trial s", "serve req/s c=8", "bf16 weights GB", "train logits GB (b16×512)",
              "train peak GB", "eval peak GB (b32×560 KV)"]  # fmt: skip
    out += table(header, rows)
    out += [
        "",
        "Training peak = bf16 weights + LoRA params, grads and Adam state (16 B each) + fp32 logits and their "
        f"gradient for a batch of {TRAIN_BATCH}×{TRAIN_LENGTH} tokens + one checkpointed activation per layer "
        "(gradient checkpointing). Eval peak = weights + the KV cache of one batch at 512 prompt + 48 new tokens.",
        "",
    ]
    return out


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
