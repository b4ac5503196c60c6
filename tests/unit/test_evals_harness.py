"""Generator (resident model + weighted LoRA mix) and evaluate() on a tiny random-init Llama."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from evoforge.data.records import Example
from evoforge.errors import ConfigError, DataError
from evoforge.evals.batched_generation import Generator, token_batches
from evoforge.evals.harness import evaluate, load_eval_records
from evoforge.testing.tiny_models import build_lora_adapter, build_tiny_lm

PROMPTS = [
    "What is 2 plus 3?",
    "Reverse 'abc'",
    "hi",
    "Write a list of three fruits please",
    "5G需要提供更高的传输速率",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny model dir and two LoRA adapters with different random weights."""
    root = tmp_path_factory.mktemp("tiny")
    model = build_tiny_lm(root / "model")
    return {
        "model": model,
        "a": build_lora_adapter(model, root / "a", seed=1),
        "b": build_lora_adapter(model, root / "b", seed=2, r=2, alpha=6),
    }


@pytest.fixture(scope="module")
def gen(tiny: dict[str, Path]) -> Generator:
    torch.manual_seed(0)
    return Generator(tiny["model"], {"a": tiny["a"], "b": tiny["b"]}, device="cpu", batch_size=4, max_new_tokens=8)


def _logits(model: torch.nn.Module, tokenizer, prompts: list[str]) -> torch.Tensor:
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    with torch.no_grad():
        return model(**batch).logits


def test_single_adapter_at_weight_one_equals_peft_merge_and_unload(gen: Generator, tiny: dict[str, Path]) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    gen.set_weights({"a": 1.0})
    ours = _logits(gen.model, gen.tokenizer, PROMPTS)
    merged = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny["model"]), tiny["a"]
    ).merge_and_unload()
    reference = _logits(merged, gen.tokenizer, PROMPTS)
    base = _logits(AutoModelForCausalLM.from_pretrained(tiny["model"]), gen.tokenizer, PROMPTS)
    assert (reference - base).abs().max() > 1e-2  # the adapter really changes the model
    torch.testing.assert_close(ours, reference, atol=1e-4, rtol=1e-4)


def test_weighted_mix_equals_peft_cat_combination(gen: Generator, tiny: dict[str, Path]) -> None:
    """Σ wᵢ·sᵢ·BᵢAᵢ through adapter scales equals PEFT's exact 'cat' weighted adapter."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    weights = {"a": 0.3, "b": -0.7}
    gen.set_weights(weights)
    ours = _logits(gen.model, gen.tokenizer, PROMPTS)
    ref = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny["model"]), tiny["a"], adapter_name="a")
    ref.load_adapter(tiny["b"], adapter_name="b")
    ref.add_weighted_adapter(["a", "b"], [0.3, -0.7], adapter_name="mix", combination_type="cat")
    ref.set_adapter("mix")
    torch.testing.assert_close(ours, _logits(ref, gen.tokenizer, PROMPTS), atol=1e-4, rtol=1e-4)
    assert gen.weights == weights


def test_zero_weights_give_the_base_model(gen: Generator, tiny: dict[str, Path]) -> None:
    from transformers import AutoModelForCausalLM

    gen.set_weights({"a": 0.0})
    assert gen.weights == {"a": 0.0, "b": 0.0}
    base = AutoModelForCausalLM.from_pretrained(tiny["model"])
    torch.testing.assert_close(_logits(gen.model, gen.tokenizer, PROMPTS), _logits(base, gen.tokenizer, PROMPTS))


def test_set_weights_rejects_unknown_adapter(gen: Generator) -> None:
    with pytest.raises(ConfigError, match="unknown adapter"):
        gen.set_weights({"nope": 1.0})


def test_batched_generation_keeps_order_and_matches_one_at_a_time(gen: Generator) -> None:
    gen.set_weights({"a": 0.5, "b": 0.5})
    batched = gen.generate(PROMPTS)
    assert gen.generate(PROMPTS[::-1]) == batched[::-1]
    gen.batch_size = 1
    try:
        single = gen.generate(PROMPTS)
    finally:
        gen.batch_size = 4
    assert batched == single
    assert all(isinstance(o, str) for o in batched)


def test_token_batches_bound_rows_and_padded_tokens() -> None:
    lengths = [5, 40, 12, 40, 7, 30, 3, 100]
    batches = list(token_batches(lengths, max_rows=3, max_tokens=90))
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert [i for b in batches for i in b] == [7, 1, 3, 5, 2, 4, 0, 6]  # longest first, ties in input order
    assert batches[0] == [7]  # longer than the budget: a batch alone
    for batch in batches[1:]:
        assert len(batch) <= 3 and len(batch) * max(lengths[i] for i in batch) <= 90
    assert [len(b) for b in token_batches(lengths, max_rows=3, max_tokens=None)] == [3, 3, 2]


def test_a_token_budget_split_gives_the_same_greedy_predictions_as_one_batch() -> None:
    """On the shipped tiny student: left padding and length order make the split invisible in the outputs."""
    from evoforge.training.student import resolve_student

    prompts = [f"{p} " + "and then some more words " * (n % 5) for n, p in enumerate(PROMPTS * 2)]
    one = Generator(resolve_student("tiny"), device="cpu", batch_size=64, max_new_tokens=8, max_batch_tokens=None)
    lengths = [len(one._encode(p)) + one.max_new_tokens for p in prompts]
    budget = 2 * max(lengths)
    assert len(list(token_batches(lengths, 64, budget))) >= 4
    together = one.generate(prompts)
    one.max_batch_tokens = budget
    assert one.generate(prompts) == together
    assert len(set(together)) > 3  # the prompts really get different answers


def test_generation_uses_chat_template_and_stops_at_eos(gen: Generator) -> None:
    text = gen.render("hi")
    assert text.startswith("<s><|user|>\nhi") and text.endswith("<|assistant|>\n")
    eos = gen.tokenizer.eos_token_id
    hello = gen.tokenizer("hello", add_special_tokens=False)["input_ids"]
    assert gen._decode([*hello, eos, *hello]) == "hello"


def test_evaluate_scores_per_example_and_category(tmp_path: Path) -> None:
    class Echo:
        def generate(self, prompts: list[str], progress=None) -> list[str]:
            return [p.upper() for p in prompts]

    records = [
        Example.for_eval("ab", "AB", "x"),
        Example.for_eval("cd", "cd", "x"),
        {"prompt": "ef", "reference": "EF", "category": "y"},
    ]
    report = evaluate(Echo(), records, "exact_match")
    assert report.score == pytest.approx(2 / 3)
    assert report.per_category == {"x": 0.5, "y": 1.0}
    assert [e["prediction"] for e in report.per_example] == ["AB", "CD", "EF"]
    assert [list(e) for e in report.per_example] == [["prompt", "reference", "category", "prediction", "score"]] * 3
    assert report.per_example[2] == {"prompt": "ef", "reference": "EF", "category": "y", "prediction": "EF", "score": 1}
    report.save(tmp_path / "evals" / "toy.json")
    saved = json.loads((tmp_path / "evals" / "toy.json").read_text())
    assert saved["score"] == pytest.approx(2 / 3) and len(saved["per_example"]) == 3


def test_load_eval_records_jsonl_and_self_evolution_json(tmp_path: Path) -> None:
    from conftest import DATASETS

    path = tmp_path / "e.jsonl"
    path.write_text('{"prompt": "p", "reference": "r", "category": "c"}\n\n{"prompt": "q", "reference": "s"}\n')
    assert load_eval_records(path) == [Example.for_eval("p", "r", "c"), Example.for_eval("q", "s", "all")]
    assert load_eval_records(path)[1] == Example("q", completion="s", category="all")
    toy = load_eval_records(DATASETS / "self-evolution" / "toy_eval_data.json")
    assert len(toy) == 10 and toy[0].prompt.startswith("5G网络")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "p"}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:1"):
        load_eval_records(bad)


def test_written_mixed_adapter_equals_the_resident_mix(gen: Generator, tiny: dict[str, Path], tmp_path: Path) -> None:
    """The vLLM backend's single-adapter form of a mix is exact (checked with PEFT on CPU)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from evoforge.evals.vllm_backend import write_mixed_adapter

    weights = {"a": 0.4, "b": 1.3}
    gen.set_weights(weights)
    mixed = write_mixed_adapter({"a": tiny["a"], "b": tiny["b"]}, weights, tmp_path / "mix")
    ref = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny["model"]), mixed)
    torch.testing.assert_close(_logits(gen.model, gen.tokenizer, PROMPTS), _logits(ref, gen.tokenizer, PROMPTS))


def test_vllm_backend_without_the_extra_says_how_to_install(tiny: dict[str, Path]) -> None:
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed")
    from evoforge.evals.vllm_backend import VLLMGenerator

    with pytest.raises(ConfigError, match=r"evoforge\[vllm\]"):
        VLLMGenerator(tiny["model"])
