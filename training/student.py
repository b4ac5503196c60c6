"""Loading a student (a local Hugging Face model directory) for generation, and the device it runs on.

Names such as ``"tiny"`` are resolved to a directory first (:func:`evoforge.offline.student.resolve_student`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evoforge.errors import ConfigError


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


def pick_device(device: str = "auto") -> str:
    """``auto`` → ``cuda`` when a GPU is visible, else ``cpu``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def load_pretrained(path: str | Path, dtype: Any, trust_remote_code: bool, opt_in: str) -> tuple[Any, Any]:
    """(tokenizer, model) of the Hugging Face folder ``path`` in ``dtype``. A folder that ships its own model code
    runs it only with ``trust_remote_code``; without it that is a ConfigError saying how to opt in (``opt_in``)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, trust_remote_code=trust_remote_code)
    except ValueError as error:
        if trust_remote_code or "trust_remote_code" not in str(error):
            raise
        raise ConfigError(f"{path} ships its own model code, which runs only when you trust it: {opt_in}") from None
    return tokenizer, model


def load_student(
    path: str | Path, device: str = "auto", dtype: str = "auto", trust_remote_code: bool = False
) -> tuple[Any, Any]:
    """Load a student for generation: (model in eval mode, tokenizer padding left).

    ``dtype="auto"`` is float32 on CPU and bfloat16 on GPU. ``trust_remote_code`` lets a model folder that ships
    its own code (Baichuan2, …) run it; without it such a folder is a ConfigError saying how to opt in.
    """
    import torch

    path = Path(path)
    if not (path / "config.json").is_file():
        raise ConfigError(f"student {path} is not a Hugging Face model directory (no config.json there)")
    quiet_libraries()
    device = pick_device(device)
    if dtype == "auto":
        dtype = "float32" if device == "cpu" else "bfloat16"
    tokenizer, model = load_pretrained(
        path, getattr(torch, dtype), trust_remote_code, "pass --trust-remote-code (Python: trust_remote_code=True)"
    )
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(device)
    model.eval()
    return model, tokenizer
