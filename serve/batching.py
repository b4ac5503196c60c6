"""Requests from the event loop, decoded together in a worker thread: the server's continuous supply of batches.

:meth:`Batcher.submit` queues a :class:`~evoforge.serve.decoding.Row` and returns a :class:`Stream` whose text
pieces arrive on the caller's event loop. One worker thread takes every queued row (up to ``max_batch``, waiting
``window_s`` after the first for others to join) and decodes them as one mixed-adapter batch; rows that arrive
meanwhile form the next batch. ``max_batch=1`` serves one request at a time (the baseline of ``bench/serve.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from dataclasses import dataclass

from evoforge.serve.decoding import Row
from evoforge.serve.engine import LoraEngine

_DONE = object()


@dataclass
class Stream:
    """The text of one queued row as it is generated: iterate it, or ``await`` :meth:`result`."""

    row: Row
    _pieces: asyncio.Queue[object]
    _failure: list[BaseException]

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


class Batcher:
    """One worker thread feeding :class:`LoraEngine` batches of the rows submitted from any event loop."""

    def __init__(self, engine: LoraEngine, max_batch: int = 32, window_s: float = 0.005) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.window_s = window_s
        self._queue: queue.Queue[tuple[Row, asyncio.AbstractEventLoop, Stream] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="lmoe-batcher", daemon=True)
        self._thread.start()
        self.batches = 0  # how many batches were decoded (for tests and the benchmark)

    def submit(self, row: Row) -> Stream:
        """Queue ``row``; its text arrives on the running event loop through the returned :class:`Stream`."""
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[object] = asyncio.Queue()
        stream = Stream(row, pieces, [])
        row.on_delta = lambda text: loop.call_soon_threadsafe(pieces.put_nowait, text)
        row.on_done = lambda _row: loop.call_soon_threadsafe(pieces.put_nowait, _DONE)
        self._queue.put((row, loop, stream))
        return stream

    def close(self) -> None:
        """Stop the worker after the batch in progress."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.window_s
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            self._run(batch)

    def _run(self, batch: list[tuple[Row, asyncio.AbstractEventLoop, Stream]]) -> None:
        self.batches += 1
        try:
            self.engine.run([row for row, _, _ in batch])
        except Exception as error:  # reported to every waiting request, never lost in the thread
            for row, loop, stream in batch:
                if row.finish_reason is None:
                    stream._failure.append(error)
                    with contextlib.suppress(RuntimeError):  # that request's loop is gone
                        loop.call_soon_threadsafe(stream._pieces.put_nowait, _DONE)
