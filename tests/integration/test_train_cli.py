"""``evoforge train`` end to end on a micro student: run dir with chunks, eval split, adapters, deltas.json; the
Data-efficient-training seed's run_train.sh flags (a folder of files, a validation folder, a full fine-tune)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evoforge.cli import app
from evoforge.errors import ConfigError, DataError, EvoforgeError
from evoforge.offline.tiny_builds import StudentBuildConfig, build_tiny_student

MICRO = StudentBuildConfig(hidden_size=64, intermediate_size=128, num_layers=2, num_heads=1, steps=0, eval_tasks=0)


def test_train_makes_a_run_with_one_delta_per_chunk_and_train_at_all(tmp_path: Path) -> None:
    from huggingface_hub import ModelCard
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
    card = ModelCard.load(run / "adapters" / "copy-sft" / "README.md")  # PEFT's template replaced, no local path
    assert card.data.base_model == "student" and card.data.datasets == ["seeds.jsonl"]
    assert str(tmp_path) not in str(card) and "Chunk `copy`, method SFT." in card.text
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


def _seed_folders(root: Path) -> tuple[Path, Path]:
    """run_train.sh's data: folders of .json files, JSON Lines of {"messages": [...]} (one file per ability)."""
    words = ["cab", "dog", "elk", "fig", "gnu", "hen", "ink", "jam", "kit", "log", "mop", "nut"]

    def lines(items: list[str]) -> str:
        turns = [[{"role": "user", "content": f"Repeat {w}"}, {"role": "assistant", "content": w}] for w in items]
        turns[0] += [{"role": "user", "content": "Backwards?"}, {"role": "assistant", "content": items[0][::-1]}]
        return "".join(json.dumps({"messages": t}, ensure_ascii=False) + "\n" for t in turns)

    train, valid = root / "data" / "curated" / "full", root / "data" / "curated" / "valid"
    train.mkdir(parents=True)
    valid.mkdir(parents=True)
    (train / "creative_writing.json").write_text(lines(words[:6]))
    (train / "code_generation.json").write_text(lines(words[6:]))
    (valid / "valid.json").write_text(lines(["owl", "pig", "rat"]))
    return train, valid


def test_a_train_folder_chunks_by_file_and_every_delta_meets_the_validation_folder(tmp_path: Path) -> None:
    student = build_tiny_student(tmp_path / "student", config=MICRO)
    train, valid = _seed_folders(tmp_path)
    args = ["-q", "train", "--train-dir", str(train), "--valid-dir", str(valid), "--model-name-or-path", str(student)]
    args += ["--method", "sft", "--batch-size", "2", "--gradient-accumulation", "2", "--epochs", "1"]
    result = CliRunner().invoke(app, [*args, "--runs-dir", str(tmp_path / "runs"), "--run-id", "lora"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "lora"
    assert sorted(p.stem for p in (run / "chunks").iterdir()) == ["code_generation", "creative_writing"]
    assert len((run / "eval.jsonl").read_text().splitlines()) == 3  # the validation folder, no held-out split
    summary = {d["name"]: d for d in json.loads((run / "deltas.json").read_text())}
    assert sorted(summary) == ["all-sft", "code_generation-sft", "creative_writing-sft"]
    assert all(d["eval_after"]["loss"] > 0 for d in summary.values())
    training = json.loads((run / "adapters" / "all-sft" / "training.json").read_text())
    assert training["config"]["gradient_accumulation_steps"] == 2 and training["metrics"]["accumulation"] == 2
    assert training["metrics"]["steps"] == 3  # 12 records, 2 batches of 2 a step


def test_train_data_flags_and_a_folder_without_records_are_clear_errors(tmp_path: Path) -> None:
    runs = ["--runs-dir", str(tmp_path / "runs")]
    neither = CliRunner().invoke(app, ["train", "--model", "tiny", *runs])
    assert isinstance(neither.exception, ConfigError) and "--data PATH or --train-dir DIR" in str(neither.exception)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.md").write_text("no records here")
    empty = CliRunner().invoke(app, ["train", "--train_dir", str(tmp_path / "empty"), *runs])
    assert isinstance(empty.exception, EvoforgeError) and empty.exception.exit_code == 2  # no traceback
    assert "--train-dir" in str(empty.exception)
    assert str(tmp_path / "empty") in str(empty.exception) and "no record files" in str(empty.exception)
    cycle = CliRunner().invoke(app, ["run", "--set", "train.method=full", *runs])
    assert isinstance(cycle.exception, ConfigError) and "a cycle merges deltas" in str(cycle.exception)
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_run_train_sh_flags_as_written_fine_tune_every_weight(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The seed's README command with `bash run_train.sh` read as `evoforge train` and its base model a micro
    student: a full fine-tune, a checkpoint and a validation loss per epoch, a loadable model that moved."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evoforge.serve.experts import check_adapter_dirs, latest_round

    monkeypatch.chdir(tmp_path)
    build_tiny_student(tmp_path / "models" / "micro", config=MICRO)
    _seed_folders(tmp_path)
    command = '--train_dir "data/curated/full" --valid_dir "data/curated/valid" --model_name_or_path "models/micro" '
    command += "--batch_size 8 --gradient_accumulation 1"
    result = CliRunner().invoke(app, ["train", *(arg.strip('"') for arg in command.split())])
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    assert "full fine-tune of every weight on 12 records (14 answers, 2 chunks), 2 epochs" in result.output
    assert "4 evaluation answers" in result.output  # a conversation's every answer, as run_train.sh trains
    assert "validation loss" in result.output
    summary = json.loads((run / "deltas.json").read_text())
    assert [(d["name"], d["method"]) for d in summary] == [("model", "full")]
    per_epoch = summary[0]["eval_per_epoch"]
    assert [e["epoch"] for e in per_epoch] == [1.0, 2.0] and all(e["loss"] > 0 for e in per_epoch)
    checkpoints = sorted((run / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert [p.name for p in checkpoints] == ["checkpoint-2", "checkpoint-4"]  # 14 answers, 8 a step, 2 epochs
    assert all((p / "model.safetensors").is_file() and (p / "tokenizer.json").is_file() for p in checkpoints)

    tuned = AutoModelForCausalLM.from_pretrained(run / "model")
    AutoTokenizer.from_pretrained(run / "model")
    base = AutoModelForCausalLM.from_pretrained(tmp_path / "models" / "micro")
    last = AutoModelForCausalLM.from_pretrained(checkpoints[-1])
    base_state, last_state = base.state_dict(), last.state_dict()
    moved = [k for k, w in tuned.state_dict().items() if not torch.equal(w, base_state[k])]
    assert len(moved) == len(base_state)  # every weight trained (no frozen base, no adapter)
    assert all(torch.equal(w, last_state[k]) for k, w in tuned.state_dict().items())
    # what serves LoRA experts says how a whole model is served
    with pytest.raises(ConfigError, match="served as --base"):
        check_adapter_dirs({"tuned": run / "model"})
    with pytest.raises(ConfigError, match="it is a full fine-tune: serve it with --base"):
        latest_round(run)
