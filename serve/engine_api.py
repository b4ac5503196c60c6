"""What the HTTP API needs from an engine, whichever does the decoding (PEFT in-process, or vLLM multi-LoRA).

An :class:`Engine` turns messages and text into prompt token ids (one tokenizer and chat template for both
backends, so a prompt is the same tokens whichever serves it) and, once started, gives a :class:`Decoder`: submit a
:class:`~evoforge.serve.decoding.Row` on the running event loop and read its text as it is generated from the
:class:`Stream` it returns. Cancelling a stream (the client went away) ends its row at the engine's next step.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from evoforge.serve.decoding import Row

_DONE = object()


@dataclass
class Stream:
    """The text of one submitted row as it is generated: iterate it, or ``await`` :meth:`result`.

    The engine may feed it from any thread: text pieces and the end are handed to the submitting event loop.
    """

    row: Row
    _loop: asyncio.AbstractEventLoop
    _pieces: asyncio.Queue[object] = field(default_factory=asyncio.Queue)
    _failure: list[BaseException] = field(default_factory=list)
    on_cancel: Callable[[], object] | None = None  # an engine's own way to stop the row at once

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> str:
        piece = await self._pieces.get()
        if piece is _DONE:
            await self._pieces.put(_DONE)  # later iterations stop too
            if self._failure:
                raise self._failure[0]
            raise StopAsyncIteration
        assert isinstance(piece, str)
        return piece

    async def result(self) -> Row:
        """Wait for the row to finish; returns it (its ``text``, ``tokens``, ``finish_reason``)."""
        async for _ in self:
            pass
        return self.row

    def cancel(self) -> None:
        """Stop generating (the client went away): the row leaves its batch at the next step."""
        self.row.cancelled = True
        if self.on_cancel is not None and self.row.finish_reason is None:
            self.on_cancel()

    def fail(self, error: BaseException) -> None:
        """End the stream with ``error`` (raised to whoever reads it), from any thread."""
        self._failure.append(error)
        self._put(_DONE)

    def _put(self, item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the submitting loop is gone: nobody is reading
            self._loop.call_soon_threadsafe(self._pieces.put_nowait, item)


def open_stream(row: Row) -> Stream:
    """A :class:`Stream` on the running event loop, fed by ``row``'s ``on_delta`` and ``on_done`` callbacks."""
    stream = Stream(row, asyncio.get_running_loop())
    row.on_delta = stream._put
    row.on_done = lambda _row: stream._put(_DONE)
    return stream


class Decoder(Protocol):
    """A started engine: decodes the rows submitted to it, many at a time."""

    def submit(self, row: Row) -> Stream:
        """Queue ``row`` (on the running event loop); its text arrives through the returned stream."""
        ...

    def close(self) -> None:
        """Stop decoding and release what the decoder holds."""
        ...


class Engine(Protocol):
    """A base model with named LoRA adapters, as the API sees it."""

    adapters: list[str]
    context: int  # the model's context window in tokens (prompt + completion)

    def chat_prompt(self, messages: Sequence[Mapping[str, str]]) -> list[int]:
        """Token ids of ``messages`` through the chat template, ending with the assistant's generation prompt."""
        ...

    def encode(self, text: str) -> list[int]:
        """Token ids of raw ``text`` (no special tokens added)."""
        ...

    def start(self, max_batch: int) -> Decoder:
        """Begin serving: a decoder running at most ``max_batch`` completions together."""
        ...
