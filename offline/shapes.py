"""Real model shapes without a download: a random-initialised model of a named architecture's exact shape.

``evoforge student init --shape NAME --output DIR`` writes a normal Hugging Face model directory (config.json,
float32 model.safetensors, generation_config.json, tokenizer with the chat template) built from transformers'
``LlamaConfig`` / ``Qwen2Config``. A user rehearses a config at the shape of the model they mean to run, before
downloading it or paying for a GPU; the scale bench (``bench/scale.py``) measures evoforge's cost curve on them.

The published shapes (``smollm2-135m``, ``qwen2.5-0.5b``, ``llama-3.2-1b``, ``llama-3-8b``) copy the dimensions of
the published config.json files (hidden size, layers, heads, KV heads, MLP width, vocabulary, tied embeddings,
RoPE parameters, context length); ``llama-3-8b`` is config-only here (32 GB of float32 weights). The ``llama-8m``,
``llama-30m`` and ``llama-125m`` shapes are small Llamas with Llama 2's 32k vocabulary, the scale bench's size axis.

The tokenizer is the tiny student's byte-level BPE (:mod:`evoforge.offline.tokenizer`: chat template, role tokens,
split digits), trained locally in seconds on text that ships with the package: the skills world's tasks and the
prompt templates. That corpus gives a few thousand merges, not 32k-152k, so the learned vocabulary is filled up to
exactly the shape's ``vocab_size`` with filler pieces and their merges: ``len(tokenizer) == config.vocab_size``,
and the embedding and LM head have the real shape. The weights are random, so a shape's model practically never
emits EOS and generates until ``max_new_tokens`` (160, as the tiny student): the worst case for generation time,
kept on purpose.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evoforge.errors import ConfigError
from evoforge.offline.tokenizer import BOS, EOS, PAD, SPECIAL_TOKENS

LEARNED_VOCAB = 8192  # the cap on the BPE's learned vocabulary (the shipped text gives about half of it)
TOKENIZER_TASKS = 10000  # skills-world tasks in the tokenizer's corpus (with every prompt template)
CARD_FILE = "shape.json"  # what a written shape records: its name, source, parameters and seed


@dataclass(frozen=True)
class Shape:
    """A named model shape.

    Attributes:
        name: the CLI's name for it.
        architecture: ``llama`` or ``qwen2`` (transformers' config class).
        config_kwargs: the config's dimensions (everything but the vocabulary and the special token ids).
        vocab_size: the vocabulary, embedding rows and LM head rows.
        source: the published model it mirrors, or what it is for.
        config_only: never instantiated here (its weights would not fit this machine).
    """

    name: str
    architecture: str
    config_kwargs: dict[str, Any] = field(hash=False)
    vocab_size: int
    source: str
    config_only: bool = False


def _llama(hidden: int, layers: int, heads: int, intermediate: int, **extra: Any) -> dict[str, Any]:
    kwargs = {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": heads,
        "intermediate_size": intermediate,
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": True,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},
    }
    return kwargs | extra


_LLAMA3_ROPE = {"rope_type": "default", "rope_theta": 500000.0}
SHAPES: dict[str, Shape] = {
    shape.name: shape
    for shape in (
        Shape("llama-8m", "llama", _llama(192, 4, 6, 512), 32000, "a small Llama, Llama 2's 32k vocabulary"),
        Shape("llama-30m", "llama", _llama(384, 10, 6, 1024), 32000, "a small Llama, Llama 2's 32k vocabulary"),
        Shape("llama-125m", "llama", _llama(768, 12, 12, 2560), 32000, "a GPT-2-small-sized Llama, 32k vocabulary"),
        Shape(
            "smollm2-135m",
            "llama",
            _llama(
                576, 30, 9, 1536, num_key_value_heads=3, max_position_embeddings=8192,
                rope_parameters={"rope_type": "default", "rope_theta": 100000.0},
            ),
            49152,
            "HuggingFaceTB/SmolLM2-135M",
        ),
        Shape(
            "qwen2.5-0.5b",
            "qwen2",
            {
                "hidden_size": 896,
                "num_hidden_layers": 24,
                "num_attention_heads": 14,
                "num_key_value_heads": 2,
                "intermediate_size": 4864,
                "max_position_embeddings": 32768,
                "rms_norm_eps": 1e-6,
                "tie_word_embeddings": True,
                "use_sliding_window": False,
                "sliding_window": 32768,
                "max_window_layers": 21,
                "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
            },
            151936,
            "Qwen/Qwen2.5-0.5B",
        ),
        Shape(
            "llama-3.2-1b",
            "llama",
            _llama(
                2048, 16, 32, 8192, num_key_value_heads=8, max_position_embeddings=131072,
                rope_parameters={
                    "rope_type": "llama3",
                    "rope_theta": 500000.0,
                    "factor": 32.0,
                    "low_freq_factor": 1.0,
                    "high_freq_factor": 4.0,
                    "original_max_position_embeddings": 8192,
                },
            ),
            128256,
            "meta-llama/Llama-3.2-1B",
        ),
        Shape(
            "llama-3-8b",
            "llama",
            _llama(
                4096, 32, 32, 14336, num_key_value_heads=8, max_position_embeddings=8192,
                tie_word_embeddings=False, rope_parameters=_LLAMA3_ROPE,
            ),
            128256,
            "meta-llama/Meta-Llama-3-8B",
            config_only=True,
        ),
    )
}  # fmt: skip


def get_shape(name: str) -> Shape:
    """The shape called ``name``; ConfigError listing the known names otherwise."""
    if name not in SHAPES:
        raise ConfigError(f"unknown shape '{name}'; expected one of {', '.join(SHAPES)}")
    return SHAPES[name]


def shape_config(name: str) -> Any:
    """The shape's transformers config (no weights), with the shape tokenizer's bos/eos/pad ids."""
    from transformers import LlamaConfig, Qwen2Config

    shape = get_shape(name)
    config_class = {"llama": LlamaConfig, "qwen2": Qwen2Config}[shape.architecture]
    ids = {f"{role}_token_id": SPECIAL_TOKENS.index(tok) for role, tok in (("bos", BOS), ("eos", EOS), ("pad", PAD))}
    return config_class(vocab_size=shape.vocab_size, **ids, **shape.config_kwargs)


def parameter_count(name: str) -> int:
    """The shape's exact number of parameters (tied embeddings counted once), computed on the meta device."""
    return config_parameters(shape_config(name))


def config_parameters(config: Any) -> int:
    """The exact number of parameters of a causal LM built from ``config``, counted without allocating weights."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


def write_shape(name: str, output: Path, *, seed: int = 0, config_only: bool = False, force: bool = False) -> Path:
    """Write the shape as a Hugging Face model directory: config, generation config and tokenizer, and float32
    random weights (seeded) unless ``config_only``.

    Raises:
        ConfigError: unknown shape; ``output`` not empty without ``force`` (or, with it, not a model directory);
            weights asked for a config-only shape or one whose float32 weights exceed half the available RAM.
    """
    import psutil
    import torch
    from transformers import AutoModelForCausalLM

    from evoforge.offline.tiny_builds import greedy_generation
    from evoforge.training.student import quiet_libraries

    shape = get_shape(name)
    _check_output(output, force)
    parameters = parameter_count(name)
    if not config_only:
        gigabytes, available = parameters * 4 / 1e9, psutil.virtual_memory().available / 1e9
        if shape.config_only or gigabytes > available / 2:
            why = "a config-only shape" if shape.config_only else f"more than half the {available:.1f} GB available"
            raise ConfigError(
                f"shape '{name}' has {gigabytes:.1f} GB of float32 weights ({why}); pass --config-only to write "
                "its config and tokenizer without weights"
            )
    quiet_libraries()
    config = shape_config(name)
    tokenizer = shape_tokenizer(shape.vocab_size, config.max_position_embeddings)
    staging = output.parent / f".{output.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    if config_only:
        config.save_pretrained(staging)
        greedy_generation(tokenizer).save_pretrained(staging)
    else:
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.generation_config = greedy_generation(tokenizer)
        model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    card = {"shape": name, "source": shape.source, "parameters": parameters, "seed": seed, "weights": not config_only}
    (staging / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    if output.exists():
        shutil.rmtree(output)
    os.replace(staging, output)
    return output


def shape_tokenizer(vocab_size: int, model_max_length: int) -> Any:
    """The shapes' tokenizer: byte-level BPE learned from the shipped text, filled to exactly ``vocab_size``."""
    from evoforge.offline.habits import tokenizer_corpus
    from evoforge.offline.pretrain import StudentBuildConfig
    from evoforge.offline.tokenizer import build_tokenizer
    from evoforge.prompts import PROMPTS_DIR

    tasks = StudentBuildConfig(train_tasks=TOKENIZER_TASKS).tasks()
    prompts = sorted(PROMPTS_DIR.rglob("*.md"))
    corpus = [*tokenizer_corpus(tasks), *(path.read_text(encoding="utf-8") for path in prompts)]
    return build_tokenizer(corpus, model_max_length, min(LEARNED_VOCAB, vocab_size), fill_to=vocab_size)


def _check_output(output: Path, force: bool) -> None:
    if not output.exists() or (output.is_dir() and not any(output.iterdir())):
        return
    if not force:
        raise ConfigError(f"{output} exists and is not empty; pass --force to replace it")
    if not (output / "config.json").is_file():
        raise ConfigError(f"{output} is not a model directory (no config.json); --force replaces only those")
