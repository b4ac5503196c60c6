"""IFD throughput: batched scoring vs the per-sample loop Cherry_LLM uses (one sample, two forward passes).

Model: the tiny student's architecture (evoforge.training.student defaults, random init — throughput does not
depend on the weights), or ``--model DIR`` (a Hugging Face model directory, e.g. from ``evoforge student init``),
on ``--device`` (cpu, cuda; float32 on CPU, bfloat16 on a GPU, as :func:`load_student` loads it). Data: skills-world
seed records (short answers, ``cherry`` variant) and the Self-Evolution AIOps evaluation set (long Chinese answers,
``self_evolution`` variant, max length 512 byte tokens; ``--aiops FILE``, skipped when missing).

Rows: ``per-sample`` = ``score_unbatched`` of ``evoforge.testing.ifd_reference``, the tests' per-sample reference (two
forward passes with ``labels``, the model's mean loss — the baseline); ``cherry as written`` = the same plus
Cherry's per-token Python loop over the logits (what its script also does); ``batched bs=N`` =
:func:`score_records` with N rows per batch; ``batched ≤T tokens`` = batches cut at T padded tokens instead.
Ratios are against ``per-sample`` measured in this process. On a GPU each table ends with the CUDA peak allocated.

    .venv/bin/python bench/ifd_throughput.py [--n 128] [--n-long 48] [--repeats 2] [--threads 2]
    python bench/ifd_throughput.py --device cuda --model /tmp/qwen --aiops .whl/AIOps_eval_data.json  # GPU check
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from evoforge.evals.ifd import encode_pair, score_records
from evoforge.testing.ifd_reference import score_unbatched

AIOPS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "self-evolution" / "AIOps_eval_data.json"


def cherry_as_written(model: Any, tokenizer: Any, record: dict[str, Any], variant: str, max_length: int) -> float:
    """Cherry_LLM's get_perplexity_and_embedding_part_text twice: forward with labels, then token losses one by one."""
    losses = []
    for ids, start in encode_pair(tokenizer, record, variant, max_length):
        input_ids = torch.tensor([ids], device=model.device)
        labels = input_ids.clone()
        labels[0, :start] = -100
        with torch.no_grad():
            out = model(input_ids, labels=labels)
        log_softmax = torch.nn.LogSoftmax(dim=-1)
        nll = torch.nn.NLLLoss(reduction="none")
        token_losses = [
            nll(log_softmax(out.logits[0, i - 1]).unsqueeze(0), input_ids[0, i].unsqueeze(0)).item()
            for i in range(1, input_ids.shape[1])
        ]
        losses.append(sum(token_losses[start - 1 :]) / max(1, len(token_losses[start - 1 :])))
    return losses[0] / losses[1]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds taken by ``fn()`` and its result."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def run(
    name: str, model: Any, tokenizer: Any, records: list[dict[str, Any]], variant: str, max_length: int, repeats: int
) -> None:
    """Time each scorer on ``records`` (best of ``repeats``, methods interleaved) and print one table."""
    n, k = len(records), min(len(records), 16)
    methods: dict[str, Callable[[], Any]] = {
        "per-sample (baseline)": lambda: [score_unbatched(model, tokenizer, r, variant, max_length) for r in records],
        f"cherry as written ({k} samples)": lambda: [
            cherry_as_written(model, tokenizer, r, variant, max_length) for r in records[:k]
        ],
    }
    for bs in (8, 32):
        methods[f"batched bs={bs}"] = lambda bs=bs: score_records(model, tokenizer, records, variant, max_length, bs)
    for budget in (512, 1024, 2048):
        methods[f"batched ≤{budget} tokens"] = lambda budget=budget: score_records(
            model, tokenizer, records, variant, max_length, 256, max_tokens=budget
        )
    best: dict[str, float] = {}
    results: dict[str, Any] = {}
    cuda = model.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    for _ in range(repeats):
        for label, fn in methods.items():
            secs, results[label] = timed(fn)
            scale = n / k if label.startswith("cherry") else 1.0
            best[label] = min(best.get(label, float("inf")), secs * scale)
    base = results["per-sample (baseline)"]
    tokens = sum(len(c[0]) + len(d[0]) for c, d in (encode_pair(tokenizer, r, variant, max_length) for r in records))
    print(f"\n{name}: {n} samples, variant={variant}, {tokens / n:.0f} tokens/sample (both texts), max {max_length}")
    print(f"{'method':34} {'samples/s':>10} {'vs per-sample':>14} {'max |ΔIFD|':>11}")
    for label, secs in best.items():
        got = results[label]
        diff = (
            max(abs((a.ifd or 0.0) - (b.ifd or 0.0)) for a, b in zip(got, base, strict=True))
            if label.startswith(("batched", "per-sample"))
            else float("nan")
        )
        print(f"{label:34} {n / secs:10.1f} {best['per-sample (baseline)'] / secs:13.2f}x {diff:11.2e}")
    if cuda:
        print(f"CUDA max allocated over the table: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")


def main() -> None:
    """Build the model, load both data sets, print both tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=128, help="skills-world samples")
    parser.add_argument("--n-long", type=int, default=48, help="Self-Evolution AIOps samples (long)")
    parser.add_argument("--repeats", type=int, default=2, help="best of this many timings per method")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--model", type=Path, help="a Hugging Face model directory (default: tiny-student shape)")
    parser.add_argument("--aiops", type=Path, default=AIOPS, help="Self-Evolution's AIOps_eval_data.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from evoforge.offline.tiny_builds import StudentBuildConfig, init_student
    from evoforge.offline.world import seed_records
    from evoforge.training.student import load_student

    if args.model is not None:
        model, tokenizer = load_student(args.model, device=args.device)
        name = str(args.model)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            model, tokenizer = load_student(init_student(StudentBuildConfig(), Path(tmp) / "student"), args.device)
        name = "tiny-student architecture"
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {name}, {params / 1e6:.2f}M parameters, {model.dtype} on {model.device}, threads={args.threads}")
    run("skills world", model, tokenizer, seed_records(args.n, seed=0), "cherry", 512, args.repeats)
    if args.n_long and not args.aiops.is_file():
        print(f"\nSelf-Evolution AIOps eval: skipped, {args.aiops} is missing")
    elif args.n_long:
        aiops = json.loads(args.aiops.read_text(encoding="utf-8"))
        run("Self-Evolution AIOps eval", model, tokenizer, aiops[: args.n_long], "self_evolution", 512, args.repeats)


if __name__ == "__main__":
    main()
