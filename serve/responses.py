"""OpenAI's response objects for chat and text completions: whole bodies, streamed chunks, usage counts."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from evoforge.serve.decoding import Row

Kind = Literal["chat", "text"]


@dataclass
class Reply:
    """One response being built: its kind, id, creation time and the model (expert) it reports."""

    kind: Kind
    model: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def object_id(self) -> str:
        """``chatcmpl-…`` or ``cmpl-…``."""
        return f"{'chatcmpl' if self.kind == 'chat' else 'cmpl'}-{self.id}"

    def _head(self, suffix: str = "") -> dict[str, Any]:
        obj = "chat.completion" if self.kind == "chat" else "text_completion"
        head = {"id": self.object_id, "object": obj + suffix, "created": self.created, "model": self.model}
        return {**head, "expert": self.model}  # airoboros' field, for its clients

    def body(self, rows: list[Row], prompt_tokens: int) -> dict[str, Any]:
        """The whole (non-streamed) response for ``rows``, choice ``i`` being ``rows[i]``."""
        choices = []
        for index, row in enumerate(rows):
            choice: dict[str, Any] = {"index": index, "finish_reason": finish(row)}
            if self.kind == "chat":
                choice["message"] = {"role": "assistant", "content": row.text}
            else:
                choice.update(text=row.text, logprobs=None)
            choices.append(choice)
        return {**self._head(), "choices": choices, "usage": usage(prompt_tokens, rows)}

    def chunk(self, index: int, text: str | None = None, reason: str | None = None, first: bool = False) -> str:
        """One server-sent event: a text piece of choice ``index``, or its end (``reason``)."""
        choice: dict[str, Any] = {"index": index, "finish_reason": reason}
        if self.kind == "chat":
            choice["delta"] = {"role": "assistant", "content": text or ""} if first else {"content": text or ""}
            if reason is not None:
                choice["delta"] = {}
        else:
            choice.update(text=text or "", logprobs=None)
        suffix = ".chunk" if self.kind == "chat" else ""
        return event({**self._head(suffix), "choices": [choice]})

    def usage_chunk(self, prompt_tokens: int, rows: list[Row]) -> str:
        """The last event when ``stream_options.include_usage`` is set: no choices, the usage counts."""
        suffix = ".chunk" if self.kind == "chat" else ""
        return event({**self._head(suffix), "choices": [], "usage": usage(prompt_tokens, rows)})


def finish(row: Row) -> str:
    """OpenAI's ``finish_reason`` of a finished row (``stop`` or ``length``)."""
    return "length" if row.finish_reason == "length" else "stop"


def usage(prompt_tokens: int, rows: list[Row]) -> dict[str, int]:
    """Token counts: the prompts once, every completion's tokens."""
    completion = sum(len(row.tokens) for row in rows)
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion, "total_tokens": prompt_tokens + completion}


def event(data: dict[str, Any] | str) -> str:
    """A server-sent event line pair (``data: …``)."""
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"
