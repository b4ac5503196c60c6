"""The main job on real inputs: every shipped real-model config, and a two-round judge cycle on user data.

The shipped configs run as shipped, but for what cannot exist here: each model entry points at ``evoforge serve
sim`` over HTTP (``openai/skills`` + ``api_base``, a secret key in the variable the config names), the student is a
tiny Hugging Face model directory given by path (on the CPU), and the seeds are the real Self-Instruct seed tasks.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import DATASETS
from small_runs import EVOLVE_SIZES

from evoforge.testing.tiny_models import build_tiny_lm

ROOT = Path(__file__).resolve().parents[2]
SEED_TASKS = DATASETS / "self-instruct" / "seed_tasks.jsonl"
USER_TEST = DATASETS / "self-instruct" / "user_oriented_instructions.jsonl"
SECRET = "sk-evoforge-test-7f3a9c1e5b"
REDUCED = [
    f"evolve.data_path={SEED_TASKS}",
    "evolve.instruction_field=instruction",
    "evolve.response_field=instances.0.output",
    *EVOLVE_SIZES,
    "cycle.seeds_per_round=24",
    "eval.test_size=12",
    "eval.max_new_tokens=12",
    "eval.batch_size=16",
    "train.epochs=1",
    "train.max_length=512",
    "merge.trials=7",
    "student.device=cpu",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evoforge.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "TOKENIZERS_PARALLELISM": "false", **(env or {})},
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama saved as a Hugging Face model directory (the user's student, given by path)."""
    return build_tiny_lm(tmp_path_factory.mktemp("student") / "model")


@pytest.fixture(scope="module")
def sim_server() -> Iterator[str]:
    """``evoforge serve sim`` on a free loopback port; yields its base URL, stopped afterwards."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "evoforge.cli", "-q", "serve", "sim", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/models", timeout=1.0)
            break
        except httpx.HTTPError:
            assert proc.poll() is None and time.monotonic() < deadline, "the sim server did not start"
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def _files_with(run: Path, needle: str) -> list[str]:
    return [str(p.relative_to(run)) for p in run.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["deepseek", "openai", "vllm-local"])
def test_shipped_real_config_runs_one_round(name: str, student: Path, sim_server: str, runs_dir: Path) -> None:
    config = yaml.safe_load((ROOT / "configs" / f"{name}.yaml").read_text(encoding="utf-8"))
    redirect = []
    env = {}
    for model, entry in config["llm"]["models"].items():
        redirect += [f"llm.models.{model}.model=openai/skills", f"llm.models.{model}.api_base={sim_server}"]
        variable = entry.get("api_key_env") or f"EVOFORGE_TEST_{model.upper().replace('-', '_')}_KEY"
        redirect.append(f"llm.models.{model}.api_key_env={variable}")
        env[variable] = SECRET
    sets = [
        arg for item in (*REDUCED, *redirect, f"student.model={student}", "cycle.rounds=1") for arg in ("--set", item)
    ]
    done = _cli(
        "run", "--config", f"configs/{name}.yaml", "--runs-dir", str(runs_dir), "--run-id", name, *sets, env=env
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert "AutoLLM results table" in out and "auto_merge" in out
    run = runs_dir / name
    assert json.loads((run / "manifest.json").read_text())["status"] == "completed"
    assert "## Cycle" in (run / "report.md").read_text(encoding="utf-8")
    assert json.loads((run / "rounds/1/evals/test-raw.json").read_text())["metric"] == "judge"
    assert _files_with(run, SECRET) == [] and SECRET not in out


@pytest.mark.slow
def test_two_round_judge_cycle_on_user_data_keeps_the_test_set_out(student: Path, runs_dir: Path) -> None:
    rows = [json.loads(line) for line in USER_TEST.read_text(encoding="utf-8").splitlines()][:16]
    test_file = runs_dir.parent / "my_test.jsonl"
    test_file.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    reduced = [item for item in REDUCED if not item.startswith("eval.test_size=")]  # the file is the test set
    sets = [*reduced, f"student.model={student}", "cycle.rounds=2", f"eval.test_path={test_file}", "eval.metric=judge"]
    sets.append("train.chunk_by=parts:2")  # seed tasks have no category
    done = _cli("run", "--runs-dir", str(runs_dir), "--run-id", "user", *[a for s in sets for a in ("--set", s)])
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    run = runs_dir / "user"
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    finished = [e for e in events if e["event"] == "round_finished"]
    assert [e["round"] for e in finished] == [1, 2]
    assert all(0.0 <= v <= 1.0 for e in finished for v in e["test"].values())  # judge pass rates
    test_prompts = {json.loads(line)["prompt"] for line in (run / "test.jsonl").read_text().splitlines()}
    assert len(test_prompts) == 16
    fed = [run / "pool.jsonl", *run.glob("rounds/*/seeds.jsonl"), *run.glob("rounds/*/chunks/*.jsonl")]
    fed += [
        *run.glob("rounds/*/evolved.jsonl"),
        *run.glob("rounds/*/bad_cases.jsonl"),
        *run.glob("rounds/*/eval.jsonl"),
    ]
    assert len(fed) > 6
    for path in fed:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            assert not {row.get("instruction"), row.get("prompt")} & test_prompts, f"test prompt in {path}"
    seeds = [{json.loads(x)["id"] for x in (run / f"rounds/{n}/seeds.jsonl").read_text().splitlines()} for n in (1, 2)]
    assert not {i for i in seeds[0] & seeds[1] if not str(i).startswith("bad-")}  # round 2 draws a fresh slice
    report = (run / "report.md").read_text(encoding="utf-8")
    assert "fresh from the pool" in report and "starts from this round's method" in report
    assert "| judge |" in report  # the judge grades through the run's gateway: in its usage table and budget
