"""Evolver: rewrites an instruction into a more complex one by following an evolving method (in-depth), or
creates a new instruction of the same domain (in-breadth, WizardLM's prompt)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from evoforge.prompts import load_prompt

if TYPE_CHECKING:
    from evoforge.llm.protocol import Gateway

_FINAL_MARKERS = ("#Finally Rewritten Instruction#", "#Rewritten Instruction#", "#Created Prompt#")
_LEADING_COLON = re.compile(r"^\s*[:：]\s*")


class EvolveInput(BaseModel):
    """An instruction to evolve and the method to follow (the method is unused in breadth mode)."""

    instruction: str
    method: str = ""
    language: str = "en"
    mode: Literal["depth", "breadth"] = "depth"


class EvolveOutput(BaseModel):
    """The evolved instruction and the model's whole reply."""

    instruction: str
    raw: str = Field("", description="The evol LLM's full reply (steps, plan ...).")


def extract_instruction(reply: str) -> str:
    """The final instruction of an evol LLM reply: the text after its last final-instruction marker, or all of it."""
    for marker in _FINAL_MARKERS:
        at = reply.rfind(marker)
        if at >= 0:
            return _LEADING_COLON.sub("", reply[at + len(marker) :]).strip()
    return reply.strip()


async def evolve(gw: Gateway, inp: EvolveInput, sample: int = 0, role: str = "evolver") -> EvolveOutput:
    """Evolve ``inp.instruction`` once."""
    if inp.mode == "breadth":
        messages = load_prompt("evolver_breadth", inp.language).messages(instruction=inp.instruction)
    else:
        messages = load_prompt("evolver", inp.language).messages(method=inp.method, instruction=inp.instruction)
    reply = await gw.complete(role, messages, sample=sample)
    return EvolveOutput(instruction=extract_instruction(reply), raw=reply)
