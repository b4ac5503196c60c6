"""The tiny student: tokenizer + chat template, habits, a HF model directory that loads and generates, the cache,
the shipped build."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from evoforge.errors import ConfigError
from evoforge.offline.pretrain import encode_pair, exact_match_by_category, greedy_generate, pretrain_student
from evoforge.offline.tiny_builds import StudentBuildConfig, build_tiny_student
from evoforge.offline.tokenizer import build_tokenizer
from evoforge.settings import StudentSettings
from evoforge.training.student import load_student, resolve_student, use_threads

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

    tasks = [_Task(f"Repeat: {w}", w, "copy") for w in ["ab", "cd", "ef", "gh"] * 8]  # a category with no habit
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
        assert model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss < 3.0  # random init: ~6.9


def test_exact_match_by_category() -> None:
    tasks = [_Task("q", "5", "arithmetic"), _Task("q", "ab", "strings"), _Task("q", "x", "strings")]
    assert exact_match_by_category(tasks, [" 5 ", "ab", "y"]) == {"all": 0.667, "arithmetic": 1.0, "strings": 0.5}


def test_the_shipped_student_matches_the_recipe_and_its_tokenizer_rebuilds() -> None:
    """The weights in the package are what `evoforge student build` makes from today's recipe and world."""
    import json

    from evoforge.offline.habits import tokenizer_corpus
    from evoforge.offline.tiny_builds import SHIPPED, shipped_digest

    config = StudentBuildConfig()
    assert shipped_digest() == config.digest(), (
        "the shipped tiny student is stale: run `evoforge student build --output offline/tiny_student --force`"
    )
    assert resolve_student("tiny") == SHIPPED
    card = json.loads((SHIPPED / "student.json").read_text())
    assert card["config"] == json.loads(json.dumps(asdict(config)))
    rebuilt = build_tokenizer(tokenizer_corpus(config.tasks()), config.max_positions, config.vocab_size)
    shipped = json.loads((SHIPPED / "tokenizer.json").read_text())
    assert rebuilt.backend_tokenizer.get_vocab() == shipped["model"]["vocab"] | {
        t["content"]: t["id"] for t in shipped["added_tokens"]
    }
    # abilities from pre-training, conventions from instruction tuning: it computes more than it answers exactly,
    # and much of it still when made to answer bare (what instruction tuning can bring out)
    assert card["ability"]["all"] > card["eval"]["all"] and card["bare_ability"]["all"] > card["eval"]["all"]


def test_habits_wrap_answers_and_come_off_again() -> None:
    import random

    from evoforge.offline.habits import HABITS, habitual_answer, without_habit

    task = _Task("Compute 7 + 5.", "12", "arithmetic")
    assert habitual_answer(task, random.Random(0), plain_share=0.0) == HABITS["arithmetic"].format("12")
    assert habitual_answer(task, random.Random(0), plain_share=1.0) == "12"
    assert habitual_answer(_Task("q", "x", "knowledge"), random.Random(0), plain_share=0.0) == "x"
    for habit in HABITS.values():
        assert without_habit(habit.format("CAT, DOG")) == "CAT, DOG"
    assert without_habit(" 12 ") == "12"
    assert without_habit("The answer is") == "The answer is"  # too short to hold a wrapped answer


def test_made_to_answer_bare_the_shipped_student_starts_no_answer_with_a_habit() -> None:
    from evoforge.offline.habits import HABITS, habit_first_tokens
    from evoforge.offline.pretrain import world_tasks

    model, tok = load_student(resolve_student("tiny"), device="cpu")
    heads = [habit.partition("{}")[0].strip() for habit in HABITS.values()]
    banned = habit_first_tokens(tok)
    firsts = {tok.decode([t]) for t in banned}
    assert len(firsts) == len(heads) and all(any(h.startswith(f) for f in firsts) for h in heads)
    prompts = [t.instruction for t in world_tasks(16, 5, ("arithmetic", "strings", "format", "instruct"), 2)]
    free = greedy_generate(model, tok, prompts, max_new_tokens=12)
    bare = greedy_generate(model, tok, prompts, max_new_tokens=12, suppress_first=banned)
    assert any(r.startswith(tuple(heads)) for r in free)  # left alone it mostly answers in its habits
    assert not any(r.startswith(tuple(firsts)) for r in bare)


def test_a_trained_tokenizer_keeps_digits_apart_and_shortens_world_text() -> None:
    from evoforge.offline.habits import tokenizer_corpus
    from evoforge.offline.pretrain import world_tasks

    tasks = world_tasks(400, 0, ("arithmetic", "format"), 2)
    tok = build_tokenizer(tokenizer_corpus(tasks), vocab_size=600)
    text = "Compute 58 + 50, then multiply by 4."
    pieces = tok.tokenize(text)
    assert all(not (p.strip("Ġ").isdigit() and len(p.strip("Ġ")) > 1) for p in pieces)  # one digit per token
    assert len(pieces) < len(text.encode()) / 2
    assert tok.decode(tok(text + " 世界", add_special_tokens=False)["input_ids"]) == text + " 世界"


def test_the_tiny_students_run_on_one_thread_unless_told_and_other_models_keep_torchs_default(tmp_path: Path) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        use_threads(StudentSettings(model=str(tmp_path)))
        assert torch.get_num_threads() == 3
        use_threads(StudentSettings(model="tiny"))
        assert torch.get_num_threads() == 1
        use_threads(StudentSettings(model="tiny", threads=2))
        assert torch.get_num_threads() == 2
        use_threads(StudentSettings(model=str(tmp_path)), "tiny-reader")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
