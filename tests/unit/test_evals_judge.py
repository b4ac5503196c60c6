"""LLM-as-judge over a set: grading through the simulated LLM, pairwise in both orders, position bias → ties."""

from __future__ import annotations

import asyncio

import pytest

from evoforge.agents.judge import CompareInput, CompareOutput, GradeInput, GradeOutput
from evoforge.data.records import Example
from evoforge.errors import DataError
from evoforge.evals.judging import combine, compare_sets, judge_set
from evoforge.llm.gateway import LLMGateway
from evoforge.offline.world import generate_tasks
from evoforge.settings import LLMSettings

TASKS = generate_tasks(6, seed=3)
RECORDS = [Example.for_eval(t.instruction, t.answer, t.category) for t in TASKS]
RIGHT = [t.answer for t in TASKS]
HALF = [t.answer if k % 2 == 0 else "no idea?" for k, t in enumerate(TASKS)]


def _gateway() -> LLMGateway:
    return LLMGateway(LLMSettings(cache=False))


def test_judge_set_with_the_simulated_llm() -> None:
    report = asyncio.run(judge_set(_gateway(), RECORDS, HALF, threshold=7))
    assert [e["score"] for e in report.per_example] == [10, 1, 10, 1, 10, 1]
    assert report.mean_score == pytest.approx(5.5) and report.pass_rate == pytest.approx(0.5)
    assert set(report.per_category) == {r.category for r in RECORDS}


def test_pairwise_with_the_simulated_llm_is_position_consistent() -> None:
    report = asyncio.run(compare_sets(_gateway(), RECORDS, RIGHT, HALF))
    assert (report.wins, report.ties, report.losses) == (3, 3, 0)
    assert report.position_consistency == 1.0 and report.win_rate == pytest.approx(0.75)


def test_position_biased_judge_yields_ties() -> None:
    async def always_first(gw: object, inp: CompareInput) -> CompareOutput:
        return CompareOutput(winner="A")

    report = asyncio.run(compare_sets(None, RECORDS, RIGHT, HALF, compare_fn=always_first))  # type: ignore[arg-type]
    assert (report.wins, report.ties, report.losses) == (0, 6, 0)
    assert report.position_consistency == 0.0


@pytest.mark.parametrize(
    ("first", "second", "verdict", "agree"),
    [("A", "B", "a", True), ("B", "A", "b", True), ("A", "A", "tie", False), ("A", "tie", "tie", False)],
)
def test_combine_orders(first: str, second: str, verdict: str, agree: bool) -> None:
    assert combine(first, second) == (verdict, agree)


def test_judge_set_passes_the_reference_and_checks_lengths() -> None:
    seen: list[GradeInput] = []

    async def fake(gw: object, inp: GradeInput) -> GradeOutput:
        seen.append(inp)
        return GradeOutput(score=8)

    report = asyncio.run(judge_set(None, RECORDS[:2], ["x", "y"], grade_fn=fake))  # type: ignore[arg-type]
    assert [s.reference for s in seen] == [r.reference for r in RECORDS[:2]] and report.pass_rate == 1.0
    with pytest.raises(DataError, match="answers"):
        asyncio.run(judge_set(None, RECORDS, ["x"], grade_fn=fake))  # type: ignore[arg-type]
