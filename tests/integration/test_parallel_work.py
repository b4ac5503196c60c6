"""The main job on both cores: deltas trained in the shared worker processes are the bits trained in the main
process, and a merge search with local workers takes the same trials for the same seed and number of workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from evoforge.cycle import opening, work
from evoforge.cycle.round_record import DeltaTask
from evoforge.data.chunking import chunk_dataset, write_chunks
from evoforge.data.formats import load_examples
from evoforge.errors import DataError
from evoforge.merging.job import MergeJob, run_job
from evoforge.merging.search import completed
from evoforge.offline.world import seed_records
from evoforge.processes import ProcessPool
from evoforge.runs import RunDir, atomic_write_jsonl
from evoforge.settings import Config, MergeSettings
from evoforge.testing.merge_toy import ToyProblem, build_toy_problem, one_torch_thread

_one_thread = pytest.fixture(autouse=True)(one_torch_thread)


def _train_round(run_path: Path, workers: int) -> dict[str, bytes]:
    """The two chunks' deltas of one small round, trained as the cycle's branches do (threads at once)."""
    data = run_path / "data.jsonl"
    atomic_write_jsonl(data, seed_records(12, 7, categories=["arithmetic", "strings"]))
    chunks, held_out = chunk_dataset(load_examples(data), "category", 0.25, seed=0)
    write_chunks(run_path / "rounds" / "1", chunks, held_out, overwrite=True)
    sets = {"epochs": 1, "batch_size": 4, "max_length": 64, "method": "sft", "train_all": False, "workers": workers}
    config = Config.model_validate({"train": sets, "student": {"model": "tiny"}})
    plan = opening.plan_training(config, run_path, "rounds/1")
    tasks = [DeltaTask("rounds/1", "tiny", job) for job in plan]
    with ThreadPoolExecutor(len(tasks)) as branches:
        trained = list(branches.map(lambda task: work.train_delta(config, run_path, task), tasks))
    return {name: (run_path / path / "adapter_model.safetensors").read_bytes() for name, path, _ in trained}


@pytest.mark.slow  # ~20 s idle (four tiny deltas, one worker process started), a minute on a loaded machine
def test_deltas_trained_in_worker_processes_are_the_bits_trained_here(tmp_path: Path) -> None:
    here = _train_round(tmp_path / "one", workers=1)
    pooled = _train_round(tmp_path / "two", workers=2)
    assert set(here) == {"arithmetic-sft", "strings-sft"}
    assert pooled == here
    meta = sorted((tmp_path / "two").glob("rounds/1/adapters/*/training.json"))
    before = [path.read_bytes() for path in meta]
    assert _train_round(tmp_path / "two", workers=2) == here  # a resumed round reuses its finished deltas
    assert [path.read_bytes() for path in meta] == before


def _search(root: Path, problem: ToyProblem, eval_path: Path, workers: int) -> list[tuple[dict[str, float], float]]:
    """A merge search's trials (parameters and value, in trial order) with ``workers`` local processes."""
    cfg = Config.model_validate({"run": {"runs_dir": str(root)}})
    run = RunDir.create(cfg, "merge", f"w{workers}")
    job = MergeJob(
        base=problem.base,
        adapters=problem.adapters,
        eval_path=eval_path,
        metric="token_accuracy",
        settings=MergeSettings(trials=10, workers=workers),
        storage=str(run.file("merge", "optuna.journal")),
        runner="evoforge.testing.merge_toy:toy_runner",
        device="cpu",
    )
    run_job(job, run)
    study = job.study(job.space())
    return [(dict(t.params), float(t.value or 0.0)) for t in completed(study)]


def test_a_merge_search_with_local_workers_repeats_its_trials(tmp_path: Path) -> None:
    import torch

    problem = build_toy_problem(tmp_path / "toy", n_deltas=3, steps=10)
    torch.save(problem.eval_ids, tmp_path / "eval.pt")
    first, again, alone = (
        _search(tmp_path / name, problem, tmp_path / "eval.pt", workers)
        for name, workers in (("a", 2), ("b", 2), ("c", 1))
    )
    assert len(first) == 10
    assert first == again  # the same trials, values and order: nothing depends on which process finished first
    assert first[:4] == alone[:4]  # the baselines are the same merges, scored the same in either process


def test_a_worker_error_reaches_the_caller_and_the_worker_serves_on() -> None:
    pool = ProcessPool(1)
    try:
        with pytest.raises(DataError, match="no chunks"):
            pool.call(opening.plan_training, Config(), Path("/nonexistent"), "rounds/1")
        assert pool.call(sum, [1, 2, 3]) == 6
    finally:
        pool.close()


def _gone(pid: int, within: float = 15.0) -> bool:
    """Whether process ``pid`` has exited (or is a zombie waiting to be reaped) within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"):
                return True
        except (FileNotFoundError, ProcessLookupError):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL])
def test_no_worker_outlives_a_stopped_or_killed_driver(stop: signal.Signals) -> None:
    """Ctrl-C (the whole process group) while a worker is busy, or SIGKILL of the driver alone while it idles."""
    busy = "time.sleep(60)" if stop == signal.SIGINT else "time.sleep(0)"
    script = (
        "import os, sys, time\nfrom evoforge.processes import ProcessPool\npool = ProcessPool(1)\n"
        f"print(pool.call(os.getpid), flush=True)\npool.call(eval, {busy!r})\ntime.sleep(60)\n"
    )
    driver = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert driver.stdout is not None
    worker = int(driver.stdout.readline())
    time.sleep(1)
    if stop == signal.SIGINT:
        os.killpg(driver.pid, stop)
    else:
        driver.kill()
    driver.wait(timeout=30)
    assert _gone(worker)
