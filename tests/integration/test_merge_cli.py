"""`evoforge merge` through the eval harness's Generator on a tiny LM with LoRA adapters; resume with 2 workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def evoforge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "evoforge.cli", "-q", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300, env=env)


def test_bad_adapter_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "eval.jsonl").write_text('{"prompt": "1+1?", "reference": "2"}\n')
    out = evoforge("merge", "-a", "missing", "--eval", "eval.jsonl", "--base", ".", cwd=tmp_path)
    assert out.returncode == 2 and "missing is not a directory" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_merge_command_searches_saves_and_resumes(tmp_path: Path) -> None:
    from evoforge.testing.tiny_models import build_lora_adapter, build_tiny_lm

    base = build_tiny_lm(tmp_path / "base")
    for i in range(2):
        build_lora_adapter(base, tmp_path / f"d{i}", seed=i)
    rows = [{"prompt": f"What is {i} plus 1?", "reference": str(i + 1)} for i in range(4)]
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["--base", "base", "-a", "d0", "-a", "second=d1", "--eval", "eval.jsonl", "--runs-dir", "runs"]
    out = evoforge("merge", *args, "--trials", "4", "--run-id", "m", "--set", "eval.max_new_tokens=4", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    results = json.loads((tmp_path / "runs/m/merge/results.json").read_text())
    assert results["n_trials"] == 4 and set(results["table"]) >= {"raw", "train@d0", "train@second", "auto_merge"}
    assert (tmp_path / "runs/m/merge/best_adapter/adapter_config.json").is_file()
    job = json.loads((tmp_path / "runs/m/merge/job.json").read_text())  # no database: the study is in the run
    assert job["storage"] == f"sqlite:///{(tmp_path / 'runs/m/merge/optuna.db').resolve()}"
    again = evoforge("merge", "--resume", "m", "--trials", "7", "--workers", "2", "--runs-dir", "runs", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "runs/m/merge/results.json").read_text())["n_trials"] == 7
    manifest = json.loads((tmp_path / "runs/m/manifest.json").read_text())
    assert manifest["status"] == "completed"
