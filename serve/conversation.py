"""One chat UI conversation, without gradio: history trimmed to the model's context, and its chat log.

:func:`answer` sends a conversation to an OpenAI-compatible server; when the server says the prompt does not fit
the model's context (OpenAI's ``context_length_exceeded``, which both ``evoforge serve lmoe`` and vLLM answer), the
oldest turns are dropped, a user turn and its answer at a time, and it asks again: the server's own tokenizer
decides what fits, whatever the model. The reply says how many turns were dropped, for the UI to show (as the
data-efficient-training seed's chat UI shows "Context longer than 2048 is ignored.").

:class:`ChatLog` keeps one JSONL file per conversation (the seed kept ``gradio_chats/<client>.txt``): a line per
exchange with its time, client, model, expert, the user's message, the answer and the turns dropped.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evoforge.serve.identity import with_identity

CONTEXT_EXCEEDED = "context_length_exceeded"


@dataclass(frozen=True)
class Answer:
    """The model's answer, the expert that wrote it, and how many earlier turns were left out to fit."""

    text: str
    expert: str
    dropped: int = 0


class TooLong(ValueError):
    """The user's last message alone does not fit the model's context."""


def answer(
    client: Any, model: str, turns: Sequence[Mapping[str, str]], *, identity: str = "", max_tokens: int = 128
) -> Answer:
    """The server's answer to ``turns`` (user/assistant, the last one the user's), oldest turns dropped until the
    prompt fits; ``client`` is an ``openai.OpenAI``.

    Raises:
        TooLong: even the last user message alone does not fit.
        openai.APIError: any other error of the server.
    """
    import openai

    kept = [dict(t) for t in turns]
    dropped = 0
    while True:
        try:
            raw = client.chat.completions.with_raw_response.create(
                model=model, messages=with_identity(kept, identity), max_tokens=max_tokens, temperature=0
            )
        except openai.BadRequestError as error:
            if not _context_exceeded(error):
                raise
            if len(kept) <= 1:
                raise TooLong(str(error.message)) from None
            cut = 2 if len(kept) > 2 and kept[1]["role"] == "assistant" else 1
            kept, dropped = kept[cut:], dropped + cut
            continue
        reply = raw.parse()
        expert = raw.headers.get("x-expert") or reply.model
        return Answer(reply.choices[0].message.content or "", expert, dropped)


def _context_exceeded(error: Any) -> bool:
    return error.code == CONTEXT_EXCEEDED or "context length" in str(error.message).lower()


class ChatLog:
    """JSONL chat logs in ``folder``: one file per conversation, a line per exchange."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def new(self) -> str:
        """A new conversation's id (its file's name without ``.jsonl``: start time and a random suffix)."""
        return f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"

    def path(self, conversation: str) -> Path:
        """The log file of ``conversation``."""
        return self.folder / f"{conversation}.jsonl"

    def write(self, conversation: str, client: str, model: str, message: str, reply: Answer) -> None:
        """Append one exchange to ``conversation``'s file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        record = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "client": client,
            "model": model,
            "expert": reply.expert,
            "user": message,
            "assistant": reply.text,
            "dropped_turns": reply.dropped,
        }
        with self.path(conversation).open("a", encoding="utf-8") as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
