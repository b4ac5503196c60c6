"""The student model: resolve ``"tiny"`` or a local Hugging Face directory, load it, build the tiny one.

The tiny student is a small Llama-architecture causal LM with the byte-level tokenizer of
:mod:`evoforge.training.tokenizer`, pre-trained briefly on skills-world tasks (:mod:`evoforge.training.pretrain`)
so that it knows the task formats and gets some answers right, and saved as a normal Hugging Face model directory.
Downstream code treats it exactly like a downloaded model (``AutoModelForCausalLM.from_pretrained``).
It is cached under ``user_cache_dir("evoforge")/students/<hash of the build config>`` and rebuilt only when that
config (or the skills world's source) changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evoforge.errors import ConfigError
from evoforge.runs import atomic_write_json

STUDENT_FORMAT = 1  # bump when the build code changes in a way that changes the weights
CARD_FILE = "student.json"


@dataclass(frozen=True)
class StudentBuildConfig:
    """Architecture and pre-training recipe of the tiny student (its hash names the cache entry).

    Attributes:
        hidden_size: width of the residual stream.
        intermediate_size: width of the MLP.
        num_layers: transformer blocks.
        num_heads: attention heads (head dim = hidden_size / num_heads).
        max_positions: longest sequence the model accepts (tokens are bytes).
        train_tasks: skills-world tasks generated for pre-training.
        steps: optimiser steps of pre-training (0 = random init, for fast tests).
        batch_size: sequences per step.
        learning_rate: peak AdamW learning rate (linear warm-up, cosine decay).
        prompt_loss: also train on the prompt tokens (language modelling of the instructions).
        max_level: highest task level seen in pre-training.
        categories: task categories seen in pre-training.
        eval_tasks: size of the fixed evaluation set reported in ``student.json`` (0 = skip).
        seed: seed of data generation and initialisation.
    """

    hidden_size: int = 128
    intermediate_size: int = 384
    num_layers: int = 4
    num_heads: int = 4
    max_positions: int = 512
    train_tasks: int = 20000
    steps: int = 2400
    batch_size: int = 16
    learning_rate: float = 3e-3
    prompt_loss: bool = False
    max_level: int = 3
    categories: tuple[str, ...] = ("arithmetic", "strings", "format", "instruct")
    eval_tasks: int = 200
    seed: int = 0

    def digest(self) -> str:
        """A short hash of this config, the student format and the skills world's source."""
        payload = json.dumps({"config": asdict(self), "format": STUDENT_FORMAT, "world": _world_source_hash()})
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _world_source_hash() -> str:
    """Hash of the skills world's source: the pre-training data changes when it changes."""
    from importlib.util import find_spec

    spec = find_spec("evoforge.data.world")
    if spec is None or spec.origin is None:
        return "none"
    origin = Path(spec.origin)
    files = sorted(origin.parent.glob("*.py")) if origin.name == "__init__.py" else [origin]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def quiet_libraries() -> None:
    """Silence transformers/datasets/TRL info logs and their tqdm bars (evoforge shows its own progress)."""
    import logging
    import warnings

    import datasets
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", message=r".*is deprecated.*", category=FutureWarning)
    for name in ("trl", "peft", "accelerate"):
        logging.getLogger(name).setLevel(logging.ERROR)


def cache_root() -> Path:
    """Where built students are cached (``$EVOFORGE_CACHE_DIR`` or the user cache directory)."""
    from platformdirs import user_cache_dir

    return Path(os.environ.get("EVOFORGE_CACHE_DIR") or user_cache_dir("evoforge")) / "students"


def init_student(config: StudentBuildConfig, output: Path) -> Path:
    """Write a randomly initialised student (model, tokenizer, chat template, generation config) to ``output``."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    from evoforge.training.tokenizer import build_tokenizer

    quiet_libraries()
    tokenizer = build_tokenizer(model_max_length=config.max_positions)
    model_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_heads,
        max_position_embeddings=config.max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(config.seed)
    model = LlamaForCausalLM(model_config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
        max_new_tokens=160,
    )
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    return output


def build_tiny_student(
    output: Path | None = None, *, force: bool = False, config: StudentBuildConfig | None = None
) -> Path:
    """Build (initialise + pre-train + evaluate) the tiny student, or return the cached one.

    Args:
        output: target directory; None = the cache entry for ``config``.
        force: rebuild even when the target already holds a student.
        config: the build recipe; None = the default tiny student.

    Returns:
        The model directory (with ``student.json``: build config, loss curve, eval per category, build time).
    """
    config = config or StudentBuildConfig()
    target = output or cache_root() / config.digest()
    if (target / CARD_FILE).is_file() and not force:
        return target
    if target.exists() and not force and any(target.iterdir()):
        raise ConfigError(f"{target} exists and is not a built student; pass --force to overwrite it")
    started, cpu_started = time.perf_counter(), time.process_time()
    staging = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    init_student(config, staging)
    card: dict[str, Any] = {"config": asdict(config), "digest": config.digest(), "format": STUDENT_FORMAT}
    if config.steps > 0:
        from evoforge.training.pretrain import evaluate_student, pretrain_student

        card["pretrain"] = pretrain_student(staging, config)
        if config.eval_tasks > 0:
            card["eval"] = evaluate_student(staging, config)
    card["build_seconds"] = round(time.perf_counter() - started, 1)
    card["build_cpu_seconds"] = round(time.process_time() - cpu_started, 1)  # all threads; honest on a busy machine
    atomic_write_json(staging / CARD_FILE, card)
    if target.exists():
        if (target / CARD_FILE).is_file() and not force:  # another process finished first
            shutil.rmtree(staging, ignore_errors=True)
            return target
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, target)
    return target


def resolve_student(name: str | Path) -> Path:
    """``"tiny"`` → the cached tiny student (built on first use); anything else must be a local HF model dir."""
    if str(name) == "tiny":
        return build_tiny_student()
    path = Path(name).expanduser()
    if not (path / "config.json").is_file():
        raise ConfigError(
            f"student '{name}' is neither 'tiny' nor a local Hugging Face model directory (no config.json there)"
        )
    return path


def pick_device(device: str = "auto") -> str:
    """``auto`` → ``cuda`` when a GPU is visible, else ``cpu``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def load_student(path: str | Path, device: str = "auto", dtype: str = "auto") -> tuple[Any, Any]:
    """Load a student for generation: (model in eval mode, tokenizer padding left).

    ``dtype="auto"`` is float32 on CPU and bfloat16 on GPU.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_student(path)
    quiet_libraries()
    device = pick_device(device)
    if dtype == "auto":
        dtype = "float32" if device == "cpu" else "bfloat16"
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype))
    model.to(device)
    model.eval()
    return model, tokenizer
