"""The preflight: everything a run will read or need, checked before its first paid LLM call and before any weights
load, every problem reported together (``ensure`` raises one :class:`PreflightError`, exit code 2).

One mechanism for every command that makes a run (``run``, ``evolve``, ``instruct``, ``self-evolve``, ``train``,
``merge``, ``eval``, ``serve``, ``chat``): the data files the config or flags name, read with the readers and errors
the run itself uses (:mod:`evoforge.preflight.files`); the key variable of every model entry the run's roles use, the
extras the settings need and the models the run will load, found without loading them
(:mod:`evoforge.preflight.models`); and the run directory's free disk space (:mod:`evoforge.preflight.disk`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from evoforge.errors import ConfigError
from evoforge.settings import Config

COMMANDS = ("run", "evolve", "instruct", "self-evolve", "train", "merge", "eval", "serve", "chat")
"""The commands that make a run, as :func:`collect` names them."""

Inputs = Mapping[str, "str | Path | None"]
"""Paths and models a command takes from its flags, keyed by the flag (``--data``, ``--model``, ``--adapter NAME``);
None where the flag was not given."""


@dataclass(frozen=True)
class Problem:
    """One thing that would make the run fail: ``where`` names the culprit (``config key eval.test_path``, ``flag
    --data``, ``env DEEPSEEK_API_KEY``), ``what`` says what is wrong (the file and line) and what to do."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


class PreflightError(ConfigError):
    """The preflight found problems (exit code 2): every one of them, each on its own line."""

    def __init__(self, command: str, problems: list[Problem]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        lines = [f"evoforge {command} cannot start, {count} (nothing was run, no LLM was called):"]
        lines += [f"  - {problem}" for problem in problems]
        super().__init__("\n".join(lines))


def flag_inputs(flag: str, specs: list[str] | None) -> dict[str, str]:
    """A repeatable ``NAME=PATH`` (or ``PATH``) flag's values as inputs: ``{"--adapter NAME": PATH, ...}``."""
    pairs = {}
    for spec in specs or []:
        name, sep, path = spec.partition("=")
        path = path if sep else spec
        pairs[f"{flag} {name if sep else Path(path).name}"] = path
    return pairs


def collect(cfg: Config, command: str, inputs: Inputs | None = None) -> list[Problem]:
    """Every problem the run of ``command`` (one of :data:`COMMANDS`) on ``cfg`` would meet, with ``inputs`` (the
    command's flags: ``{"--data": path, "--model": name, "--adapter NAME": dir, ...}``); [] when it can start.

    Reads the data files, looks at the environment and the model folders and caches; loads no weights and calls no
    LLM.
    """
    from evoforge.preflight.disk import disk_problems
    from evoforge.preflight.files import file_problems
    from evoforge.preflight.models import model_problems

    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}; expected one of {', '.join(COMMANDS)}")
    given = {flag: str(value) for flag, value in (inputs or {}).items() if value is not None}
    problems = [*file_problems(cfg, command, given), *model_problems(cfg, command, given)]
    return [*problems, *disk_problems(cfg, command, given)]


def ensure(cfg: Config, command: str, inputs: Inputs | None = None) -> None:
    """Run :func:`collect`; raise :class:`PreflightError` listing all its problems when there are any.

    Call it after the config is resolved and before the run directory is created or a graph starts.
    """
    problems = collect(cfg, command, inputs)
    if problems:
        raise PreflightError(command, problems)


RUN_COMMANDS = {"cycle": "run", "self_evolve": "self-evolve"}
"""A run manifest's ``command`` → the command name :func:`collect` uses, where they differ."""


def ensure_resumable(cfg: Config, run_command: str) -> None:
    """Before ``evoforge resume`` continues a run whose manifest names ``run_command`` (``cycle``, ``evolve``, …):
    the key variables and extras its roles and settings need, which this shell may lack where the first one had
    them. Its data files were read when it started and are not read again.

    Raises:
        PreflightError: every unset key variable and missing extra.
    """
    from evoforge.preflight.models import service_problems

    command = RUN_COMMANDS.get(run_command, run_command)
    problems = service_problems(cfg, command, {}) if command in COMMANDS else []
    if problems:
        raise PreflightError(f"resume ({command})", problems)


__all__ = [
    "COMMANDS",
    "Inputs",
    "PreflightError",
    "Problem",
    "collect",
    "ensure",
    "ensure_resumable",
    "flag_inputs",
]
