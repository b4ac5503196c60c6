"""``evoforge plan`` (and ``run --dry-run``): the plan is printed, nothing is written, no LLM is called, and a real
config without its key variables still prints its plan before the preflight's problems (exit code 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evoforge.cli import app
from evoforge.cycle.plan import evolve_calls, plan_run
from evoforge.settings import load_config

KEYS = ("DEEPSEEK_API_KEY", "OPENAI_API_KEY", "VLLM_API_KEY")
ROOT = Path(__file__).resolve().parents[2]


def _plan(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["plan", *args])
    return result.exit_code, result.output


def _plan_cli(*args: str) -> tuple[int, str]:
    """``evoforge plan`` as a user runs it (the entry point's exit codes and messages), without any key variable."""
    env = {k: v for k, v in os.environ.items() if k not in KEYS}
    done = subprocess.run(
        [sys.executable, "-m", "evoforge.cli", "plan", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**env, "COLUMNS": "200"},
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def test_quickstart_plan_prints_and_writes_nothing(runs_dir: Path, llm_cache_dir: Path) -> None:
    code, out = _plan("--set", f"run.runs_dir={runs_dir}")
    assert code == 0, out
    assert "cycle.rounds 4" in out and "160" in out  # four rounds of world.n_seeds
    assert "preferences-dpo" in out and "all-sft" in out
    assert "evolver" in out and "generator" in out and "sim/skills" in out
    assert "test set: 300 items" in out and "time class:" in out and "preflight: no problems" in out
    assert list(runs_dir.iterdir()) == [] and list(llm_cache_dir.iterdir()) == []  # no run, no LLM call


def test_run_dry_run_is_the_plan(runs_dir: Path, llm_cache_dir: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--dry-run", "--runs-dir", str(runs_dir), "--set", "cycle.rounds=1"])
    assert result.exit_code == 0, result.output
    assert "rounds: 1 " in result.output and "LLM requests per role" in result.output
    assert list(runs_dir.iterdir()) == [] and list(llm_cache_dir.iterdir()) == []


@pytest.mark.parametrize(("name", "variable"), [("deepseek", "DEEPSEEK_API_KEY"), ("openai", "OPENAI_API_KEY")])
def test_real_config_without_keys_prints_the_plan_then_exits_2(name: str, variable: str, runs_dir: Path) -> None:
    code, out = _plan_cli(f"configs/{name}.yaml", "--set", f"run.runs_dir={runs_dir}")
    assert code == 2
    assert "LLM requests per role" in out and "LLM cost: $" in out  # the plan came first
    assert variable in out and "Traceback" not in out
    assert list(runs_dir.iterdir()) == []


def test_local_server_config_plans_and_names_its_problems(runs_dir: Path) -> None:
    code, out = _plan_cli("configs/vllm-local.yaml", "--set", f"run.runs_dir={runs_dir}")
    assert "LLM requests per role" in out and "not in the price table" in out
    assert code == 2 and "student.model" in out  # its placeholder student folder is not here


def test_priced_model_costs_scale_with_the_requests() -> None:
    from evoforge.cycle.estimate import costs

    cfg = load_config(Path("configs/deepseek.yaml"), [])
    more = load_config(Path("configs/deepseek.yaml"), ["cycle.rounds=6"])
    one, six = ({row.role: row for row in costs(c, plan_run(c))} for c in (cfg, more))
    assert one["evolver"].usd is not None and six["evolver"].usd is not None
    assert 0 < one["evolver"].usd[0] < one["evolver"].usd[1] < six["evolver"].usd[1]
    assert one["judge"].calls[1] > 0  # eval.metric judge: the merge trials, the test table and steering


def test_evolve_calls_follow_the_graph_shape() -> None:
    cfg = load_config(
        None,
        [
            "evolve.train_size=8",
            "evolve.dev_size=8",
            "evolve.batch_size=4",
            "evolve.max_steps=3",
            "evolve.loop=2",
            "evolve.candidate_size=2",
        ],
    )
    calls = evolve_calls(cfg, 24, carried=True)
    # high: 2 start methods × dev, 3 steps × (batch × loop + m × dev), 24 seeds × loop
    assert calls["evolver"][1] == 2 * 8 + 3 * (4 * 2 + 2 * 8) + 24 * 2
    assert calls["evolver"][0] == 8 + 1 * (4 * 2 + 2 * 8) + 24 * 2  # low: patience 1, e0 is the carried method
    assert calls["analyzer"] == calls["optimizer"] == (2, 6)
    assert calls["generator"] == (48, 48)


def test_instruct_source_plans_records_per_instructor() -> None:
    cfg = load_config(None, ["cycle.data_source=instruct", "cycle.instruct_config=airoboros-example"])
    plan = plan_run(cfg)
    first = plan.plans[0]
    assert first.records == {name: cfg.instruct.count(name) for name in cfg.instruct.instructors}
    assert first.seeds is None and first.rows == sum(first.records.values())
    tasks = sum(-(-n // cfg.instruct.batch_size(name)) for name, n in first.records.items())
    low = sum(span[0] for span in plan.calls().values())
    assert low >= len(plan.plans) * (tasks + sum(first.records.values()))  # a task request per batch, a response each
    assert plan.test_size == cfg.eval.test_size


def test_a_setting_the_run_ignores_is_a_problem_after_the_plan(runs_dir: Path) -> None:
    from evoforge.preflight import PreflightError

    result = CliRunner().invoke(app, ["plan", "--set", f"run.runs_dir={runs_dir}", "--set", "eval.test_size=20"])
    assert isinstance(result.exception, PreflightError) and result.exception.exit_code == 2
    assert "eval.test_size=20" in str(result.exception)  # the skills world's test set is world.n_eval
    assert "LLM requests per role" in result.output and list(runs_dir.iterdir()) == []
