"""The tiny student: byte tokenizer + chat template, a HF model directory that loads and generates, the cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from evoforge.errors import ConfigError
from evoforge.offline.pretrain import encode_pair, exact_match_by_category, greedy_generate, pretrain_student
from evoforge.offline.student import StudentBuildConfig, build_tiny_student, resolve_student
from evoforge.offline.tokenizer import build_tokenizer
from evoforge.training.student import load_student

MICRO = StudentBuildConfig(hidden_size=64, intermediate_size=128, num_layers=2, num_heads=1, steps=0, eval_tasks=0)


@dataclass
class _Task:
    instruction: str
    answer: str
    category: str
    level: int = 1


def test_tokenizer_round_trips_any_text_and_marks_assistant_tokens() -> None:
    tok = build_tokenizer()
    text = "Reverse 'héllo 世界' 12+3"
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text
    messages = [{"role": "user", "content": "2+3?"}, {"role": "assistant", "content": "5"}]
    out = tok.apply_chat_template(messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    answer = [i for i, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m]
    assert answer == [*tok("5", add_special_tokens=False)["input_ids"], tok.eos_token_id]
    prompt = tok.apply_chat_template(messages[:1], add_generation_prompt=True, tokenize=True, return_dict=False)
    assert out["input_ids"][: len(prompt)] == list(prompt)


def test_micro_student_is_a_normal_hf_directory(tmp_path: Path) -> None:
    path = build_tiny_student(tmp_path / "s", config=MICRO)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja", "student.json"):
        assert (path / name).is_file(), name
    assert resolve_student(path) == path
    model, tok = load_student(path, device="cpu")
    assert tok.padding_side == "left" and str(next(model.parameters()).dtype) == "torch.float32"
    outs = greedy_generate(model, tok, ["What is 1+1?", "Say hi"], max_new_tokens=5)
    assert len(outs) == 2 and all(isinstance(o, str) for o in outs)
    # cached: a second build returns at once; a non-student folder is not overwritten
    assert build_tiny_student(path, config=MICRO) == path
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("keep")
    with pytest.raises(ConfigError, match="--force"):
        build_tiny_student(tmp_path / "other", config=MICRO)


def test_resolve_student_rejects_a_non_model_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config\.json"):
        resolve_student(tmp_path)


def test_pretraining_lowers_the_answer_loss(tmp_path: Path) -> None:
    import torch

    tasks = [_Task(f"Repeat: {w}", w, "strings") for w in ["ab", "cd", "ef", "gh"] * 8]
    cfg = StudentBuildConfig(hidden_size=64, intermediate_size=128, num_layers=2, num_heads=1, steps=30, batch_size=8)
    path = build_tiny_student(tmp_path / "s", config=MICRO)
    threads = torch.get_num_threads()
    stats = pretrain_student(path, cfg, tasks)
    assert torch.get_num_threads() == threads
    assert stats["loss_curve"][-1]["loss"] < stats["loss_curve"][0]["loss"] * 0.7
    model, tok = load_student(path, device="cpu")
    ids, labels = encode_pair(tok, "Repeat: ab", "ab", 512)
    assert labels.count(-100) == len(ids) - 3  # "a", "b", eos
    with torch.no_grad():
        assert model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss < 2.0  # random init: ~5.6


def test_exact_match_by_category() -> None:
    tasks = [_Task("q", "5", "arithmetic"), _Task("q", "ab", "strings"), _Task("q", "x", "strings")]
    assert exact_match_by_category(tasks, [" 5 ", "ab", "y"]) == {"all": 0.667, "arithmetic": 1.0, "strings": 0.5}
