"""LLM-as-judge over an evaluation set, through the gateway (:mod:`evoforge.agents.judge` renders the prompts).

- :func:`judge_set`: single-answer grading 1–10 (with the reference when there is one) → mean score (AutoLLM's
  ``eval_score``), pass rate at a threshold, per category.
- :func:`compare_sets`: pairwise comparison of two systems' answers, judged in **both orders** to cancel position
  bias. A verdict stands only when both orders agree; otherwise (A wins in one order and loses or ties in the
  other) it is a tie. Position consistency = the share of items whose two verdicts agree.

With ``batch: true`` on the judge role's model entry, every grade (or comparison) not in the response cache goes
through the provider's batch API, all at once (:func:`evoforge.llm.batch.in_passes`), at the batch price.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from evoforge.errors import DataError
from evoforge.llm.batch import gather_all, in_passes

if TYPE_CHECKING:
    from evoforge.agents.judge import CompareInput, CompareOutput, GradeInput, GradeOutput
    from evoforge.data.records import Example
    from evoforge.llm.protocol import Gateway

GradeFn = Callable[["Gateway", "GradeInput"], Awaitable["GradeOutput"]]
CompareFn = Callable[["Gateway", "CompareInput"], Awaitable["CompareOutput"]]
Verdict = Literal["a", "b", "tie"]


@dataclass
class JudgeReport:
    """Single-answer grades: mean score (1–10), pass rate (score ≥ threshold), per category and per example."""

    mean_score: float
    pass_rate: float
    threshold: int
    per_category: dict[str, float]
    per_example: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PairwiseReport:
    """Pairwise outcome of system a against system b over both orders."""

    wins: int
    ties: int
    losses: int
    position_consistency: float
    per_example: list[dict[str, Any]] = field(default_factory=list)

    @property
    def win_rate(self) -> float:
        """Wins plus half the ties, over all items (0.5 = no difference)."""
        total = self.wins + self.ties + self.losses
        return (self.wins + 0.5 * self.ties) / total if total else 0.5


def _check(records: Sequence[Example], *answer_sets: Sequence[str]) -> None:
    if not records:
        raise DataError("judge: the evaluation set is empty")
    for answers in answer_sets:
        if len(answers) != len(records):
            raise DataError(f"judge: {len(answers)} answers for {len(records)} records")


async def _bounded(gw: Gateway | None, calls: Callable[[], list[Awaitable[Any]]], concurrency: int) -> list[Any]:
    """The results of the fan-out ``calls()`` makes, at most ``concurrency`` at a time, in passes of batches when
    the judge's model entry says ``batch: true``."""

    async def fan_out() -> list[Any]:
        gate = asyncio.Semaphore(concurrency)

        async def run(call: Awaitable[Any]) -> Any:
            async with gate:
                return await call

        return await gather_all(run(c) for c in calls())

    return await in_passes(None if gw is None else gw.batches, fan_out)


async def judge_set(
    gw: Gateway,
    records: Sequence[Example],
    answers: Sequence[str],
    *,
    threshold: int = 7,
    language: str = "en",
    concurrency: int = 16,
    grade_fn: GradeFn | None = None,
) -> JudgeReport:
    """Grade every answer 1–10 against its evaluation item (:meth:`Example.for_eval`; reference included when not
    empty)."""
    from evoforge.agents.judge import GradeInput, grade

    _check(records, answers)
    grader = grade_fn or grade

    def calls() -> list[Awaitable[GradeOutput]]:
        return [
            grader(gw, GradeInput(instruction=r.prompt, answer=a, reference=r.reference or None, language=language))
            for r, a in zip(records, answers, strict=True)
        ]

    grades = await _bounded(gw, calls, concurrency)
    by_category: dict[str, list[int]] = defaultdict(list)
    per_example = []
    for record, answer, result in zip(records, answers, grades, strict=True):
        by_category[record.eval_item()["category"]].append(result.score)
        per_example.append({"prompt": record.prompt, "answer": answer, "score": result.score, "reason": result.reason})
    scores = [e["score"] for e in per_example]
    return JudgeReport(
        mean_score=sum(scores) / len(scores),
        pass_rate=sum(s >= threshold for s in scores) / len(scores),
        threshold=threshold,
        per_category={c: sum(v) / len(v) for c, v in sorted(by_category.items())},
        per_example=per_example,
    )


def combine(first: str, second: str) -> tuple[Verdict, bool]:
    """Verdict for system a from (a shown as A: ``first``) and (a shown as B: ``second``); and whether they agree."""
    one: Verdict = {"A": "a", "B": "b"}.get(first, "tie")  # type: ignore[assignment]
    two: Verdict = {"B": "a", "A": "b"}.get(second, "tie")  # type: ignore[assignment]
    return (one if one == two else "tie"), one == two


async def compare_sets(
    gw: Gateway,
    records: Sequence[Example],
    answers_a: Sequence[str],
    answers_b: Sequence[str],
    *,
    language: str = "en",
    concurrency: int = 16,
    compare_fn: CompareFn | None = None,
) -> PairwiseReport:
    """Judge system a against system b on every record, in both orders."""
    from evoforge.agents.judge import CompareInput, compare

    _check(records, answers_a, answers_b)
    judge = compare_fn or compare

    def ask(r: Example, first: str, second: str) -> Awaitable[CompareOutput]:
        inp = CompareInput(
            instruction=r.prompt, answer_a=first, answer_b=second, reference=r.reference or None, language=language
        )
        return judge(gw, inp)

    def calls() -> list[Awaitable[CompareOutput]]:
        pairs = zip(records, answers_a, answers_b, strict=True)
        return [call for r, a, b in pairs for call in (ask(r, a, b), ask(r, b, a))]

    results = await _bounded(gw, calls, concurrency)
    counts = {"a": 0, "b": 0, "tie": 0}
    consistent = 0
    per_example = []
    for k, record in enumerate(records):
        first, second = results[2 * k].winner, results[2 * k + 1].winner
        verdict, agree = combine(first, second)
        counts[verdict] += 1
        consistent += agree
        per_example.append({"prompt": record.prompt, "a_first": first, "b_first": second, "verdict": verdict})
    return PairwiseReport(
        wins=counts["a"],
        ties=counts["tie"],
        losses=counts["b"],
        position_consistency=consistent / len(records),
        per_example=per_example,
    )
