"""The run directory's free disk space against a rough estimate of what the run writes."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from evoforge.preflight import Problem
from evoforge.settings import Config

MB = 1 << 20
BASE_MB = 50  # logs, data files, checkpoints database, reports, tiny students' deltas
COPIES = {"run": 2, "train": 2, "merge": 2, "self-evolve": 2}  # model-sized files a run may write (merges, full)


def _folder_size(path: Path) -> int:
    """Bytes of the files in a model folder (0 when it is not a folder)."""
    if not path.is_dir():
        return 0
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def estimate(cfg: Config, command: str, inputs: Mapping[str, str]) -> int:
    """A rough upper estimate of the bytes the run of ``command`` writes: a base share, plus copies of the model it
    trains or merges (a full fine-tune writes a checkpoint per epoch)."""
    model = inputs.get("--model") or inputs.get("--base") or cfg.student.model
    if command == "self-evolve":
        model = cfg.self_evolve.model_path
    copies = COPIES.get(command, 0)
    if command == "train" and cfg.train.method == "full":
        copies = int(cfg.train.epochs) + 1
    return BASE_MB * MB + copies * _folder_size(Path(model).expanduser())


def disk_problems(cfg: Config, command: str, inputs: Mapping[str, str]) -> list[Problem]:
    """A problem when the disk of ``run.runs_dir`` has less free space than :func:`estimate` says the run needs."""
    if command in ("serve", "chat"):
        return []
    folder = Path(cfg.run.runs_dir).expanduser().absolute()
    while not folder.exists():
        folder = folder.parent
    need, free = estimate(cfg, command, inputs), shutil.disk_usage(folder).free
    if free >= need:
        return []
    return [
        Problem(
            "config key run.runs_dir",
            f"{folder} has {free / MB:.0f} MiB free; this run may write about {need / MB:.0f} MiB: free some space or "
            "point run.runs_dir (--runs-dir) at another disk",
        )
    ]
