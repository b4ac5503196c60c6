"""State of the ``evolve`` graph (Auto Evol-Instruct): references and figures, never bulk.

Bulk data (seeds, trajectories, validation answers, the evolved dataset) lives in JSON Lines files in the run
directory; the state holds their paths (relative to the run directory), ids, failure rates and method texts.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from evoforge.graphs.review import Decision


class Candidate(TypedDict, total=False):
    """One evolving method considered by the optimisation (the initial method is candidate ``s0c0``).

    Attributes:
        id: ``s<step>c<index>`` (``s<step>-edit`` for a human edit).
        step: the optimisation step that produced it (0 = the initial method).
        index: its index among the step's candidates (-1 for a human edit).
        method: the method text.
        feedback: the analyser's feedback the optimiser revised from ("" for the initial method).
        parent: id of the method it was optimised from.
        failure_rate: λ on the dev set; None until validated.
        failures: failed dev responses.
        n: dev instructions validated.
        validation_path: run-dir-relative JSONL of the dev evolutions and answers.
    """

    id: str
    step: int
    index: int
    method: str
    feedback: str
    parent: str | None
    failure_rate: float | None
    failures: int
    n: int
    validation_path: str


def merge_candidates(old: dict[str, Candidate] | None, new: dict[str, Candidate] | None) -> dict[str, Candidate]:
    """Reducer: parallel branches add candidates; a later update of the same id refines its fields."""
    out = {key: dict(value) for key, value in (old or {}).items()}
    for key, value in (new or {}).items():
        out[key] = {**out.get(key, {}), **value}
    return out  # type: ignore[return-value]


class StepPoint(TypedDict):
    """The outcome of one optimisation step: what was selected and how the step's best candidate scored."""

    step: int
    selected: str
    selected_rate: float
    best_candidate: str
    best_candidate_rate: float
    improved: bool


class EvolveSummary(TypedDict):
    """What the evolve graph hands back to a parent graph (its output schema).

    Attributes:
        dataset: the evolved dataset (``evolved.jsonl``), relative to the top run directory.
        lambda_history: the selected method's dev failure rate λ after each optimisation step.
        e0_lambda: λ of the universal initial method e0 on the same dev set (the reference λ falls from).
        method_id / method: the method the dataset was evolved with (a cycle's next round starts from it).
        counts: the dataset's figures (seeds, answered, failed, eliminated, duplicates, kept, lost to errors).
    """

    dataset: str
    lambda_history: list[float]
    e0_lambda: float
    method_id: str
    method: str
    counts: dict[str, int]


class EvolveInput(TypedDict, total=False):
    """The evolve graph's input schema.

    Attributes:
        workdir: the folder of the run this evolve works in, relative to the run directory ("" = the run directory
            itself; the cycle passes its round's folder, an evolve run directory of its own).
        start_method: the method optimisation starts from (candidate ``s0c0``); "" = the built-in initial method
            (the cycle passes the previous round's method).
    """

    workdir: str
    start_method: str


class EvolveOutput(TypedDict, total=False):
    """The evolve graph's output schema: what a parent graph receives."""

    evolved: EvolveSummary


class EvolveState(EvolveInput, EvolveOutput, total=False):
    """The evolve graph's state (``workdir`` and ``evolved`` come from its input and output schemas).

    Attributes:
        seeds_path / train_path / dev_path: run-dir-relative JSONL files of normalised seed records.
        n_seeds / n_train / n_dev: their sizes.
        step: the last optimisation step completed (0 = only the initial method validated).
        step_limit: optimise up to this step (``max_steps``; a rejected method extends it).
        stale: consecutive steps without a lower failure rate (patience counter).
        patience / candidate_size: the stopping patience and the candidates per step (from the config).
        method_id / method / failure_rate: the selected method and its dev λ.
        trajectories_path: the current step's mini-batch trajectories (JSONL).
        candidates: every candidate of every step, by id (parallel branches merge here).
        history: one point per optimisation step.
        method_decision / dataset_decision: the last answers at the two human checkpoints.
        evolved_path / answered_path / filtered_path: the final dataset's phases (JSONL).
        lost_path: the rows whose calls were lost to transport errors, each with its ``lost`` reason (JSONL).
        refill: the dataset is being built again from the last pass, sending only the lost calls (``evoforge
            resume`` of a run that lost rows sets it; the filter clears it).
        batch / batch_failed: a dataset node's pending provider batches (``[{id, model, requests}]``, empty when
            none) and the cache keys of the requests its batches failed (:mod:`evoforge.graphs.llm_batches`).
        counts: sizes of the final phases (seeds, answered, failed, eliminated, duplicates, kept, lost).
        sample: a few kept records shown at the dataset review.
        outputs: names of the files written in the run directory.
        evolved: the summary handed to a parent graph.
    """

    seeds_path: str
    train_path: str
    dev_path: str
    n_seeds: int
    n_train: int
    n_dev: int
    step: int
    step_limit: int
    stale: int
    patience: int
    candidate_size: int
    method_id: str
    method: str
    failure_rate: float | None
    trajectories_path: str
    candidates: Annotated[dict[str, Candidate], merge_candidates]
    history: list[StepPoint]
    method_decision: Decision
    dataset_decision: Decision
    evolved_path: str
    answered_path: str
    filtered_path: str
    lost_path: str
    refill: bool
    batch: list[dict[str, Any]]
    batch_failed: list[str]
    counts: dict[str, int]
    sample: list[dict[str, Any]]
    outputs: dict[str, str]


class CandidateTask(TypedDict):
    """The payload a ``Send`` gives one ``optimize_candidate`` branch."""

    workdir: str
    step: int
    index: int
    method_id: str
    method: str
    trajectories_path: str


def step_candidates(state: EvolveState | dict[str, Any], step: int) -> list[Candidate]:
    """The candidates produced at ``step``, in index order."""
    found = [c for c in (state.get("candidates") or {}).values() if c.get("step") == step and c.get("index", 0) >= 0]
    return sorted(found, key=lambda c: c.get("index", 0))


def rate(candidate: Candidate) -> float:
    """A scored candidate's λ (:func:`lowest_rate` returns only scored ones)."""
    value = candidate["failure_rate"]
    assert value is not None, f"candidate {candidate['id']} is not scored"
    return value


def lowest_rate(state: EvolveState | dict[str, Any], step: int) -> Candidate | None:
    """The scored candidate of ``step`` with the lowest λ (the lower index on a tie), or None when none is scored."""
    scored = [c for c in step_candidates(state, step) if c.get("failure_rate") is not None]
    return min(scored, key=lambda c: (c["failure_rate"], c["index"])) if scored else None
