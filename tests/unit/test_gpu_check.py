"""bench/gpu_check.sh's pieces that CI can check without a GPU or the network: its cycle config validates, the
script parses, the wheel plan covers what the GPU machine lacks, and (only where ``.whl/`` was gathered) the
wheels match the plan."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from evoforge.settings import load_config

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def _gpu_wheels() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_wheels", BENCH / "gpu_wheels.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_gpu_cycle_config_validates_and_runs_the_student_on_cuda() -> None:
    config = load_config(BENCH / "gpu_cycle.yaml", ["student.model=/tmp/qwen"])
    assert config.student.device == "cuda" and config.student.model == "/tmp/qwen"
    assert config.llm.models["sim"].model == "sim/skills"  # offline agents: the GPU machine has no network


def test_the_script_parses_and_refuses_an_unknown_mode() -> None:
    assert subprocess.run(["bash", "-n", str(BENCH / "gpu_check.sh")]).returncode == 0
    done = subprocess.run(["bash", str(BENCH / "gpu_check.sh"), "--nope"], capture_output=True, text=True)
    assert done.returncode == 2 and "usage" in done.stderr


def test_the_plan_carries_what_the_device_lacks_and_nothing_it_has() -> None:
    wheels = _gpu_wheels()
    plan = wheels.plan()
    device = wheels.device_packages()
    assert {"trl", "optuna", "litellm", "langgraph", "langgraph-checkpoint-sqlite", "pydantic"} <= plan.keys()
    assert "torch" not in plan and "numpy" not in plan and "pyarrow" not in plan
    assert {name for name in plan if name in device} == set(wheels.FORCE)  # transformers, peft: reasons given


@pytest.mark.skipif(not (ROOT / ".whl").is_dir(), reason="no .whl/ here (bash bench/gpu_check.sh --gather)")
def test_the_gathered_wheels_are_the_plan_and_fit_the_limit() -> None:
    assert _gpu_wheels().check(ROOT / ".whl", 64.0) == []
