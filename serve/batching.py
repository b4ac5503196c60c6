"""Requests from the event loop, decoded together in a worker thread: continuous mixed-adapter batching.

:meth:`Batcher.submit` queues a :class:`~evoforge.serve.decoding.Row` and returns a
:class:`~evoforge.serve.engine_api.Stream` whose text pieces arrive on the caller's event loop. One worker thread takes
every queued row (up to ``max_batch``, waiting ``window_s`` after the first for others to join) and decodes them as
one mixed-adapter batch; a row that arrives meanwhile joins that batch at its next decode step while there is room
(the engine prefills it and stacks its KV cache onto the batch's), else it waits for a free slot. ``max_batch=1``
serves one request at a time (the baseline of ``bench/serve.py``).
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from evoforge.serve.decoding import Row
from evoforge.serve.engine_api import Stream, open_stream

Admit = Callable[[int], list[Row]]  # given how many rows are decoding, more rows to join them (maybe none)


class RowRunner(Protocol):
    """What the batcher drives: something that decodes a list of rows together (a :class:`LoraEngine`)."""

    def run(self, rows: Sequence[Row], admit: Admit | None = None) -> None:
        """Decode ``rows`` until each is done, adding the rows ``admit`` hands over between steps."""
        ...


class Batcher:
    """One worker thread feeding ``engine`` batches of the rows submitted from any event loop (a decoder)."""

    def __init__(self, engine: RowRunner, max_batch: int = 32, window_s: float = 0.005) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.window_s = window_s
        self._queue: queue.Queue[tuple[Row, Stream] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="lmoe-batcher", daemon=True)
        self._thread.start()
        self.batches = 0  # how many batches were decoded (for tests and the benchmark)

    def submit(self, row: Row) -> Stream:
        """Queue ``row``; its text arrives on the running event loop through the returned :class:`Stream`."""
        stream = open_stream(row)
        self._queue.put((row, stream))
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

    def _run(self, batch: list[tuple[Row, Stream]]) -> None:
        self.batches += 1
        try:
            self.engine.run([row for row, _ in batch], admit=functools.partial(self._admit, batch))
        except Exception as error:  # reported to every waiting request, never lost in the thread
            for row, stream in batch:
                if row.finish_reason is None:
                    stream.fail(error)

    def _admit(self, batch: list[tuple[Row, Stream]], busy: int) -> list[Row]:
        """The rows queued since the batch began, up to ``max_batch`` in all (they join it at the next step)."""
        rows: list[Row] = []
        while busy + len(rows) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:  # closing: finish what is decoding
                self._queue.put(None)
                break
            batch.append(item)
            rows.append(item[0])
        return rows
