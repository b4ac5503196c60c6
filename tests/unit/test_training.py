"""LoRA deltas with TRL: SFT lowers held-out loss, DPO raises the held-out margin, adapters reload exactly,
unchanged deltas are reused, and bad data is a clear error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from evoforge.data.chunking import chunk_dataset, write_chunks
from evoforge.errors import ConfigError, DataError
from evoforge.offline.tiny_builds import StudentBuildConfig, build_tiny_student
from evoforge.settings import TrainSettings
from evoforge.training.batches import BatchPlan, plan_batches, token_budget
from evoforge.training.deltas import methods_for, train_deltas
from evoforge.training.dpo import DPODelta, DPODeltaConfig
from evoforge.training.examples import PLAIN_CHAT_TEMPLATE, every_answer, fit_lengths
from evoforge.training.full import FullConfig, FullSFT
from evoforge.training.sft import SFTDelta, SFTDeltaConfig
from evoforge.training.student import load_student
from evoforge.training.trainer import DeltaConfig

MICRO = StudentBuildConfig(hidden_size=64, intermediate_size=128, num_layers=2, num_heads=1, steps=0, eval_tasks=0)
C = TypeVar("C", bound=DeltaConfig)
WORDS = ["cab", "dog", "elk", "fig", "gnu", "hen", "ink", "jam", "kit", "log", "mop", "nut"]


@pytest.fixture(scope="module")
def micro(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is faster, and the CI machine is shared
    yield build_tiny_student(tmp_path_factory.mktemp("student") / "micro", config=MICRO)
    torch.set_num_threads(threads)


def _sft(words: list[str], category: str = "copy") -> list[dict[str, Any]]:
    return [{"prompt": f"Repeat {w}", "completion": w, "category": category} for w in words]


def _prefs(words: list[str]) -> list[dict[str, Any]]:
    return [{"prompt": f"Repeat {w}", "chosen": w, "rejected": w[::-1], "category": "prefs"} for w in words]


def _config(kind: type[C], **settings: Any) -> C:
    """A delta config from ``train`` settings (defaults for the rest), seed 0, on CPU."""
    return kind.from_settings(TrainSettings(**settings), seed=0, device="cpu")


class _KeepTrainer(SFTDelta):
    """Keeps the TRL trainer so the test can compare the in-memory model with the reloaded adapter."""

    def make_trainer(self, *args: Any, **kwargs: Any) -> Any:
        self.trainer = super().make_trainer(*args, **kwargs)
        return self.trainer


def test_sft_delta_lowers_held_out_loss_and_reloads_exactly(micro: Path, tmp_path: Path) -> None:
    import torch
    from peft import PeftModel

    delta = _KeepTrainer(_config(SFTDeltaConfig, epochs=3, batch_size=8, learning_rate=1e-2, lora_r=4))
    out = tmp_path / "copy-sft"
    metrics = delta.train(micro, _sft(WORDS * 2), out, chunk="copy", eval_records=_sft(["pig", "owl"]))
    assert metrics["eval_after"]["loss"] < metrics["eval_before"]["loss"] - 0.3
    assert metrics["tokens"] > 0 and metrics["tokens_per_s"] > 0 and len(metrics["loss_curve"]) == metrics["steps"]
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in out.iterdir()}

    model, tok = load_student(micro, device="cpu")
    prompts = [tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
               for p in ["Repeat pig", "Repeat owl", "Say something"]]  # fmt: skip
    batch = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    base_logits = model(**batch).logits.detach()
    trained = delta.trainer.model.eval()
    reloaded = PeftModel.from_pretrained(model, out).eval()
    assert torch.allclose(reloaded(**batch).logits, trained(**batch).logits, atol=1e-5)
    assert not torch.allclose(reloaded(**batch).logits, base_logits, atol=1e-3)
    kwargs = {"max_new_tokens": 6, "do_sample": False, "pad_token_id": tok.pad_token_id}
    assert torch.equal(reloaded.generate(**batch, **kwargs), trained.generate(**batch, **kwargs))


def test_train_deltas_auto_methods_dpo_margin_and_reuse(micro: Path, tmp_path: Path) -> None:
    records = _sft(WORDS) + _prefs(WORDS * 2)
    chunks, held = chunk_dataset(records, "category", eval_fraction=0.2, seed=0)
    write_chunks(tmp_path, chunks, held)
    settings = TrainSettings(method="auto", train_all=False, epochs=2, batch_size=8, dpo_learning_rate=1e-2)
    kwargs = {"eval_path": tmp_path / "eval.jsonl", "device": "cpu"}
    results = train_deltas(micro, tmp_path / "chunks", tmp_path / "adapters", settings, **kwargs)
    assert [(r.name, r.method) for r in results] == [("copy-sft", "sft"), ("prefs-dpo", "dpo")]
    dpo = results[1].metrics
    assert dpo["eval_before"]["rewards/margins"] == 0.0
    # from 0: the BPE student spends ~2 tokens on an answer, so the summed log-ratios stay small
    assert dpo["eval_after"]["rewards/margins"] > 0.03 and dpo["eval_after"]["rewards/accuracies"] > 0.5
    meta = json.loads((tmp_path / "adapters" / "prefs-dpo" / "training.json").read_text())
    assert meta["method"] == "dpo" and meta["config"]["beta"] == settings.dpo_beta and meta["inputs_hash"]

    again = train_deltas(micro, tmp_path / "chunks", tmp_path / "adapters", settings, **kwargs)
    assert all(r.reused for r in again) and again[1].metrics == dpo


def test_method_plans_and_bad_chunks() -> None:
    sft, prefs = _sft(WORDS[:2]), _prefs(WORDS[:2])
    assert methods_for(sft, "auto", "c") == ["sft"] and methods_for(prefs, "auto", "c") == ["dpo"]
    assert methods_for(prefs, "both", "c") == ["sft", "dpo"] and methods_for(sft + prefs, "auto", "c") == ["sft"]
    with pytest.raises(DataError, match="chunk 'c' is empty"):
        methods_for([], "auto", "c")
    with pytest.raises(DataError, match="no chosen/rejected pairs"):
        methods_for(sft, "dpo", "c")
    with pytest.raises(DataError, match="DPO needs prompt/chosen/rejected"):
        DPODelta(_config(DPODeltaConfig)).to_example({"prompt": "p", "chosen": "c"})
    with pytest.raises(DataError, match="no records"):
        SFTDelta(_config(SFTDeltaConfig)).train(Path("."), [], Path("x"), chunk="c")


def test_delta_configs_take_every_hyper_parameter_from_the_train_section() -> None:
    from dataclasses import MISSING, asdict, fields

    settings = TrainSettings(
        lora_r=3, lora_alpha=5, lora_dropout=0.1, target_modules=["q_proj"], epochs=1.5, learning_rate=1e-3,
        dpo_learning_rate=1e-4, dpo_beta=0.2, batch_size=2, gradient_accumulation_steps=4, max_length=64,
        max_batch_tokens=96, packing=True, full_learning_rate=2e-6, trust_remote_code=True,
    )  # fmt: skip
    shared = {"lora_r": 3, "lora_alpha": 5, "lora_dropout": 0.1, "target_modules": ["q_proj"], "epochs": 1.5}
    sft = asdict(SFTDeltaConfig.from_settings(settings, seed=7, device="cpu"))
    dpo = asdict(DPODeltaConfig.from_settings(settings, seed=7, device="cpu"))
    run = {"gradient_accumulation_steps": 4, "max_batch_tokens": 96, "trust_remote_code": True}
    run |= {"seed": 7, "device": "cpu"}
    assert sft == {**shared, "learning_rate": 1e-3, "batch_size": 2, "max_length": 64, **run, "packing": True}
    assert dpo == {**shared, "learning_rate": 1e-4, "batch_size": 2, "max_length": 64, **run, "beta": 0.2}
    full = asdict(FullConfig.from_settings(settings, seed=7, device="cpu"))
    assert full == {**sft, "learning_rate": 2e-6}
    # training.json's config keeps its key order
    order = ["lora_r", "lora_alpha", "lora_dropout", "target_modules", "epochs", "learning_rate", "batch_size"]
    order += ["gradient_accumulation_steps", "max_length", "max_batch_tokens", "trust_remote_code", "seed", "device"]
    assert list(sft) == [*order, "packing"] and list(full) == list(sft)
    assert list(dpo)[-1] == "beta"
    # one source of defaults: the delta configs have none of their own
    assert all(f.default is MISSING for kind in (SFTDeltaConfig, DPODeltaConfig, FullConfig) for f in fields(kind))


def test_too_long_sequences_are_truncated_dropped_or_refused(micro: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(micro)
    long_answer, short = {"prompt": "hi", "completion": "x" * 50}, {"prompt": "hi", "completion": "x"}
    long_prompt = {"prompt": "y" * 40, "completion": "x"}
    kept, truncated, dropped, longest = fit_lengths(tok, [long_answer, short, long_prompt], max_length=32, chunk="c")
    assert (kept, truncated, dropped, longest) == ([long_answer, short], 1, 1, 32)
    with pytest.raises(DataError, match=r"chunk 'c': every prompt is at least max_length=32"):
        fit_lengths(tok, [long_prompt], max_length=32, chunk="c")


def test_a_token_budget_cuts_steps_into_micro_batches_of_a_divisor_of_the_batch() -> None:
    assert plan_batches(16, 100, None) == plan_batches(16, 100, 1600) == BatchPlan(16, 1)
    assert plan_batches(16, 100, 1599) == BatchPlan(8, 2)
    assert plan_batches(12, 100, 500) == BatchPlan(4, 3)
    assert plan_batches(16, 2000, 524) == BatchPlan(1, 16)  # a row longer than the budget trains alone
    # train.gradient_accumulation_steps: that many batches of batch_size per step, each cut as before
    assert plan_batches(16, 100, None, 3) == BatchPlan(16, 3) and plan_batches(16, 100, 1599, 3) == BatchPlan(8, 6)
    # the default: logits of tokens × vocabulary on a CPU, none on a GPU
    assert token_budget(None, 1024, cpu=True) == 16384 and token_budget(None, 32000, cpu=True) == 524
    assert token_budget(None, 32000, cpu=False) is None and token_budget(300, 32000, cpu=False) == 300


def test_micro_batches_with_accumulation_train_the_same_delta_as_whole_steps(micro: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    records = _sft(WORDS + [w * 5 for w in WORDS[:4]])
    weights = []
    for name, budget in (("whole", None), ("micro", 40)):
        delta = SFTDelta(_config(SFTDeltaConfig, epochs=1, batch_size=8, learning_rate=1e-2, max_batch_tokens=budget))
        metrics = delta.train(micro, records, tmp_path / name, chunk="c")
        weights.append(load_file(tmp_path / name / "adapter_model.safetensors"))
        assert metrics["steps"] == 2 and metrics["loss_curve"][-1]["step"] == 2
    assert metrics["micro_batch"] < 8 and metrics["micro_batch"] * metrics["accumulation"] == 8
    for key, whole in weights[0].items():
        assert not torch.equal(whole, torch.zeros_like(whole)) or "lora_B" not in key
        torch.testing.assert_close(weights[1][key], whole, rtol=1e-4, atol=1e-6)


def test_gradient_accumulation_reaches_the_trainer_and_makes_longer_steps(micro: Path, tmp_path: Path) -> None:
    delta = _KeepTrainer(_config(SFTDeltaConfig, epochs=1, batch_size=2, gradient_accumulation_steps=2))
    metrics = delta.train(micro, _sft(WORDS[:8]), tmp_path / "acc", chunk="c")
    assert delta.trainer.args.gradient_accumulation_steps == 2 and delta.trainer.args.per_device_train_batch_size == 2
    assert (metrics["micro_batch"], metrics["accumulation"], metrics["steps"]) == (2, 2, 2)  # 8 records, 4 a step


def test_a_conversation_is_one_record_per_answer_for_a_full_fine_tune() -> None:
    turns = [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"}]
    record = {"system": "s", "history": turns, "prompt": "q2", "completion": "a2", "source_file": "f"}
    first, last = every_answer(record)
    assert first == {"system": "s", "history": [], "prompt": "q1", "completion": "a1", "source_file": "f"}
    assert last is record and every_answer({"prompt": "q", "completion": "a"}) == [{"prompt": "q", "completion": "a"}]


def test_a_model_without_a_chat_template_is_refused_for_deltas_and_learns_the_plain_one_whole(
    micro: Path, tmp_path: Path
) -> None:
    import shutil

    from transformers import AutoTokenizer

    bare = tmp_path / "base-model"
    shutil.copytree(micro, bare)
    (bare / "chat_template.jinja").unlink()
    with pytest.raises(ConfigError, match="base-model has no chat template"):
        SFTDelta(_config(SFTDeltaConfig)).train(bare, _sft(WORDS[:4]), tmp_path / "delta", chunk="c")
    full = FullSFT(_config(FullConfig, epochs=1, batch_size=4), tmp_path / "checkpoints")
    metrics = full.train(bare, _sft(WORDS[:4]), tmp_path / "model", chunk="all", eval_records=_sft(["owl"]))
    assert AutoTokenizer.from_pretrained(tmp_path / "model").chat_template == PLAIN_CHAT_TEMPLATE
    assert [p.name for p in (tmp_path / "checkpoints").glob("checkpoint-*")] == ["checkpoint-1"]
    assert [e["epoch"] for e in metrics["eval_per_epoch"]] == [1.0] and metrics["eval_after"]["loss"] > 0
