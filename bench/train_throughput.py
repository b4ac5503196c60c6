"""Training throughput of LoRA deltas on the tiny student architecture: tokens/s and padding share.

SFT with and without packing (TRL best-fit-decreasing, padding-free) and DPO (pairs padded per batch; TRL's DPO
packing needs FlashAttention, so it is not measured on CPU), on skills-world data. Ratios are against SFT without
packing, measured in the same process.

    .venv/bin/python bench/train_throughput.py [--records 256] [--threads 2]

With ``--ray-workers 1,2`` it measures instead ``train.backend: ray``: four SFT deltas planned at once (as a cycle
round's branches submit them), each a Ray task of one CPU, on a local Ray cluster of 1 then 2 CPUs; ratios are
against one worker.
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
    parser.add_argument("--ray-workers", default="", help="e.g. 1,2: Ray cluster sizes for train.backend ray.")
    args = parser.parse_args()
    if args.ray_workers:
        ray_table([int(n) for n in args.ray_workers.split(",")], args.records, args.batch_size)
        return

    import torch

    from evoforge.console import set_verbosity
    from evoforge.offline.tiny_builds import StudentBuildConfig, build_tiny_student
    from evoforge.offline.world import preference_records, seed_records
    from evoforge.settings import TrainSettings
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


def ray_table(workers: list[int], n_records: int, batch_size: int, n_deltas: int = 4) -> None:
    """Train ``n_deltas`` SFT deltas as Ray tasks (one CPU each) on clusters of ``workers`` CPUs; print the table."""
    import json
    import time
    from concurrent.futures import ThreadPoolExecutor

    import ray

    from evoforge.console import set_verbosity
    from evoforge.offline.tiny_builds import StudentBuildConfig, build_tiny_student
    from evoforge.offline.world import seed_records
    from evoforge.settings import TrainSettings
    from evoforge.training.deltas import DeltaJob, train_planned

    set_verbosity(0)
    settings = TrainSettings(epochs=1.0, batch_size=batch_size, backend="ray", ray_num_cpus=1, ray_num_gpus=0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = build_tiny_student(Path(tmp) / "student", config=StudentBuildConfig(steps=0, eval_tasks=0))
        chunks = Path(tmp) / "chunks"
        chunks.mkdir()
        for i in range(n_deltas):
            rows_i = [{"prompt": r["instruction"], "completion": r["output"]} for r in seed_records(n_records, i)]
            (chunks / f"c{i}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows_i), encoding="utf-8")
        jobs = [DeltaJob(f"c{i}", "sft") for i in range(n_deltas)]
        for n in workers:
            ray.init(num_cpus=n, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
            out = Path(tmp) / f"adapters-{n}"
            start = time.perf_counter()
            with ThreadPoolExecutor(n_deltas) as pool:  # the cycle's branches, each waiting on its task
                list(pool.map(lambda job: train_planned(job, base, chunks, out, settings), jobs))  # noqa: B023
            rows.append((n, time.perf_counter() - start))
            ray.shutdown()
    print(f"{n_deltas} SFT deltas of {n_records} records as Ray tasks (1 CPU each), tiny student, batch {batch_size}")
    print(f"{'ray CPUs':>8} {'wall s':>7} {'deltas/min':>10} {'speed-up':>8}")
    for n, wall in rows:
        print(f"{n:>8} {wall:>7.1f} {60 * n_deltas / wall:>10.2f} {rows[0][1] / wall:>7.2f}x")


if __name__ == "__main__":
    main()
