"""What the work of a round takes: typed records the cycle graph builds from its state, and where they point.

:class:`RoundRecord` is one round as the work after training sees it (its deltas, held-out split and chosen merge);
:class:`DeltaTask` is one planned delta of a round, as a training branch gets it. Every path in them is relative to
the run directory (:func:`round_path`, :func:`student_dir` resolve them). Only :mod:`evoforge.graphs.cycle` knows the
graph state these come from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from evoforge.merging.trial import MergeSpec
from evoforge.training.deltas import DeltaJob
from evoforge.training.student import resolve_student


def round_path(run_path: Path, round_dir: str) -> Path:
    """Absolute path of a round directory."""
    return run_path / round_dir


def student_dir(run_path: Path, student: str) -> Path:
    """The model directory of ``student``: a promoted model inside the run, or a configured name/path."""
    inside = run_path / student
    return inside if inside.is_dir() else resolve_student(student)


@dataclass(frozen=True)
class RoundRecord:
    """One round of the cycle, as its merge search, evaluation, closing and model cards read it.

    Attributes:
        number: the 1-based round number.
        round_dir: ``rounds/<n>``, the round's folder.
        student: the student the round trains: a run-dir-relative model directory once promoted, else the
            configured name or path.
        deltas: delta name → adapter directory (train@all excluded).
        train_all: the train@all adapter directory ("" when the round trains none).
        eval_path: the held-out split no delta trained on ("" before the round is chunked).
        merge: the best merge the search found (``auto_merge``), None before the search.
        method_id: the evolving method the round's data was evolved with ("" on the instruct graph).
    """

    number: int
    round_dir: str
    student: str
    deltas: Mapping[str, str] = field(default_factory=dict)
    train_all: str = ""
    eval_path: str = ""
    merge: MergeSpec | None = None
    method_id: str = ""


@dataclass(frozen=True)
class DeltaTask:
    """One planned delta of a round: its chunk and method (``job``), trained on ``student`` in ``round_dir``."""

    round_dir: str
    student: str
    job: DeltaJob
