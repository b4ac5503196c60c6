"""Router: picks the expert model that should answer a request, from the experts' descriptions (airoboros' LMoE
agent router; the LMoE server of :mod:`evoforge.serve` calls it for ``model: auto`` when asked to)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from evoforge.prompts import load_prompt

if TYPE_CHECKING:
    from evoforge.llm.protocol import Gateway


class RouteInput(BaseModel):
    """A request's text and the experts to choose from (name → description)."""

    request: str
    experts: dict[str, str] = Field(min_length=1)
    language: str = "en"


class RouteOutput(BaseModel):
    """The chosen expert's name, with a reason."""

    expert: str
    reason: str = ""


async def choose_expert(gw: Gateway, inp: RouteInput, role: str = "router") -> RouteOutput:
    """Ask ``role``'s model which expert should answer ``inp.request`` (the name is not checked here)."""
    listing = "\n".join(f"{name}: {text}" for name, text in inp.experts.items())
    messages = load_prompt("router", inp.language).messages(experts=listing, request=inp.request)
    return await gw.structured(role, messages, RouteOutput, max_tokens=128)
