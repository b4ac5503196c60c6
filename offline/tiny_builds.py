"""The tiny student and the tiny reader: build one (initialise + pre-train + evaluate), cache it, name it.

The tiny student is a small Llama-architecture causal LM with the BPE tokenizer of
:mod:`evoforge.offline.tokenizer`, pre-trained on skills-world tasks (:mod:`evoforge.offline.pretrain`: it can
compute the answers but gives them in its habitual phrasing), and saved as a normal Hugging Face model directory.
Downstream code treats it exactly like a downloaded model (``AutoModelForCausalLM.from_pretrained``).

The default build ships with the package (``offline/tiny_student/``, made by ``evoforge student build --output
offline/tiny_student --force``; its ``student.json`` holds the recipe, loss curve and scores) and is used while
its digest matches the current recipe and pre-training data. Any other recipe, or the default once the world's
tasks change, is built on first use and cached under ``user_cache_dir("evoforge")/students/<digest>``.

The tiny reader (:mod:`evoforge.offline.reader_recipe`, a :class:`ReaderBuildConfig` recipe) is built, shipped
(``offline/tiny_reader/``) and cached the same way. :func:`tiny_student` and :func:`tiny_reader` are the
``tiny`` and ``tiny-reader`` entries of the ``evoforge.students`` entry point group, through which
:func:`evoforge.training.student.resolve_student` finds them.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from evoforge.console import info
from evoforge.errors import ConfigError
from evoforge.offline.habits import tokenizer_corpus
from evoforge.offline.pretrain import STUDENT_FORMAT, StudentBuildConfig, evaluate_student, pretrain_student
from evoforge.offline.reader_recipe import ReaderBuildConfig
from evoforge.runs import atomic_write_json
from evoforge.training.student import quiet_libraries

CARD_FILE = "student.json"
SHIPPED = Path(__file__).parent / "tiny_student"  # the default build, in the package
SHIPPED_READER = Path(__file__).parent / "tiny_reader"  # the default reader build, in the package


def cache_root() -> Path:
    """Where built students are cached (``$EVOFORGE_CACHE_DIR`` or the user cache directory)."""
    from platformdirs import user_cache_dir

    return Path(os.environ.get("EVOFORGE_CACHE_DIR") or user_cache_dir("evoforge")) / "students"


def init_student(config: StudentBuildConfig, output: Path) -> Path:
    """Write a randomly initialised student (model, tokenizer, chat template, generation config) to ``output``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from evoforge.offline.tokenizer import build_tokenizer

    quiet_libraries()
    tokenizer = build_tokenizer(tokenizer_corpus(config.tasks()), config.max_positions, config.vocab_size)
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
    model.generation_config = greedy_generation(tokenizer)
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    return output


def greedy_generation(tokenizer: Any) -> Any:
    """A student's ``GenerationConfig``: greedy, the tokenizer's bos/eos/pad ids, up to 160 new tokens."""
    from transformers import GenerationConfig

    return GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
        max_new_tokens=160,
    )


def build_tiny_student(
    output: Path | None = None, *, force: bool = False, config: StudentBuildConfig | None = None
) -> Path:
    """Build (initialise + pre-train + evaluate) the tiny student or reader, or return the shipped or cached one.

    Args:
        output: target directory; None = the shipped build when it matches ``config``, else its cache entry.
        force: rebuild even when the target already holds a student.
        config: the build recipe (a :class:`ReaderBuildConfig` builds a reader); None = the default tiny student.

    Returns:
        The model directory (with ``student.json``: build config, loss curve, evaluation, build time).
    """
    config = config or StudentBuildConfig()
    digest = config.digest()
    shipped = shipped_path(config)
    if output is None and not force and shipped_digest(shipped) == digest:
        return shipped
    target = output or cache_root() / digest
    if (target / CARD_FILE).is_file() and not force:
        return target
    if target.exists() and not force and any(target.iterdir()):
        raise ConfigError(f"{target} exists and is not a built student; pass --force to overwrite it")
    info(
        f"building the {_label(config)} ({config.steps} pre-training steps on one CPU thread, into {target}; the "
        f"shipped build does not match this recipe); `evoforge student build{_flag(config)}` does this ahead of a run"
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    staging = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    init_student(config, staging)
    card: dict[str, Any] = {"config": asdict(config), "digest": digest, "format": STUDENT_FORMAT}
    if config.steps > 0:
        card["pretrain"] = pretrain_student(staging, config)
        if config.eval_tasks > 0:
            card.update(_evaluate(config, staging))
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


def _label(config: StudentBuildConfig) -> str:
    return "tiny reader" if isinstance(config, ReaderBuildConfig) else "tiny student"


def _flag(config: StudentBuildConfig) -> str:
    return " --reader" if isinstance(config, ReaderBuildConfig) else ""


def _evaluate(config: StudentBuildConfig, path: Path) -> dict[str, Any]:
    """The card's evaluation of the student built from ``config`` at ``path``."""
    if isinstance(config, ReaderBuildConfig):
        return config.evaluate(path)
    return evaluate_student(path, config)


def shipped_path(config: StudentBuildConfig) -> Path:
    """Where the package ships the default build of ``config``'s kind (tiny student or tiny reader)."""
    return SHIPPED_READER if isinstance(config, ReaderBuildConfig) else SHIPPED


def shipped_digest(shipped: Path = SHIPPED) -> str | None:
    """The digest of the build shipped at ``shipped`` (default: the tiny student; None when there is none)."""
    card = shipped / CARD_FILE
    return str(json.loads(card.read_text())["digest"]) if card.is_file() else None


def tiny_student() -> Path:
    """The ``tiny`` student (an ``evoforge.students`` entry point): the shipped build, or the cached build of the
    current recipe (built on first use)."""
    return build_tiny_student(config=StudentBuildConfig())


def tiny_reader() -> Path:
    """The ``tiny-reader`` student (an ``evoforge.students`` entry point): the shipped reader, or the cached build
    of the current recipe (built on first use)."""
    return build_tiny_student(config=ReaderBuildConfig())
