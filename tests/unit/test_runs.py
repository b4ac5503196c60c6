"""Run directories: layout, refusing reuse, atomic writes, events, redaction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evoforge.errors import RunDirError
from evoforge.runs import RunDir, atomic_write_jsonl, list_runs
from evoforge.settings import load_config


def test_create_writes_config_manifest_events(runs_dir: Path) -> None:
    cfg = load_config(None, [f"run.runs_dir={runs_dir}"])
    run = RunDir.create(cfg, "evolve", "r1")
    assert (run.path / "config.yaml").is_file()
    manifest = run.manifest()
    assert manifest["status"] == "running" and manifest["seed"] == 42
    assert manifest["versions"]["evoforge"]
    run.finish("completed")
    events = [json.loads(line) for line in (run.path / "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["run_started", "run_finished"]
    assert run.config() == cfg
    assert [m["run_id"] for m in list_runs(runs_dir)] == ["r1"]


def test_reusing_a_run_id_is_refused(runs_dir: Path) -> None:
    cfg = load_config(None, [f"run.runs_dir={runs_dir}"])
    RunDir.create(cfg, "evolve", "same")
    with pytest.raises(RunDirError, match="already exists"):
        RunDir.create(cfg, "evolve", "same")
    with pytest.raises(RunDirError, match="letters"):
        RunDir.create(cfg, "evolve", "../escape")


def test_open_unknown_run(runs_dir: Path) -> None:
    with pytest.raises(RunDirError, match="no run"):
        RunDir.open(runs_dir, "ghost")


def test_secrets_never_reach_run_files(runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-abcdef")
    cfg = load_config(None, [f"run.runs_dir={runs_dir}"])
    run = RunDir.create(cfg, "evolve", "r2")
    run.event("call_failed", message="auth failed for key sk-very-secret-abcdef")
    run.update_manifest(note="sk-very-secret-abcdef")
    for path in run.path.iterdir():
        assert "sk-very-secret-abcdef" not in path.read_text()


def test_atomic_jsonl_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "out" / "data.jsonl"
    assert atomic_write_jsonl(target, [{"a": 1}, {"b": "ü"}]) == 2
    assert target.read_text(encoding="utf-8").splitlines() == ['{"a": 1}', '{"b": "ü"}']
    assert [p.name for p in target.parent.iterdir()] == ["data.jsonl"]


def test_recording_ends_a_run_failed_or_interrupted_with_the_error(runs_dir: Path) -> None:
    cfg = load_config(None, [f"run.runs_dir={runs_dir}"])
    failed, stopped, fine = (RunDir.create(cfg, "eval", name) for name in ("failed", "stopped", "fine"))
    with pytest.raises(ValueError), failed.recording():
        raise ValueError("bad eval file")
    with pytest.raises(KeyboardInterrupt), stopped.recording(interrupted_hint="resume it"):
        raise KeyboardInterrupt
    with fine.recording():
        fine.finish("completed", score=1.0)
    assert failed.manifest()["status"] == "failed" and failed.manifest()["error"] == "ValueError: bad eval file"
    assert stopped.manifest()["status"] == "interrupted" and stopped.manifest()["error"].startswith("KeyboardInterrupt")
    assert fine.manifest()["status"] == "completed" and "error" not in fine.manifest()
    events = [json.loads(line)["event"] for line in (failed.path / "events.jsonl").read_text().splitlines()]
    assert events[-1] == "run_finished"
