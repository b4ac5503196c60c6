"""Judge: grades an answer from 1 to 10, or picks the better of two answers (LLM-as-judge)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from evoforge.prompts import load_prompt

if TYPE_CHECKING:
    from evoforge.llm.protocol import Gateway

NO_REFERENCE = "(none)"


class GradeInput(BaseModel):
    """An instruction, an answer to grade, and optionally the reference answer."""

    instruction: str
    answer: str
    reference: str | None = None
    language: str = "en"


class GradeOutput(BaseModel):
    """A score from 1 (wrong) to 10 (exactly right), with a reason."""

    score: int = Field(ge=1, le=10)
    reason: str = ""


class CompareInput(BaseModel):
    """An instruction, two answers, and optionally the reference answer."""

    instruction: str
    answer_a: str
    answer_b: str
    reference: str | None = None
    language: str = "en"


class CompareOutput(BaseModel):
    """Which answer is better."""

    winner: Literal["A", "B", "tie"]
    reason: str = ""


async def grade(gw: Gateway, inp: GradeInput, sample: int = 0, role: str = "judge") -> GradeOutput:
    """Grade one answer."""
    messages = load_prompt("judge_grade", inp.language).messages(
        instruction=inp.instruction, answer=inp.answer, reference=inp.reference or NO_REFERENCE
    )
    return await gw.structured(role, messages, GradeOutput, sample=sample)


async def compare(gw: Gateway, inp: CompareInput, sample: int = 0, role: str = "judge") -> CompareOutput:
    """Pick the better of two answers (judge both orders yourself to cancel position bias)."""
    messages = load_prompt("judge_compare", inp.language).messages(
        instruction=inp.instruction,
        answer_a=inp.answer_a,
        answer_b=inp.answer_b,
        reference=inp.reference or NO_REFERENCE,
    )
    return await gw.structured(role, messages, CompareOutput, sample=sample)
