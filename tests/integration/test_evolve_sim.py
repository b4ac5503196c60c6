"""The evolve graph with the real agents and the simulated LLM: in process, and over HTTP (`evoforge serve sim`)."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import DATASETS

from evoforge.graphs.driver import drive
from evoforge.graphs.review import policy_decision
from evoforge.runs import RunDir
from evoforge.settings import load_config

EVOFORGE = str(Path(sys.executable).parent / "evoforge")
SMALL = [
    "run.seed=3",
    "world.n_seeds=40",
    "evolve.train_size=10",
    "evolve.dev_size=20",
    "evolve.batch_size=5",
    "evolve.loop=2",
    "evolve.candidate_size=3",
]


def test_sim_selected_failure_rate_never_rises_and_beats_the_initial_method(runs_dir: Path) -> None:
    cfg = load_config(None, [*SMALL, "evolve.max_steps=3", "evolve.patience=3", f"run.runs_dir={runs_dir}"])
    run = RunDir.create(cfg, "evolve", "sim")
    result = asyncio.run(drive(run, policy_decision))
    values = result.values
    rates = [values["candidates"]["s0c0"]["failure_rate"]] + [p["selected_rate"] for p in values["history"]]
    assert len(rates) == 4
    assert all(b <= a for a, b in itertools.pairwise(rates)), rates
    assert rates[-1] < rates[0], rates
    rows = [json.loads(line) for line in (run.path / "evolved.jsonl").read_text().splitlines()]
    assert rows and all(r["method_id"] == values["method_id"] for r in rows)
    assert values["counts"]["kept"] == len(rows) <= values["counts"]["answered"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sim_server() -> str:
    port = _free_port()
    proc = subprocess.Popen([EVOFORGE, "-q", "serve", "sim", "--port", str(port)], stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("evoforge serve sim did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_evolve_over_http_against_evoforge_serve_sim(tmp_path: Path, sim_server: str) -> None:
    config = tmp_path / "http.yaml"
    config.write_text(
        f"llm:\n  models:\n    sim: {{model: openai/skills, api_base: '{sim_server}', max_parallel_requests: 8}}\n"
    )
    runs = tmp_path / "runs"
    args = [EVOFORGE, "-q", "evolve", "-c", str(config), "--runs-dir", str(runs), "--run-id", "http", "--auto-approve"]
    tiny = ["world.n_seeds=16", "evolve.train_size=4", "evolve.dev_size=8", "evolve.batch_size=3", "evolve.loop=1"]
    args += [f"--set={item}" for item in [*tiny, "evolve.candidate_size=2", "evolve.max_steps=1"]]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = runs / "http"
    rows = [json.loads(line) for line in (run / "evolved.jsonl").read_text().splitlines()]
    usage = json.loads((run / "manifest.json").read_text())["llm_usage"]["total"]
    assert rows and usage["calls"] > 40 and usage["failures"] == 0
    methods = json.loads((run / "methods.json").read_text())
    assert len(methods["candidates"]) == 1 + 2


def test_cli_pauses_for_review_then_resumes_with_an_edited_method(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from evoforge.cli import app

    runs = tmp_path / "runs"
    tiny = [
        "world.n_seeds=16",
        "evolve.train_size=4",
        "evolve.dev_size=6",
        "evolve.batch_size=3",
        "evolve.loop=1",
        "evolve.candidate_size=2",
        "evolve.max_steps=1",
    ]
    args = ["-q", "evolve", "--no-auto-approve", "--runs-dir", str(runs), "--run-id", "p"]
    first = CliRunner().invoke(app, args + [f"--set={item}" for item in tiny])
    assert first.exit_code == 0, first.output
    manifest = json.loads((runs / "p" / "manifest.json").read_text())
    assert manifest["status"] == "awaiting_review" and manifest["waiting_at"] == "review_method"

    method = tmp_path / "method.md"
    method.write_text("Step 1: add one constraint to the #Instruction#.\nStep 2: output the rewritten #Instruction#")
    second = CliRunner().invoke(app, ["-q", "resume", "p", "--runs-dir", str(runs), "--edit", str(method)])
    assert second.exit_code == 0, second.output
    assert json.loads((runs / "p" / "manifest.json").read_text())["waiting_at"] == "review_dataset"
    third = CliRunner().invoke(app, ["-q", "resume", "p", "--runs-dir", str(runs), "--approve"])
    assert third.exit_code == 0, third.output
    selected = json.loads((runs / "p" / "methods.json").read_text())["selected"]
    assert selected["id"] == "s1-edit" and selected["method"] == method.read_text().strip()
    assert json.loads((runs / "p" / "manifest.json").read_text())["status"] == "completed"


def test_the_korean_seeds_command_line_runs_a_test_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seed 001's flags (``--max-step`` as its script spells it, ``--test-run 1``) on the default skills world:
    the optimisation splits 8 + 8 seeds (more than 10), the dataset is evolved from 10 seeds only; the relative
    ``--save-path`` lands in the working directory."""
    from typer.testing import CliRunner

    from evoforge.cli import app

    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    seed_flags = "--train-size 8 --dev-size 8 --batch-size 4 --max-step 1 --loop 1 --candidate-size 2 --test-run 1"
    args = ["-q", "evolve", "--set", "evolve.loop=3", *seed_flags.split(), "--save-path", "out.json", "--seed", "7"]
    result = CliRunner().invoke(app, [*args, "--auto-approve", "--runs-dir", str(runs), "--run-id", "ko"])
    assert result.exit_code == 0, result.output
    run = runs / "ko"
    assert json.loads((run / "manifest.json").read_text())["status"] == "completed"
    snapshot = load_config(run / "config.yaml")
    expected = {"train_size": 8, "dev_size": 8, "batch_size": 4, "max_steps": 1, "loop": 1, "candidate_size": 2}
    assert {key: getattr(snapshot.evolve, key) for key in expected} == expected  # the flags win over --set
    assert snapshot.evolve.test_run and snapshot.evolve.save_path == str(tmp_path / "out.json")
    assert snapshot.run.seed == 7
    seeds = [json.loads(line) for line in (run / "data" / "seeds.jsonl").read_text().splitlines()]
    rows = [json.loads(line) for line in (run / "evolved.jsonl").read_text().splitlines()]
    assert len(seeds) == snapshot.world.n_seeds > 10
    assert rows and len({row["root"] for row in rows}) <= 10
    assert {row["root"] for row in rows} <= {seed["instruction"] for seed in seeds[:10]}
    assert json.loads((tmp_path / "out.json").read_text())["instruction"] == [row["instruction"] for row in rows]


SEED_001_MAIN_SH = """
    --data-path seed_tasks.jsonl --train-size 20 --dev-size 50 --seed 42 --batch-size 10 --max-step 3 --loop 3
    --candidate-size 5 --test-run 0 --save-path evolution_result.json
"""  # main.sh as the seed's README writes it; the data path is a local seed file instead of a hub dataset


@pytest.mark.slow
def test_the_seeds_main_sh_line_writes_evolution_result_json_where_it_ran(tmp_path: Path) -> None:
    seeds = DATASETS / "self-instruct" / "seed_tasks.jsonl"
    if not seeds.is_file():
        pytest.skip(f"no seed file at {seeds}")
    (tmp_path / "seed_tasks.jsonl").write_bytes(seeds.read_bytes())
    argv = [EVOFORGE, "-q", "evolve", *SEED_001_MAIN_SH.split()]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "evolution_result.json").read_text())
    (run,) = (tmp_path / "runs").iterdir()
    rows = [json.loads(line) for line in (run / "evolved.jsonl").read_text().splitlines()]
    assert rows and result["instruction"] == [row["instruction"] for row in rows]
    assert len(result["response"]) == len(result["root"]) == len(rows) and not (run / "evolution_result.json").exists()
    again = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert again.returncode == 2 and "give --overwrite" in " ".join(again.stderr.split())


def test_a_run_that_keeps_no_row_fails_and_says_why(tmp_path: Path) -> None:
    """Seeds that refer to an input they do not hold cannot be answered: every answer asks for the input, the
    validator fails all of them, and the run ends ``failed`` with the reason instead of ``completed``."""
    things = ("article", "email", "poem", "table", "list", "sentence", "paragraph", "story")
    data = tmp_path / "seeds.jsonl"
    data.write_text("".join(json.dumps({"instruction": f"Summarise the given {t}."}) + "\n" for t in things))
    runs = tmp_path / "runs"
    sizes = "--train-size 4 --dev-size 4 --batch-size 2 --max-steps 1 --loop 1 --candidate-size 1"
    args = [EVOFORGE, "-q", "evolve", "--data", str(data), *sizes.split(), "--auto-approve", "--runs-dir", str(runs)]
    proc = subprocess.run([*args, "--run-id", "empty"], capture_output=True, text=True, timeout=300)
    output = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 1 and "Traceback" not in output, output[-3000:]
    assert "final dataset is empty: all 8 answers were dropped" in output, output[-3000:]
    assert "8 failed the validator (8× loss of key information)" in output
    manifest = json.loads((runs / "empty" / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "final dataset is empty" in manifest["error"]
    assert not (runs / "empty" / "evolved.jsonl").exists()
