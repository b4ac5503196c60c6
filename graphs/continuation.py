"""Which run a Self-Evolution command drives: the run ``--start-id N`` continues at round N (its manifest checked,
its settings kept, its thread named for the new rounds), or a new one, the outputs of an earlier run of the same
``--identify`` refused or, with ``--overwrite``, deleted (the seed's behaviour).

Beside :mod:`evoforge.graphs.driver`, which drives the run this returns; the CLI only parses and calls.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

from evoforge.console import info
from evoforge.errors import ConfigError
from evoforge.runs import RunDir
from evoforge.settings import Config


def self_evolve_run(cfg: Config, run_id: str | None, overwrite: bool, create: Callable[[], RunDir]) -> RunDir:
    """The run of ``self_evolve`` rounds ``cfg`` asks for: the run ``run_id`` continued when
    ``self_evolve.start_id`` > 0, else the new run ``create`` makes, once what an earlier run of ``run_id`` left is
    cleared (``overwrite``) or found absent.

    Raises:
        ConfigError: ``overwrite`` with a continuation, a continuation without ``run_id`` or of another command's
            run or with other self_evolve settings, an earlier run's outputs without ``overwrite``.
    """
    if cfg.self_evolve.start_id > 0:
        if overwrite:
            raise ConfigError("--overwrite replaces a run and --start-id continues one; give one of them")
        return _continued(cfg, run_id)
    if overwrite or run_id:
        _clear(cfg, run_id, overwrite)
    return create()


def _continued(cfg: Config, run_id: str | None) -> RunDir:
    """The run that ``--start-id`` continues, its settings checked against this command's."""
    if not run_id:
        raise ConfigError(f"--start-id {cfg.self_evolve.start_id} continues a run: name it with --identify")
    run = RunDir.open(cfg.run.runs_dir, run_id)
    if run.manifest().get("command") != "self_evolve":
        raise ConfigError(f"run {run_id} is not a self-evolve run; --start-id continues only those")
    _refuse_changed(run, cfg.self_evolve.model_dump(exclude={"start_id", "end_id"}))
    run.update_manifest(thread=f"{run.run_id}@{cfg.self_evolve.start_id}-{cfg.self_evolve.end_id}")
    return run


def _clear(cfg: Config, run_id: str | None, overwrite: bool) -> None:
    """Refuse a new run whose folder or predict files already exist, or, with ``overwrite``, delete them (the old
    run's predict files too): the seed's behaviour when an ``--identify`` repeats."""
    from evoforge.self_evolve.rounds import generations_dir

    if not run_id:
        raise ConfigError("--overwrite replaces the run that --identify names; give --identify")
    path = cfg.run.runs_dir / run_id
    found = [generations_dir(cfg, path)]
    if path.exists():
        if not (path / "manifest.json").is_file() or RunDir(path).manifest().get("command") != "self_evolve":
            raise ConfigError(f"{path} exists and is not a self-evolve run; choose another --identify")
        found += [generations_dir(RunDir(path).config(), path), path]
    found = [p for p in dict.fromkeys(found) if p.exists()]
    if found and not overwrite:
        raise ConfigError(
            f"--identify {run_id}: {', '.join(map(str, found))} exist from an earlier run; give --overwrite to "
            "replace them (the seed's behaviour), --start-id N to continue that run, or another --identify"
        )
    for target in found:
        info(f"--overwrite: deleting {target}")
        shutil.rmtree(target)


def _refuse_changed(run: RunDir, wanted: dict[str, object]) -> None:
    """A continued run keeps its settings: refuse self_evolve keys that differ from its snapshot's."""
    kept = run.config().self_evolve.model_dump(exclude={"start_id", "end_id"})
    changed = [f"{key} ({kept[key]!r} there, {value!r} here)" for key, value in wanted.items() if kept[key] != value]
    if changed:
        raise ConfigError(
            f"run {run.run_id} was made with other self_evolve settings: {', '.join(changed)}; a continued run keeps "
            "its own (start a new run to change them)"
        )
