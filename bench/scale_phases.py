"""One measurement of ``bench/scale.py``, run in a fresh process so that its peak memory is its own.

    .venv/bin/python bench/scale_phases.py PHASE MODEL_DIR WORK DEVICE [THREADS]

``MODEL_DIR`` holds the shape's model and, under ``MODEL_DIR/adapters/``, four random LoRA adapters written by
:func:`prepare` (``python bench/scale_phases.py prepare MODEL_DIR 0 cpu``); torch uses THREADS CPU threads
(default 1). Every phase goes through evoforge's own code path, the one the cycle calls; its work is timed from
after the imports, model loading included (except ``judge`` and ``serve``, timed after a warm-up, and
``checkpoint``, a whole ``evoforge run``). The last line printed is a JSON object: ``wall_s``, ``rss_base_mb``
(after the imports), ``rss_peak_mb`` (VmHWM), ``cuda_peak_mb``, ``params``, ``tokens`` (the work's tokens)
and the phase's own figures.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
MAX_NEW_TOKENS = 16  # generation, merge trials and serving: random weights always run to this many tokens
EVAL_ITEMS = 8  # the merge trial's held-out set
N_ADAPTERS = 4
CYCLE = [  # the checkpoint phase's reduced cycle (tests/integration/small_runs.py's, smaller)
    "world.n_seeds=12",
    "evolve.train_size=6",
    "evolve.dev_size=6",
    "evolve.batch_size=3",
    "evolve.max_steps=1",
    "evolve.loop=1",
    "evolve.candidate_size=2",
    "world.n_eval=8",
    "world.n_prefs=4",
    "train.epochs=1",
    "merge.trials=5",
    f"eval.max_new_tokens={MAX_NEW_TOKENS}",
]


def _rss_mb(field: str = "VmRSS") -> float:
    """This process's resident set (``VmRSS``) or its peak (``VmHWM``: unlike ru_maxrss, which Linux carries over
    ``exec`` from the parent, it is this process's own), in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(x for x in status if x.startswith(f"{field}:"))
    return int(line.split()[1]) / 1024


def _adapters(base: Path) -> dict[str, Path]:
    return {f"delta_{i}": base / "adapters" / f"delta_{i}" for i in range(1, N_ADAPTERS + 1)}


def prepare(base: Path) -> None:
    """Write the shape's four random LoRA adapters (every linear layer, r 8: the train section's defaults), with
    ``bench/merge_search.py``'s helper."""
    from merge_search import _random_adapters

    _random_adapters(base, base / "adapters", N_ADAPTERS)


def _train(base: Path, method: str, rows: list[dict[str, Any]], device: str, tmp: Path) -> dict[str, Any]:
    """One delta through the cycle's path (``training.deltas.train_planned``), one epoch, the other defaults."""
    from evoforge.data.chunking import write_chunks
    from evoforge.data.formats import load_examples
    from evoforge.runs import atomic_write_jsonl
    from evoforge.settings import TrainSettings
    from evoforge.training.deltas import DeltaJob, train_planned

    atomic_write_jsonl(tmp / "rows.jsonl", rows)
    write_chunks(tmp, {"bench": load_examples(tmp / "rows.jsonl")}, [])
    job = DeltaJob("bench", method)
    result = train_planned(job, base, tmp / "chunks", tmp / "adapters", TrainSettings(epochs=1), device=device)
    m = result.metrics
    return {"tokens": m["tokens"], "steps": m["steps"], "padding": m["padding_share"]}


def sft(base: Path, work: int, device: str, tmp: Path, meter: Meter) -> dict[str, Any]:
    """Train one SFT delta on ``work`` skills-world seed records."""
    from evoforge.offline.world import seed_records

    return _train(base, "sft", seed_records(work, 0), device, tmp)


def dpo(base: Path, work: int, device: str, tmp: Path, meter: Meter) -> dict[str, Any]:
    """Train one DPO delta on ``work`` preference pairs."""
    from evoforge.offline.world import preference_records

    return _train(base, "dpo", preference_records(work, 0), device, tmp)


def _merge_job(base: Path, adapters: dict[str, Path], device: str, tmp: Path, trials: int) -> Any:
    from evoforge.merging.job import MergeJob
    from evoforge.merging.search import study_location
    from evoforge.offline.world import eval_records
    from evoforge.runs import atomic_write_jsonl
    from evoforge.settings import MergeSettings

    atomic_write_jsonl(tmp / "eval.jsonl", eval_records(EVAL_ITEMS, 0))
    (tmp / "merge").mkdir(exist_ok=True)
    storage, name = study_location(None, tmp / "merge", 1, "bench")
    return MergeJob(
        base=base,
        adapters=adapters,
        eval_path=tmp / "eval.jsonl",
        batch_size=32,
        max_new_tokens=MAX_NEW_TOKENS,
        device=device,
        settings=MergeSettings(trials=trials, workers=1),
        storage=storage,
        study_name=name,
    )


def merge(base: Path, work: int, device: str, tmp: Path, meter: Meter) -> dict[str, Any]:
    """A merge search of ``work`` trials over two deltas with a third as train@all (``merging.job.run_job``, as
    each round's merge node calls it); every trial scores the held-out set."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from evoforge.merging.job import run_job
    from evoforge.merging.lora import load_delta
    from evoforge.merging.trial import TrialRunner
    from evoforge.runs import RunDir

    *searched, train_all = list(_adapters(base).items())[:3]
    job = _merge_job(base, dict(searched), device, tmp, work).model_copy(update={"train_all": train_all[1]})
    run_job(job, RunDir(tmp))
    deltas = [load_delta(path, None, name) for name, path in job.all_deltas().items()]
    with torch.device("meta"):  # the path a trial takes (auto: by dense ΔW bytes against the model's own)
        shape = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(base))
    runner = TrialRunner(shape, deltas, float)
    path, dense = runner.linear_path, runner.dense_bytes()
    evaluations = work + 2  # the trials and the raw and train@all references
    return {"tokens": evaluations * EVAL_ITEMS * MAX_NEW_TOKENS, "linear_path": path, "dense_mb": dense / 2**20}


def generate(base: Path, work: int, device: str, tmp: Path, meter: Meter) -> dict[str, Any]:
    """Evaluate the raw student on ``work`` test items, as a round's test evaluation does (the merge job's
    resident generator, ``evals.harness.evaluate``; exact match)."""
    from evoforge.evals.batched_generation import Generator
    from evoforge.evals.harness import evaluate
    from evoforge.offline.world import eval_records

    job = _merge_job(base, {}, device, tmp, 1)
    gen = Generator(job.base, None, job.device, job.batch_size, job.max_new_tokens)  # as generator_runner builds it
    report = evaluate(gen, eval_records(work, 1), "exact_match")
    return {"tokens": work * MAX_NEW_TOKENS, "score": report.score}


def ifd(base: Path, work: int, device: str, tmp: Path, meter: Meter) -> dict[str, Any]:
    """Self-Evolution's IFD of ``work`` Q&A records (``selfevolve.rounds.score_ifd``, the config's defaults)."""
    import torch

    from evoforge.evals.ifd import encode_pair
    from evoforge.offline.world import seed_records
    from evoforge.self_evolve.rounds import score_ifd
    from evoforge.settings import Config

    config = Config()
    config.student.device = device
    config.student.threads = torch.get_num_threads()
    rows = seed_records(work, 2)
    scores = score_ifd(config, base, rows)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    length = config.self_evolve.ifd_max_length
    pairs = [encode_pair(tokenizer, r, "self_evolution", length) for r in rows]
    return {"tokens": sum(len(ids) for pair in pairs for ids, _ in pair), "scored": sum(s is not None for s in scores)}


def judge(base: Path, work: int, device: str, tmp: Path, meter: Meter) -> dict[str, Any]:
    """The judge's grades of ``work`` answers through the gateway and the simulated LLM (no response cache)."""
    from evoforge.data.records import Example
    from evoforge.evals.judging import judge_set
    from evoforge.llm.gateway import LLMGateway
    from evoforge.offline.world import eval_records
    from evoforge.settings import LLMSettings

    items = [Example.for_eval(r["prompt"], r["reference"], r["category"]) for r in eval_records(work + 1, 3)]
    answers = [it.reference if k % 2 else "no idea" for k, it in enumerate(items)]
    gateway = LLMGateway(LLMSettings(cache=False))
    asyncio.run(judge_set(gateway, items[:1], answers[:1]))  # warm-up: LiteLLM's import and the provider
    meter.start()
    report = asyncio.run(judge_set(gateway, items[1:], answers[1:]))
    gateway.close()
    return {"tokens": 0, "pass_rate": report.pass_rate}


def serve(base: Path, work: int, device: str, tmp: Path, meter: Meter) -> dict[str, Any]:
    """``work`` chat requests at concurrency 8 over four LoRA experts on the LMoE server (``bench/serve.py``)."""
    spec = importlib.util.spec_from_file_location("bench_serve", BENCH / "serve.py")
    assert spec is not None and spec.loader is not None
    bench_serve = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_serve)
    from evoforge.serve.api import create_app
    from evoforge.serve.background import BackgroundServer
    from evoforge.serve.experts import Expert
    from evoforge.serve.lmoe import RouterSettings, build_lmoe

    experts = [Expert(name, path) for name, path in zip(bench_serve.EXPERTS, _adapters(base).values(), strict=True)]
    lmoe = build_lmoe(base, experts, router=RouterSettings(kind="none"), device=device)
    with BackgroundServer(create_app(lmoe, max_batch=32)) as server:
        asyncio.run(bench_serve._level(server.url, 1, 2, MAX_NEW_TOKENS))  # warm-up
        meter.start()
        seconds, _ = asyncio.run(bench_serve._level(server.url, 8, work, MAX_NEW_TOKENS))
    return {"tokens": work * MAX_NEW_TOKENS, "req_s": work / seconds}


def checkpoint(base: Path, work: int, device: str, tmp: Path, meter: Meter) -> dict[str, Any]:
    """A reduced cycle of ``work`` rounds on the tiny student (``evoforge run``): what its LangGraph checkpoint
    database (``checkpoints.sqlite``) holds once each round is over: checkpoint and write rows and their bytes."""
    sets = [a for item in [*CYCLE, f"cycle.rounds={work}", f"cycle.patience={work}"] for a in ("--set", item)]
    cmd = [sys.executable, "-m", "evoforge.cli", "-q", "run", "--runs-dir", str(tmp), "--run-id", "ck", *sets]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"evoforge run failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    by_round = _stored(tmp / "ck" / "checkpoints.sqlite", work)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    files = sum(p.stat().st_size for p in (tmp / "ck").glob("checkpoints.sqlite*"))
    return {"tokens": 0, "bytes_by_round": [b for b, _, _ in by_round], "rows_by_round": [r for _, r, _ in by_round],
            "largest_by_round": [m for _, _, m in by_round], "file_bytes": files,
            "child_rss_peak_mb": children}  # fmt: skip


def _stored(path: Path, rounds: int) -> list[tuple[int, int, int]]:
    """After each round: bytes of every checkpoint and write blob, rows of both tables, the largest checkpoint.

    A round ends at the first cycle-level checkpoint whose ``results`` holds it (checkpoint ids sort by time)."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    serde = JsonPlusSerializer()
    with sqlite3.connect(path) as db:
        cycle = db.execute("SELECT checkpoint_id, type, checkpoint FROM checkpoints WHERE checkpoint_ns = ''")
        ends: dict[int, str] = {}
        for cid, kind, blob in sorted(cycle):
            done = len(serde.loads_typed((kind, blob))["channel_values"].get("results") or [])
            ends.setdefault(done, cid)
        out = []
        for n in range(1, rounds + 1):
            rows, size, big = db.execute(
                "SELECT count(*), sum(length(checkpoint) + length(metadata)), max(length(checkpoint)) "
                "FROM checkpoints WHERE checkpoint_id <= ?",
                (ends[n],),
            ).fetchone()
            writes, written = db.execute(
                "SELECT count(*), sum(length(value)) FROM writes WHERE checkpoint_id <= ?", (ends[n],)
            ).fetchone()
            out.append((int(size) + int(written or 0), int(rows) + int(writes), int(big)))
    return out


class Meter:
    """The measurement's clock and memory baseline; a phase calls :meth:`start` when its setup is not timed."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.start()

    def start(self) -> None:
        """(Re)start the clock here, and CUDA's peak counter."""
        if self.device == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()
        self.rss_base = _rss_mb()
        self.t0 = time.perf_counter()


def main() -> None:
    """Run one measurement and print its JSON line."""
    phase, base, work, device = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    import peft  # noqa: F401 (the heavy imports happen before the clock starts)
    import torch
    import transformers  # noqa: F401

    if phase in ("sft", "dpo"):
        import trl  # noqa: F401
    torch.set_num_threads(int(sys.argv[5]) if len(sys.argv) > 5 else 1)
    if phase == "prepare":
        prepare(base)
        return
    from transformers import AutoConfig

    from evoforge.offline.shapes import config_parameters

    with tempfile.TemporaryDirectory(prefix="evoforge-scale-") as tmp:
        meter = Meter(device)
        figures = globals()[phase](base, work, device, Path(tmp), meter)
        wall = time.perf_counter() - meter.t0
    cuda = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None
    config = AutoConfig.from_pretrained(base)
    params = config_parameters(config)
    print(json.dumps({"phase": phase, "work": work, "wall_s": wall, "rss_base_mb": meter.rss_base,
                      "rss_peak_mb": _rss_mb("VmHWM"),
                      "cuda_peak_mb": cuda, "params": params, **figures}))  # fmt: skip


if __name__ == "__main__":
    main()
