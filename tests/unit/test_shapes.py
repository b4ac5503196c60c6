"""Real model shapes: published parameter counts, a written shape that loads and generates, refusals, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evoforge.cli import app
from evoforge.errors import ConfigError
from evoforge.offline.shapes import SHAPES, parameter_count, shape_config, write_shape

PUBLISHED = {"smollm2-135m": 135e6, "qwen2.5-0.5b": 494e6, "llama-3.2-1b": 1.24e9, "llama-3-8b": 8.03e9}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_shape("llama-8m", tmp_path_factory.mktemp("shapes") / "llama-8m", seed=3)


@pytest.fixture(scope="module")
def config_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_shape("llama-3-8b", tmp_path_factory.mktemp("shapes") / "llama-3-8b", config_only=True)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_shapes_have_the_published_sizes(name: str) -> None:
    assert parameter_count(name) == pytest.approx(PUBLISHED[name], rel=0.01)


def test_the_size_axis_is_about_its_names() -> None:
    sizes = {name: parameter_count(name) / 1e6 for name in ("llama-8m", "llama-30m", "llama-125m")}
    assert sizes == pytest.approx({"llama-8m": 8, "llama-30m": 30, "llama-125m": 125}, rel=0.05)
    assert all(shape_config(name).vocab_size == 32000 for name in sizes)
    assert SHAPES["llama-3-8b"].config_only and not shape_config("llama-3-8b").tie_word_embeddings


def test_a_written_shape_loads_as_a_student_and_generates_until_its_limit(small: Path) -> None:
    import torch

    from evoforge.training.student import load_student

    model, tokenizer = load_student(small, device="cpu")
    assert len(tokenizer) == model.config.vocab_size == 32000
    assert model.get_input_embeddings().weight.shape == (32000, 192)
    assert next(model.parameters()).dtype == torch.float32
    assert json.loads((small / "shape.json").read_text()) == {
        "shape": "llama-8m",
        "source": SHAPES["llama-8m"].source,
        "parameters": parameter_count("llama-8m"),
        "seed": 3,
        "weights": True,
    }
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Add 12 and 30."}], add_generation_prompt=True, return_tensors="pt"
    )
    assert tokenizer.decode(prompt["input_ids"][0]) == "<s><|user|>Add 12 and 30.<|assistant|>"
    out = model.generate(**prompt, max_new_tokens=6)
    assert out.shape[1] == prompt["input_ids"].shape[1] + 6  # random weights: no EOS, the worst case
    text = tokenizer.decode(out[0, prompt["input_ids"].shape[1] :], skip_special_tokens=True)
    assert 0 < len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= 12  # filler pieces encode back


def test_config_only_writes_config_and_tokenizer_without_weights(config_only: Path, small: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer

    assert not list(config_only.glob("*.safetensors"))
    assert AutoConfig.from_pretrained(config_only).num_hidden_layers == 32
    big, little = AutoTokenizer.from_pretrained(config_only), AutoTokenizer.from_pretrained(small)
    assert len(big) == 128256
    # the same learned BPE, filled in the same order: the 32k vocabulary is a prefix of the 128k one
    assert {t: i for t, i in big.get_vocab().items() if i < 32000} == little.get_vocab()


def test_weights_of_a_config_only_shape_and_unknown_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'llama-3-8b' has 32\.1 GB of float32 weights.*--config-only"):
        write_shape("llama-3-8b", tmp_path / "big")
    assert not (tmp_path / "big").exists()
    with pytest.raises(ConfigError, match="unknown shape 'gpt-5'; expected one of llama-8m, llama-30m"):
        parameter_count("gpt-5")


def test_an_existing_output_is_never_overwritten_silently(tmp_path: Path, small: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "mine.txt").write_text("keep")
    with pytest.raises(ConfigError, match="exists and is not empty; pass --force"):
        write_shape("llama-8m", notes, config_only=True)
    with pytest.raises(ConfigError, match="not a model directory"):
        write_shape("llama-8m", notes, config_only=True, force=True)
    assert (notes / "mine.txt").read_text() == "keep"


def test_student_init_command(tmp_path: Path) -> None:
    out = tmp_path / "qwen"
    args = ["student", "init", "--shape", "qwen2.5-0.5b", "--output", str(out), "--config-only"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "qwen2.5-0.5b (Qwen/Qwen2.5-0.5B): 494,032,768 parameters, config and tokenizer" in result.output
    assert json.loads((out / "config.json").read_text())["vocab_size"] == 151936
    again = CliRunner().invoke(app, args)
    assert isinstance(again.exception, ConfigError) and "--force" in str(again.exception)
    assert CliRunner().invoke(app, [*args, "--force"]).exit_code == 0
