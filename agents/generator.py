"""Generator: answers an instruction (the responses of the dataset, and the validation answers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from evoforge.prompts import load_prompt

if TYPE_CHECKING:
    from evoforge.llm.protocol import Gateway


class AnswerInput(BaseModel):
    """An instruction to answer."""

    instruction: str
    language: str = "en"


class AnswerOutput(BaseModel):
    """The response."""

    response: str


async def answer(gw: Gateway, inp: AnswerInput, sample: int = 0, role: str = "generator") -> AnswerOutput:
    """Answer ``inp.instruction`` (use ``role="validator"`` for validation answers)."""
    messages = load_prompt("generator", inp.language).messages(instruction=inp.instruction)
    reply = await gw.complete(role, messages, sample=sample)
    return AnswerOutput(response=reply.strip())
