"""``evoforge train`` end to end on a micro student: run dir with chunks, eval split, adapters, deltas.json."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from evoforge.cli import app
from evoforge.errors import DataError
from evoforge.offline.student import StudentBuildConfig, build_tiny_student

MICRO = StudentBuildConfig(hidden_size=64, intermediate_size=128, num_layers=2, num_heads=1, steps=0, eval_tasks=0)


def test_train_makes_a_run_with_one_delta_per_chunk_and_train_at_all(tmp_path: Path) -> None:
    from peft import PeftConfig

    student = build_tiny_student(tmp_path / "student", config=MICRO)
    data = tmp_path / "seeds.jsonl"
    rows = [
        {"instruction": f"Repeat {w}", "input": "", "output": w, "category": ["copy", "echo"][i % 2]}
        for i, w in enumerate(["ab", "cd", "ef", "gh", "ij", "kl", "mn", "op", "qr", "st"])
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["-q", "train", "--data", str(data), "--model", str(student), "--chunk-by", "category", "--method", "auto"]
    args += ["--runs-dir", str(tmp_path / "runs"), "--run-id", "t1", "--set", "train.epochs=1"]
    args += ["--set", "student.device=cpu", "--set", "train.batch_size=4"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "t1"
    assert sorted(p.name for p in (run / "chunks").iterdir()) == ["copy.jsonl", "echo.jsonl"]
    held = [json.loads(line) for line in (run / "eval.jsonl").read_text().splitlines()]
    assert {r["chunk"] for r in held} == {"copy", "echo"} and all(r["reference"] for r in held)
    assert sorted(p.name for p in (run / "adapters").iterdir()) == ["all-sft", "copy-sft", "echo-sft"]
    assert PeftConfig.from_pretrained(str(run / "adapters" / "copy-sft")).base_model_name_or_path == str(student)
    summary = json.loads((run / "deltas.json").read_text())
    assert [d["name"] for d in summary] == ["copy-sft", "echo-sft", "all-sft"]
    assert json.loads((run / "manifest.json").read_text())["status"] == "completed"


def test_train_refuses_dpo_on_a_chunk_without_pairs(tmp_path: Path) -> None:
    student = build_tiny_student(tmp_path / "student", config=MICRO)
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "p", "completion": "c", "category": "a"}\n' * 3)
    args = ["-q", "train", "--data", str(data), "--model", str(student), "--method", "dpo"]
    result = CliRunner().invoke(app, [*args, "--runs-dir", str(tmp_path / "runs"), "--set", "student.device=cpu"])
    assert isinstance(result.exception, DataError)
    assert "no chosen/rejected pairs" in str(result.exception)


def test_student_build_command_reports_the_shipped_student() -> None:
    result = CliRunner().invoke(app, ["student", "build"])
    assert result.exit_code == 0, result.output
    assert "tiny_student" in result.output and "exact match on 200 held-out tasks: all" in result.output
    assert "right once its habitual phrasing is taken off" in result.output
