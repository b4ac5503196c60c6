"""The data files a run reads, each read now with the reader and the errors the run itself would meet: seeds, the
test set, preference pairs, topics, Self-Evolution's fragments and eval set, the files and folders flags name."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from evoforge.errors import DataError, EvoforgeError
from evoforge.preflight import Problem
from evoforge.settings import Config

Reader = Callable[[str], Any]


def _seeds(cfg: Config) -> Reader:
    """evolve.data_path as the run reads it: its rows normalised by the configured fields."""
    from evoforge.data import seeds

    fields = cfg.evolve.instruction_field, cfg.evolve.response_field
    return lambda path: seeds.normalise(seeds.read_raw(path, load=_no_hub), *fields)


def _no_hub(name: str, **_: Any) -> list[Any]:
    """A hub dataset (``owner/name``) is left to the run: reading it here would download it."""
    return []


def _test_set(path: str) -> Any:
    from evoforge.cycle.pool import user_test_set

    return user_test_set(path)


def _preferences(cfg: Config) -> Reader:
    """train.preference_data as a round reads it: its rows, of which at least one must be a pair."""
    from evoforge.cycle.preferences import round_preferences

    def read(path: str) -> Any:
        return round_preferences(
            cfg.model_copy(update={"train": cfg.train.model_copy(update={"preference_data": path})}), 1, False
        )

    return read


def _topics(path: str) -> Any:
    from evoforge.instruct.topics import read_topics

    return read_topics(Path(path))


def _fragments(path: str) -> Any:
    from evoforge.self_evolve.data_files import read_fragments

    return read_fragments(Path(path).expanduser())


def _self_eval(path: str) -> Any:
    from evoforge.self_evolve.data_files import read_eval_items

    return read_eval_items(Path(path).expanduser())


def _eval_set(path: str) -> Any:
    from evoforge.evals.harness import load_eval_records

    return load_eval_records(Path(path))


def _training(fmt: str | None) -> Reader:
    from evoforge.data.folders import load_dataset_path

    return lambda path: load_dataset_path(Path(path), fmt)


def _expert_data(path: str) -> Any:
    from evoforge.serve.experts import read_instructions

    return read_instructions(Path(path), 1)


def _config_files(cfg: Config, command: str) -> Iterator[tuple[str, str, Reader]]:
    """(config key, path, reader) of each data file the settings name for ``command``."""
    if command in ("run", "evolve") and cfg.evolve.data_path:
        yield "evolve.data_path", cfg.evolve.data_path, _seeds(cfg)
    if command == "run":
        if cfg.eval.test_path:
            yield "eval.test_path", cfg.eval.test_path, _test_set
        if cfg.train.preference_data:
            yield "train.preference_data", cfg.train.preference_data, _preferences(cfg)
    if command == "instruct" or (command == "run" and cfg.cycle.data_source == "instruct"):
        settings = cfg.instruct
        if settings.topics_path and Path(settings.topics_path).exists():  # a missing one is generated
            yield "instruct.topics_path", settings.topics_path, _topics
        for name, instructor in settings.instructors.items():
            if instructor.topics_path:
                yield f"instruct.instructors.{name}.topics_path", instructor.topics_path, _topics
    if command == "self-evolve":
        if cfg.self_evolve.source_data_file:
            yield "self_evolve.source_data_file", cfg.self_evolve.source_data_file, _fragments
        if cfg.self_evolve.eval_data:
            yield "self_evolve.eval_data", cfg.self_evolve.eval_data, _self_eval


def _flag_files(command: str, inputs: Mapping[str, str]) -> Iterator[tuple[str, str, Reader]]:
    """(flag, path, reader) of each data file the command's flags name."""
    for flag, value in inputs.items():
        option = flag.split()[0]
        if command == "train" and option in ("--data", "--train-dir", "--valid-dir"):
            yield flag, value, _training(inputs.get("--format"))
        elif command in ("eval", "merge") and option in ("--data", "--eval"):
            yield flag, value, _eval_set
        elif option == "--expert-data":
            yield flag, value, _expert_data
        elif option in ("--adapter", "--expert", "--train-all", "--lmoe"):
            yield flag, value, _folder


def _folder(path: str) -> None:
    """A folder a flag names (an adapter, a checkpoint, a package) exists and is a folder."""
    found = Path(path).expanduser()
    if not found.is_dir():
        raise DataError(f"{found} is not a directory (a LoRA adapter, a model checkpoint or a package folder)")


def file_problems(cfg: Config, command: str, inputs: Mapping[str, str]) -> list[Problem]:
    """Each data file of the run read as the run will read it; one problem per file that cannot be (its error
    names the file and the line)."""
    problems = []
    named = [(f"config key {key}", path, read) for key, path, read in _config_files(cfg, command)]
    named += [(f"flag {flag}", path, read) for flag, path, read in _flag_files(command, inputs)]
    for where, path, read in named:
        try:
            read(path)
        except EvoforgeError as exc:
            problems.append(Problem(where, str(exc)))
        except (OSError, UnicodeError) as exc:  # a reader that met what it does not expect: still the file's fault
            problems.append(Problem(where, f"{path}: cannot be read ({type(exc).__name__}: {exc})"))
    return problems
