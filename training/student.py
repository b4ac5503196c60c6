"""Naming a student, loading it (a local Hugging Face model directory) for generation, and the device it runs on.

A student is a local model directory or a name: :func:`resolve_student` looks names up in the ``evoforge.students``
entry point group, whose entries are callables returning the model directory (evoforge registers ``tiny`` and
``tiny-reader``, the offline world's tiny student and reader, built and cached on first use).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evoforge.errors import ConfigError
from evoforge.plugins import load_plugin, plugin_names

if TYPE_CHECKING:
    from evoforge.settings import StudentSettings

STUDENTS = "evoforge.students"


def student_names() -> tuple[str, ...]:
    """The named students installed (the ``evoforge.students`` entry points), sorted."""
    return plugin_names(STUDENTS)


def resolve_student(name: str | Path) -> Path:
    """A named student (``"tiny"`` / ``"tiny-reader"``: the shipped tiny student / reader, or the cached build of the
    current recipe, built on first use) → its model directory; anything else must be a local Hugging Face model
    directory."""
    names = student_names()
    if str(name) in names:
        build: Callable[[], Path] = load_plugin(STUDENTS, str(name), "student")
        return build()
    path = Path(name).expanduser()
    if not (path / "config.json").is_file():
        known = ", ".join(map(repr, names)) or "a named student (none is installed: reinstall evoforge)"
        raise ConfigError(
            f"student '{name}' is not {known} or a local Hugging Face model directory (no config.json there)"
        )
    return path


def use_threads(student: StudentSettings, model: str | Path | None = None) -> None:
    """Set torch's CPU threads for this process from ``student.threads`` (see
    :class:`~evoforge.settings.StudentSettings`) for ``model`` (default ``student.model``): a named student runs on one
    thread unless told otherwise. Called where student work starts, so that a run that never touches the student
    never imports torch."""
    import torch

    name = str(student.model if model is None else model)
    threads = student.threads or (1 if name in student_names() else None)
    if threads is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


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
