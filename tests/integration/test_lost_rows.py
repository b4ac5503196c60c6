"""Rows lost to transport errors: under 20% injected 429/500/503 faults (3 retries, a fixed seed) an evolve run
keeps the rows whose calls were lost apart from the rejected ones, and resuming it (or running it again through the
response cache) ends with the rows a fault-free run with the same seed has.

The fault seeds are chosen so that, at these sizes, a row the fault-free run keeps is lost: by its evolution (6)
and by its answer (19). The sim LLM runs in process.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from small_runs import SIM_EVOLVE_SIZES

from evoforge.evolve.dataset import dataset_line
from evoforge.graphs.driver import drive
from evoforge.graphs.review import policy_decision
from evoforge.offline.sim.faults import FAULTS_ENV
from evoforge.runs import RunDir
from evoforge.settings import load_config

SMALL = ["run.seed=11", "world.n_seeds=24", *SIM_EVOLVE_SIZES, "llm.num_retries=3", "llm.retry_backoff=0"]


def evolve(runs_dir: Path, name: str, cache: Path) -> tuple[RunDir, dict[str, int]]:
    """A new evolve run ``name`` answered through the response cache in ``cache``; the run and its counts."""
    cfg = load_config(None, [*SMALL, f"run.runs_dir={runs_dir}", f"llm.cache_dir={cache}"])
    run = RunDir.create(cfg, "evolve", name)
    return run, asyncio.run(drive(run, policy_decision)).values["counts"]


def rows(run: RunDir, name: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run.path / name).read_text().splitlines()]


def paid_calls(run: RunDir) -> int:
    return int(run.manifest()["llm_usage"]["total"]["calls"])


@pytest.fixture(scope="module")
def fault_free(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, object]], dict[str, int]]:
    """The rows and counts of a fault-free run with the same seed."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(FAULTS_ENV, raising=False)
        folder = tmp_path_factory.mktemp("fault-free")
        run, counts = evolve(folder / "runs", "clean", folder / "cache")
    assert counts["lost"] == 0
    return rows(run, "evolved.jsonl"), counts


@pytest.mark.parametrize(("fault_seed", "lost_in"), [(6, "evolution"), (19, "answer")])
def test_rows_lost_to_transport_errors_are_kept_apart_and_resume_fills_them_in(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fault_free: tuple[list[dict[str, object]], dict[str, int]],
    fault_seed: int,
    lost_in: str,
) -> None:
    runs = tmp_path / "runs"
    clean_rows, clean_counts = fault_free

    monkeypatch.setenv(FAULTS_ENV, f"0.2:{fault_seed}")
    faulty, counts = evolve(runs, "faulty", tmp_path / "cache-faulty")
    assert faulty.manifest()["llm_usage"]["total"]["retries"] > 20
    lost = rows(faulty, "dataset/lost.jsonl")
    assert counts["lost"] == len(lost) == 1
    assert str(lost[0]["lost"]).startswith(f"{lost_in}: LLM call for role")
    assert "injected fault" in str(lost[0]["lost"])
    # lost rows are not rejected ones: the validator's failures are the fault-free run's, or fewer
    assert counts["failed"] <= clean_counts["failed"] and counts["kept"] < clean_counts["kept"]
    assert counts["answered"] + counts["lost"] == len(rows(faulty, "dataset/answered.jsonl"))
    assert f"lost to errors {len(lost)}" in dataset_line(counts)
    report = (faulty.path / "evolve_report.md").read_text()
    assert "lost to errors 1" in report and "dataset/lost.jsonl" in report
    assert len(rows(faulty, "evolved.jsonl")) == len(clean_rows) - 1

    monkeypatch.setenv(FAULTS_ENV, "0.2:99")  # the faults go on while the lost calls are sent again
    paid = paid_calls(faulty)
    resumed = asyncio.run(drive(RunDir.open(runs, "faulty"), policy_decision))
    assert resumed.outcome == "completed" and resumed.values["counts"] == clean_counts
    assert rows(faulty, "evolved.jsonl") == clean_rows
    assert rows(faulty, "dataset/lost.jsonl") == []
    assert 0 < paid_calls(faulty) - paid <= 4  # the lost calls (an evolution lost also loses the generation after it)
    assert asyncio.run(drive(RunDir.open(runs, "faulty"), policy_decision)).values["counts"] == clean_counts

    # an identical re-run through the faulty run's response cache sends only what that run lost
    again, again_counts = evolve(runs, "again", tmp_path / "cache-faulty")
    assert again_counts == clean_counts and rows(again, "evolved.jsonl") == clean_rows


def test_instruct_counts_calls_lost_to_transport_errors_apart_from_failed_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "topics.txt").write_text("".join(f"topic {i}\n" for i in range(8)))
    config = tmp_path / "instruct.yaml"
    config.write_text(
        f"run: {{runs_dir: '{tmp_path / 'runs'}'}}\n"
        f"llm: {{num_retries: 0, cache_dir: '{tmp_path / 'cache'}'}}\n"
        f"instruct: {{output_path: '{tmp_path / 'out.jsonl'}', topics_path: '{tmp_path / 'topics.txt'}',\n"
        "           default_count: 6, default_batch_size: 3, dedup: exact, instructors: {general: {}}}\n"
    )
    monkeypatch.setenv(FAULTS_ENV, "0.3:1")  # no retry: 30% of the calls are lost
    run = RunDir.create(load_config(config), "instruct")
    values = asyncio.run(drive(run, policy_decision, start={"mode": "instructions"})).values
    skipped = values["progress"]["general"]["skipped"]
    assert skipped.get("request_lost", 0) + skipped.get("response_lost", 0) > 0, skipped
    assert "request_failed" not in skipped and "response_failed" not in skipped, skipped
