"""Optimizer: rewrites the evolving method from the analyzer's feedback (the paper's delimited block)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import BaseModel

from evoforge.prompts import load_prompt

if TYPE_CHECKING:
    from evoforge.llm.protocol import Gateway

_BLOCK = re.compile(r"```\s*Optimized Method[^\n]*\n(?P<method>.*?)\n?```", re.DOTALL | re.IGNORECASE)
_ANY_BLOCK = re.compile(r"```[^\n]*\n(?P<method>.*?)\n?```", re.DOTALL)


class OptimizeInput(BaseModel):
    """The current method and the feedback on its failed cases."""

    method: str
    feedback: str
    language: str = "en"


class OptimizeOutput(BaseModel):
    """The optimised method (the current one when the reply held no method block)."""

    method: str
    changed: bool = True


def extract_method(reply: str) -> str | None:
    """The method inside the reply's ```Optimized Method block (or its only code block); None if absent."""
    match = _BLOCK.search(reply)
    if match is None:
        blocks = list(_ANY_BLOCK.finditer(reply))
        match = blocks[-1] if len(blocks) == 1 else None
    if match is None:
        return None
    method = match["method"].strip()
    return method or None


async def optimize(gw: Gateway, inp: OptimizeInput, sample: int = 0, role: str = "optimizer") -> OptimizeOutput:
    """One candidate method (``sample`` tells candidates apart under sampling)."""
    messages = load_prompt("optimizer", inp.language).messages(method=inp.method, feedback=inp.feedback)
    reply = await gw.complete(role, messages, sample=sample)
    method = extract_method(reply)
    if method is None:
        return OptimizeOutput(method=inp.method, changed=False)
    return OptimizeOutput(method=method, changed=method.strip() != inp.method.strip())
