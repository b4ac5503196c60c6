"""Training throughput of LoRA deltas on the tiny student architecture: tokens/s and padding share.

SFT with and without packing (TRL best-fit-decreasing, padding-free) and DPO (pairs padded per batch; TRL's DPO
packing needs FlashAttention, so it is not measured on CPU), on skills-world data. Ratios are against SFT without
packing, measured in the same process.

    .venv/bin/python bench/train_throughput.py [--records 256] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def main() -> None:
    """Train each variant once on the same data and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=256, help="Training records (pairs for DPO).")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads.")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    import torch

    from evoforge.config import TrainSettings
    from evoforge.console import set_verbosity
    from evoforge.offline.student import StudentBuildConfig, build_tiny_student
    from evoforge.offline.world import preference_records, seed_records
    from evoforge.training.dpo import DPODelta, DPODeltaConfig
    from evoforge.training.sft import SFTDelta, SFTDeltaConfig

    torch.set_num_threads(args.threads)
    set_verbosity(0)
    sft_records = [
        {"prompt": r["instruction"], "completion": r["output"], "category": r["category"]}
        for r in seed_records(args.records, 0)
    ]
    pairs = [dict(r) for r in preference_records(args.records, 0)]
    settings = TrainSettings(epochs=1.0, batch_size=args.batch_size, max_length=512)
    packed = settings.model_copy(update={"packing": True})
    run = {"seed": 0, "device": "cpu"}
    variants = [
        ("sft", False, SFTDelta(SFTDeltaConfig.from_settings(settings, **run)), sft_records),
        ("sft", True, SFTDelta(SFTDeltaConfig.from_settings(packed, **run)), sft_records),
        ("dpo", False, DPODelta(DPODeltaConfig.from_settings(settings, **run)), pairs),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        base = build_tiny_student(Path(tmp) / "student", config=StudentBuildConfig(steps=0, eval_tasks=0))
        rows = []
        for method, packing, trainer, records in variants:
            metrics = trainer.train(base, records, Path(tmp) / f"{method}-{packing}", chunk="bench")
            rows.append((method, packing, len(records), metrics))
    baseline = rows[0][3]["tokens_per_s"]
    print(f"tiny student architecture, {args.threads} threads, batch {args.batch_size}, 1 epoch")
    print(f"{'method':<6} {'packing':<8} {'records':>7} {'steps':>5} {'tokens':>8} {'tok/s':>8} "
          f"{'vs sft':>7} {'padding':>8} {'wall s':>7}")  # fmt: skip
    for method, packing, n, m in rows:
        print(
            f"{method:<6} {packing!s:<8} {n:>7} {m['steps']:>5} {m['tokens']:>8} {m['tokens_per_s']:>8.0f} "
            f"{m['tokens_per_s'] / baseline:>6.2f}x {m['padding_share']:>7.1%} {m['wall_seconds']:>7.1f}"
        )


if __name__ == "__main__":
    main()
