"""State of the ``cycle`` graph (AutoLLM's closed loop): references and figures, never tensors or bulk data.

Every path is relative to the run directory; each round works in ``rounds/<n>/`` (itself an evolve run
directory, or an instruct one with ``cycle.data_source: instruct``, with the round's chunks, adapters, merge search
and evaluations beside its outputs).
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from evoforge.cycle.round_record import DeltaTask, RoundRecord
from evoforge.graphs.evolve.state import EvolveSummary
from evoforge.graphs.instruct.state import InstructSummary
from evoforge.merging.trial import MergeSpec
from evoforge.training.deltas import DeltaJob


class RoundResult(TypedDict, total=False):
    """What one round produced, as the report shows it.

    Attributes:
        round: 1-based round number.
        student: the student the round started from (run-dir-relative, or the configured name).
        rows: AutoLLM's results table: model name → held-out score (raw, train@all, train@<delta>,
            average_merge, human_merge, auto_merge; routed_experts with ``merge.route``).
        test: the same models scored on the fixed test set (never searched on).
        per_category: model name → category → test score.
        weights: merge name → delta → weight.
        lambda_history: the evolve graph's selected failure rate per optimisation step.
        e0_lambda: the evolve graph's λ of the universal initial method e0 on the same dev set.
        records: on the instruct graph, the records per category it wrote for the round.
        dataset_counts: on the evolve graph, its dataset line's figures (seeds, answered, failed, …, lost).
        promoted: whether auto_merge was promoted to become the next round's student.
        decided_by: who decided the promotion (policy, terminal, cli, studio).
        promotion: one merged student or the experts + router, on the test set: ``kept`` (auto_merge or
            routed_experts), ``merged`` and ``routed`` (their test scores), ``margin`` (the kept one's lead).
        router: the LMoE router on the test set (``merge.route``): ``accuracy`` (None: no category is a chunk),
            ``n`` prompts routed, ``routed`` per expert.
        routed_skipped: why the routed_experts row is missing although ``merge.route`` asked for it.
        steering: how the next round's seeds were allocated, and why.
        seed_draw: on the user's data, the round's seeds: fresh from the pool, reused, and bad cases.
        method_id: the evolving method the round's data was evolved with.
        merge_trials: number of merge-search trials.
    """

    round: int
    student: str
    rows: dict[str, float]
    test: dict[str, float]
    per_category: dict[str, dict[str, float]]
    weights: dict[str, dict[str, float]]
    lambda_history: list[float]
    e0_lambda: float
    records: dict[str, int]
    dataset_counts: dict[str, int]
    promoted: bool
    decided_by: str
    promotion: dict[str, Any]
    router: dict[str, Any]
    routed_skipped: str
    steering: dict[str, Any]
    seed_draw: dict[str, int]
    method_id: str
    merge_trials: int


def merge_dicts(old: dict[str, str] | None, new: dict[str, str] | None) -> dict[str, str]:
    """Reducer: each training branch adds its delta (a new round resets the dict with ``Overwrite``)."""
    return {**(old or {}), **(new or {})}


class DeltaPayload(TypedDict):
    """The payload a ``Send`` gives one ``train_delta`` branch (checkpointed as this dict)."""

    chunk: str
    method: str
    round: int
    round_dir: str
    student: str


class CycleState(TypedDict, total=False):
    """The cycle graph's state.

    Attributes:
        round: the current round (1-based).
        student: the current student: a model directory (run-dir-relative once promoted) or the configured name.
        seed_plan: seeds (on the instruct graph: records) per category for the current round (from the previous
            round's feedback).
        data_source: ``evolve`` or ``instruct`` (``cycle.data_source``): the subgraph that makes the round's data.
        round_dir: ``rounds/<n>``.
        workdir: the folder the evolve or instruct subgraph works in (``round_dir``: a run directory of its own).
        start_method: the method the round's evolve starts from (the previous round's; "" in round 1).
        seed_draw: what the round's seeds were drawn from (user data; empty on the skills world).
        evolved: what the evolve subgraph handed back (its dataset's path, the λ history, its method).
        instructed: what the instruct subgraph handed back (its records' path, counts per category, stop reason).
        earlier_datasets: the instruct subgraph's records files of the rounds so far (its new instructions must not
            nearly duplicate theirs).
        chunks: chunk name → JSONL path; eval_path: the held-out split no delta trains on.
        training_plan: the deltas to train, ``{chunk, method}`` each (chunk ``all`` = train@all).
        deltas: delta name → adapter directory (``train@all`` excluded; parallel branches merge here);
            train_all: the train@all adapter.
        merge: the best merge found: weights, method, score, adapter path.
        result: the current round's figures (moved to ``results`` when the round closes).
        results: one entry per finished round.
        best_score / stale: best test score so far, and rounds without improving it (patience).
        limits: ``rounds`` and ``patience`` from the configuration.
    """

    round: int
    student: str
    seed_plan: dict[str, int]
    data_source: str
    round_dir: str
    workdir: str
    start_method: str
    seed_draw: dict[str, int]
    evolved: EvolveSummary
    instructed: InstructSummary
    earlier_datasets: list[str]
    chunks: dict[str, str]
    eval_path: str
    training_plan: list[dict[str, str]]
    deltas: Annotated[dict[str, str], merge_dicts]
    train_all: str
    merge: dict[str, Any]
    result: RoundResult
    results: Annotated[list[RoundResult], operator.add]
    best_score: float
    stale: int
    limits: dict[str, int]


def round_record(state: CycleState) -> RoundRecord:
    """The current round as the work in :mod:`evoforge.cycle` takes it (the state's keys stay the graph's)."""
    best, evolved = state.get("merge") or {}, state.get("evolved")
    return RoundRecord(
        number=state["round"],
        round_dir=state["round_dir"],
        student=state["student"],
        deltas=dict(state.get("deltas") or {}),
        train_all=state.get("train_all") or "",
        eval_path=state.get("eval_path") or "",
        merge=MergeSpec(**best["merge"]) if best else None,
        method_id=evolved.get("method_id", "") if evolved else "",
    )


def delta_task(payload: DeltaPayload) -> DeltaTask:
    """One training branch's payload as the work in :mod:`evoforge.cycle` takes it."""
    job = DeltaJob(payload["chunk"], payload["method"])
    return DeltaTask(round_dir=payload["round_dir"], student=payload["student"], job=job)
