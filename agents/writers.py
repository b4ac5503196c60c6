"""airoboros' three writers as agents: the topic writer, an instructor's batch of instructions, the responder.

Each is an async function over pydantic input and output that renders its prompt and calls the gateway once.
Sampling parameters (airoboros' ``api_params``) travel as request overrides.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from evoforge.agents.instructors import REGISTRY, Batch, TaskList

if TYPE_CHECKING:
    from evoforge.llm.protocol import Gateway

_NUMBERED = re.compile(r"^[ \t]*\d+[.)][ \t]+(.+?)[ \t]*$", re.MULTILINE)
APOLOGIES = ("I'm sorry,", "Apologies,", "I can't", "I won't", "I cannot")  # refusals airoboros drops too


class TopicRequest(BaseModel):
    """One topic request: the prompt (``{topic_avoidance}`` filled in) and its sample index."""

    prompt: str
    sample: int = 0
    role: str = "generator"
    params: dict[str, Any] = Field(default_factory=dict)


class TopicList(BaseModel):
    """The topics of one reply (a numbered list); headings (ending in a colon) are not topics."""

    topics: list[str] = Field(default_factory=list)


class TaskRequest(BaseModel):
    """One batch request of instructor ``instructor``."""

    instructor: str
    batch: Batch
    sample: int = 0
    role: str = "generator"
    params: dict[str, Any] = Field(default_factory=dict)


class ResponseRequest(BaseModel):
    """An instruction of instructor ``instructor`` to respond to."""

    instructor: str
    instruction: str
    role: str = "generator"
    params: dict[str, Any] = Field(default_factory=dict)
    filters: list[str] = Field(default_factory=list)
    batch: Batch | None = None  # the batch it came from: its settings (a response prompt file), language, flesch


class Response(BaseModel):
    """The response, or why there is none (``filtered`` names the response filter that matched)."""

    text: str = ""
    filtered: str | None = None


def parse_topics(text: str) -> TopicList:
    """The items of a numbered list (``1. ...``), without headings or empty items."""
    items = (m.group(1).strip() for m in _NUMBERED.finditer(text or ""))
    return TopicList(topics=[item for item in items if item and not item.endswith(":")])


async def write_topics(gw: Gateway, inp: TopicRequest) -> TopicList:
    """Ask for one list of topics."""
    reply = await gw.complete(inp.role, [{"role": "user", "content": inp.prompt}], sample=inp.sample, **inp.params)
    return parse_topics(reply)


async def write_tasks(gw: Gateway, inp: TaskRequest) -> TaskList:
    """Ask instructor ``inp.instructor`` for one batch of instructions and read them (skips counted)."""
    instructor = REGISTRY[inp.instructor]
    reply = await gw.complete(inp.role, instructor.messages(inp.batch), sample=inp.sample, **inp.params)
    return instructor.parse(reply, inp.batch)


def filtered_by(text: str, filters: list[str]) -> str | None:
    """The first response filter (a case-insensitive regex) or refusal opening that ``text`` matches, else None."""
    if not text.strip():
        return "empty response"
    for pattern in filters:
        if re.search(pattern, text, re.IGNORECASE):
            return pattern
    return "apology" if text.lstrip().startswith(APOLOGIES) else None


async def respond(gw: Gateway, inp: ResponseRequest) -> Response:
    """The response to one instruction, checked against the response filters."""
    instructor = REGISTRY[inp.instructor]
    messages = instructor.response_messages(inp.instruction, inp.batch)
    text = instructor.finish_response(inp.instruction, await gw.complete(inp.role, messages, **inp.params)).strip()
    return Response(text=text, filtered=filtered_by(text, inp.filters))
