"""State of the ``instruct`` graph: paths, counts and decisions, never the records (they live in the output file)."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from evoforge.graphs.review import Decision


class InstructInput(TypedDict, total=False):
    """The instruct graph's input schema.

    Attributes:
        mode: ``topics`` (generate-topics: stop after the topic review) or ``instructions`` (the default: topics when
            the file is missing, then every instructor's records).
        workdir: the folder of the run this instruct graph works in, relative to the run directory ("" = the run
            directory itself; a cycle on the instruct graph passes its round's folder, an instruct run directory).
        earlier_datasets: records files of earlier rounds (as ``instructed.dataset`` names them: relative to the top
            run directory, or absolute) whose instructions the new ones must not nearly duplicate (a cycle passes
            them, so de-duplication holds across its rounds).
    """

    mode: Literal["topics", "instructions"]
    workdir: str
    earlier_datasets: list[str]


class InstructSummary(TypedDict):
    """What the instruct graph hands back to a parent graph (its output schema).

    Attributes:
        dataset: the records file, relative to the top run directory when inside it (else absolute).
        counts: records per category in it.
        stop_reason: why generation stopped early (``budget``), or None.
    """

    dataset: str
    counts: dict[str, int]
    stop_reason: str | None


class InstructOutput(TypedDict, total=False):
    """The instruct graph's output schema: what a parent graph receives (nothing when a review rejected)."""

    instructed: InstructSummary


class InstructState(InstructInput, InstructOutput, total=False):
    """The instruct graph's state (``workdir`` and ``instructed`` come from its input and output schemas).

    Attributes:
        topics_path: the topics file (absolute). n_topics: how many it holds. topics_sample: a few shown at review.
        topics_decision / sample_decision: the answers at the two human checkpoints.
        output_path: the records file (absolute). prepared: what preparing it did (new, append, overwrite ...).
        started: what counted toward each instructor's count then (records; cards for ``character``).
        progress: per instructor: target, before, written, total, batches, skipped (by reason), stopped.
        stop_reason: why generation stopped early (``budget``), or None.
        counts: records per category in the output file. sample: a few records per instructor shown at review.
        outputs: names of the files written (relative to the run directory unless absolute).
        cards_dir: the folder of the character cards (absolute), when the run has a second pass.
        instructed: the summary handed to a parent graph.
        batch / batch_failed: a generation node's pending provider batches (``[{id, model, requests}]``, empty when
            none) and the cache keys of the requests they failed (:mod:`evoforge.graphs.llm_batches`).
    """

    topics_path: str
    n_topics: int
    topics_sample: list[str]
    topics_decision: Decision
    output_path: str
    prepared: str
    started: dict[str, int]
    progress: dict[str, dict[str, Any]]
    stop_reason: str | None
    counts: dict[str, int]
    sample: list[dict[str, Any]]
    sample_decision: Decision
    outputs: dict[str, str]
    cards_dir: str
    batch: list[dict[str, Any]]
    batch_failed: list[str]
