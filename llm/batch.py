"""Batch generation: a fan-out's requests to a model entry with ``batch: true`` go through the provider's file +
batch API (LiteLLM's ``create_file``, ``create_batch``, ``retrieve_batch``, ``file_content``) instead of one request
each.

A bulk step runs in passes. In a pass, inside :func:`collecting`, the gateway answers every request the response
cache holds; one it does not hold is set aside (:class:`Deferred`, a transport-style loss, so the step's rows come
out as after lost calls) and the step's update is dropped. :meth:`BatchDesk.submit` sends the set-aside requests as
one batch per model entry; the caller keeps the batch ids (a graph keeps them in its state, so a checkpoint holds
them). :meth:`BatchDesk.settle` waits for them — a progress bar while it polls — and puts every answer into the
response cache, recorded at the batch price. The next pass is answered from the cache and sets aside only what
depends on those answers (the next generation of an evolution). A request a batch failed is, in the next pass, lost
to a transport error: the step keeps its row apart as a retryable one (``dataset/lost.jsonl``).

A graph's bulk node runs its passes through :func:`evoforge.graphs.llm_batches.batched` (the batch ids in its state);
a bulk step outside a graph (LLM-judge scoring, the cull) through :func:`in_passes`, which waits for its batches in
the same process, each batch recorded beside the response cache until it is settled (:mod:`.batch_records`), so
a stopped step run again polls its pending batch instead of sending its requests again.
A pass must let every call of its fan-out end before it raises (:func:`gather_all`), so that it sets aside all of
them at once.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from evoforge.console import info, progress
from evoforge.errors import LLMTransportError
from evoforge.llm.backend import ModelFailed, api_key_of, litellm_module, token_cost
from evoforge.llm.batch_records import BatchRecords, send_and_settle
from evoforge.llm.cache import CachedResponse, ResponseCache

if TYPE_CHECKING:
    from evoforge.llm.postgres import PostgresResponseCache
    from evoforge.llm.usage import UsageLedger
    from evoforge.settings import LLMSettings, ModelEntry

T = TypeVar("T")
ENDPOINT = "/v1/chat/completions"
DONE = ("completed", "failed", "expired", "cancelled")
BATCH_FAILED = "the provider's batch failed this request"


class Deferred(LLMTransportError):
    """A request set aside for the next batch (not sent now)."""


@dataclass
class Collector:
    """The requests a pass set aside (by ``role|entry|cache key``), the cache keys earlier batches failed, and the
    cache's answers (counted as cache hits only by the pass that ends the step, less those a batch delivered)."""

    failed: frozenset[str] = frozenset()
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    hits: list[tuple[str, str]] = field(default_factory=list)  # (role, cache key) of each answer the cache gave
    direct: set[str] = field(default_factory=set)  # cache keys sent at once, inside :func:`one_by_one`

    def hit(self, role: str, key: str) -> None:
        """Note that the response cache answered ``role``'s request ``key`` in this pass."""
        self.hits.append((role, key))

    def defer(self, key: str, role: str, name: str, kwargs: dict[str, Any]) -> None:
        """Set aside the request ``kwargs`` of ``role`` to model entry ``name``, whose cache key is ``key``.

        Inside :func:`one_by_one` it returns instead, and the gateway sends the request at once.

        Raises:
            Deferred: always (outside :func:`one_by_one`), unless an earlier batch failed the request:
            ModelFailed: (transient) then, so the step keeps its row as one lost to a transport error.
        """
        if _ONE_BY_ONE.get():
            self.direct.add(key)
            return
        if key in self.failed:
            raise ModelFailed(BATCH_FAILED, transient=True)
        self.requests[f"{role}|{name}|{key}"] = kwargs
        raise Deferred(f"set aside for a batch to model entry '{name}'")


_COLLECTOR: ContextVar[Collector | None] = ContextVar("evoforge_batch_collector", default=None)
_ONE_BY_ONE: ContextVar[bool] = ContextVar("evoforge_batch_one_by_one", default=False)


def collector() -> Collector | None:
    """The collector of the pass this code runs in, or None outside :func:`collecting`."""
    return _COLLECTOR.get()


@contextmanager
def collecting(failed: frozenset[str] = frozenset()) -> Iterator[Collector]:
    """Run a pass whose uncached requests to batch model entries are set aside (``failed``: keys lost for good)."""
    token = _COLLECTOR.set(Collector(failed))
    try:
        yield _COLLECTOR.get() or Collector()
    finally:
        _COLLECTOR.reset(token)


@contextmanager
def one_by_one() -> Iterator[None]:
    """Inside a pass, send this block's requests (and those of the tasks it starts) at once, not as a batch: a
    sequential part of a bulk step (a chat whose every turn waits for the last would take a batch per turn)."""
    token = _ONE_BY_ONE.set(True)
    try:
        yield
    finally:
        _ONE_BY_ONE.reset(token)


def _transport(entry: ModelEntry) -> dict[str, Any]:
    """The LiteLLM provider, API base and key of the files and batches calls to ``entry``."""
    kwargs: dict[str, Any] = {"custom_llm_provider": entry.model.split("/", 1)[0]}
    if entry.api_base is not None:
        kwargs["api_base"] = entry.api_base
    key = api_key_of(entry)
    if key is not None:
        kwargs["api_key"] = key
    return kwargs


def _lines(content: bytes) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSONL file's ``content``."""
    return (json.loads(line) for line in content.decode().splitlines() if line.strip())


def _body(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A batch line's request body: the LiteLLM parameters with the provider prefix taken off the model name."""
    return {**kwargs, "model": str(kwargs["model"]).split("/", 1)[-1]}


class BatchDesk:
    """Submits set-aside requests as batches and settles them into the response cache and the usage ledger."""

    def __init__(
        self, settings: LLMSettings, cache: ResponseCache | PostgresResponseCache | None, ledger: UsageLedger
    ) -> None:
        self.settings = settings
        self._cache = cache
        self._ledger = ledger
        self.delivered: set[str] = set()  # cache keys a batch answered (settled by this process)
        # the batches in_passes sent and has not settled, in the cache's SQLite file (none with no cache there)
        self.records = BatchRecords(cache.path) if isinstance(cache, ResponseCache) else None

    async def submit(self, requests: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """Send ``requests`` (a :class:`Collector`'s) as one batch per model entry: ``[{id, model, requests}]``.

        Raises:
            BudgetExceeded: the run's LLM budget is spent.
        """
        self._ledger.check_budget()  # BudgetExceeded: the run stops before it pays for more
        litellm = litellm_module()
        by_entry: dict[str, list[str]] = {}
        for custom_id, kwargs in requests.items():
            by_entry.setdefault(custom_id.split("|", 2)[1], []).append(
                json.dumps({"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": _body(kwargs)})
            )
        batches = []
        for name, lines in sorted(by_entry.items()):
            transport = _transport(self.settings.models[name])
            content = ("\n".join(lines) + "\n").encode()
            upload = await asyncio.to_thread(
                litellm.create_file, file=("requests.jsonl", content), purpose="batch", **transport
            )
            batch = await asyncio.to_thread(
                litellm.create_batch,
                completion_window="24h",
                endpoint=ENDPOINT,
                input_file_id=upload.id,
                **transport,
            )
            batches.append({"id": batch.id, "model": name, "requests": len(lines)})
        return batches

    def passed(self, pending: Collector) -> None:
        """Note a pass that set requests aside: the answers it got at once (:func:`one_by_one`), recorded as calls,
        are cache hits of the passes after it, not counted again."""
        self.delivered |= pending.direct

    def count_hits(self, last: Collector) -> None:
        """Count the cache hits of the ``last`` pass of a step, but not the first use of each answer this step's
        batches (or its earlier passes' :func:`one_by_one` calls) delivered (counted as a call when it was made),
        as one request at a time counts them."""
        for role, key in last.hits:
            if key in self.delivered:
                self.delivered.discard(key)
            else:
                self._ledger.hit(role)
        self.delivered.clear()

    async def settle(self, batches: list[dict[str, Any]]) -> list[str]:
        """Wait for ``batches`` (from :meth:`submit`), showing progress, and cache every answer; the cache keys of
        the requests they did not answer (failed, or left when a batch failed, expired or was cancelled).
        """
        failed: list[str] = []
        for batch in batches:
            failed += await self._settle_one(batch)
        return failed

    async def _settle_one(self, batch: dict[str, Any]) -> list[str]:
        litellm = litellm_module()
        entry = self.settings.models[batch["model"]]
        transport = _transport(entry)
        with progress(f"batch {batch['model']}", total=batch["requests"]) as bar:
            shown = 0
            while True:
                state = await asyncio.to_thread(litellm.retrieve_batch, batch_id=batch["id"], **transport)
                counts = state.request_counts
                done = (counts.completed + counts.failed) if counts is not None else 0
                bar.advance(done - shown)
                bar.note(str(state.status))
                shown = done
                if state.status in DONE:
                    break
                await asyncio.sleep(entry.batch_poll_s)
        if state.status != "completed":
            info(
                f"batch {batch['id']} to model entry '{batch['model']}' ended {state.status}: its unanswered "
                "requests are lost rows, sent again by the next run or resume"
            )
        if state.output_file_id:
            content = await asyncio.to_thread(litellm.file_content, file_id=state.output_file_id, **transport)
            await asyncio.to_thread(self._store, entry, content.content)
        sent = await asyncio.to_thread(litellm.file_content, file_id=state.input_file_id, **transport)
        return await asyncio.to_thread(self._unanswered, sent.content)

    def _store(self, entry: ModelEntry, content: bytes) -> None:
        """Cache and record the answers in a batch's output file."""
        for row in _lines(content):
            role, _, key = str(row["custom_id"]).split("|", 2)
            response = row.get("response") or {}
            if response.get("status_code") != 200 or self._cache is None:
                continue
            self.delivered.add(key)
            if self._cache.get(key) is not None:
                continue  # settled before (a resumed run's second look): recorded then
            answer = self._answer(entry, response["body"])
            self._cache.put(key, answer)
            self._ledger.record_batched(role, answer)

    def _unanswered(self, sent: bytes) -> list[str]:
        """The cache keys of the requests in a batch's input file that it did not answer (failed, expired)."""
        keys = [str(row["custom_id"]).split("|", 2)[2] for row in _lines(sent)]
        return [key for key in keys if self._cache is not None and self._cache.get(key) is None]

    def _answer(self, entry: ModelEntry, body: dict[str, Any]) -> CachedResponse:
        """One batch answer, priced at ``entry.batch_price`` times its per-token (or LiteLLM's) price."""
        usage = body.get("usage") or {}
        tokens_in, tokens_out = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        cost = token_cost(entry, tokens_in, tokens_out) or 0.0  # a model no table prices costs nothing
        text = body["choices"][0]["message"].get("content") or ""
        return CachedResponse(text, entry.model, tokens_in, tokens_out, cost * entry.batch_price)


async def gather_all(calls: Iterable[Awaitable[T]]) -> list[T]:
    """The results of ``calls``, run at once; when some raise, the first one's error, raised once all have ended
    (so a pass sets aside every request of the fan-out, not those sent before the first was set aside)."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]  # no result is an exception here


async def in_passes(desk: BatchDesk | None, step: Callable[[], Awaitable[T]]) -> T:
    """``step()`` outside a graph, run in passes while a pass sets requests aside: they are sent as batches, waited
    for (a progress bar), and the step runs again, answered by the cache. A request a recorded batch holds (sent by
    a step that was stopped) is not sent again: that batch is settled instead (:func:`send_and_settle`). A request a
    batch failed goes into the next batch again, up to ``llm.num_retries`` times more; then the step's call of it
    fails as after lost calls. Without ``desk`` (no gateway) the step runs once."""
    if desk is None:
        return await step()
    failures: Counter[str] = Counter()
    while True:
        lost = frozenset(key for key, times in failures.items() if times > desk.settings.num_retries)
        with collecting(lost) as pending:
            try:
                result = await step()
            except Deferred:
                if not pending.requests:
                    raise
            else:
                if not pending.requests:
                    desk.count_hits(pending)
                    return result
        desk.passed(pending)
        failures.update(await send_and_settle(desk, pending.requests))
