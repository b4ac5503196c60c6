"""One async producer per instructor, all running at once over one gateway (which keeps them within each model's
concurrency and rate limits) and one de-duplication index.

A producer asks for batches of ``batch_size`` instructions (batch *b* is the request's sample index, its topics the
next ``batch_size`` of the instructor's topic order), keeps the new ones that are not near duplicates, has each
answered, drops a response that a response filter matches, and writes each record as soon as it has it. A
single-pass instructor's reply holds its records already (airoboros' inline Q&A): the new ones are written as they
are, without a responder. It stops
when its count is reached, when ``patience`` batches in a row added nothing (``exhausted``), or when the token
budget is spent (``budget``: every producer stops; what was written stays). A resumed run starts again from batch 0:
an instruction already in the file is passed over (``already_written``; with the response cache it costs nothing),
so the file ends with exactly the configured counts, without a duplicate or a gap. A batch that meets one of them
first counts as having added it (as it did when it wrote it), so a resumed producer is not ``exhausted`` earlier.

In a pass of batch generation (:mod:`evoforge.llm.batch`) a request set aside for a batch (:class:`Deferred`) is
neither a failure nor idle: it is counted as the records it should bring (``batch_size`` for an instruction
request, one for a response), and the producer goes on asking for the rest of its count, so one pass sets aside a
whole round of requests. The next pass starts again from batch 0 as a resumed run does, answered by the cache.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from evoforge.agents.instructors import REGISTRY, Batch, dedup_key
from evoforge.agents.instructors.characters import Dependent
from evoforge.agents.writers import ResponseRequest, TaskRequest, filtered_by, respond, write_tasks
from evoforge.data.dedup import ExactIndex, NearDuplicateIndex
from evoforge.errors import BudgetExceeded, LLMError, LLMTransportError
from evoforge.instruct.output import RecordFile
from evoforge.llm.batch import Deferred
from evoforge.settings import InstructSettings

if TYPE_CHECKING:
    from evoforge.llm.protocol import Gateway

Answered = Literal["written", "deferred", "none"]  # what one response did


def failed_call(exc: LLMError, call: str) -> str:
    """The skip reason of a ``call`` (request, response) that failed for good: ``<call>_lost`` when transport faults
    (timeouts, 429, 5xx) lost it after every retry, not the reply's fault; ``<call>_failed`` otherwise."""
    return f"{call}_lost" if isinstance(exc, LLMTransportError) else f"{call}_failed"


@dataclass
class Progress:
    """How one instructor's producer ended: records before and after, batches asked, skips by reason, why it stopped."""

    name: str
    target: int
    before: int
    written: int = 0
    batches: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    stopped: str = "done"
    resumed: int = 0  # instructions met written already, each first met in this run (a batch that wrote them)

    def as_dict(self) -> dict[str, Any]:
        """Plain figures for the graph's state and the report."""
        return {
            "target": self.target,
            "before": self.before,
            "written": self.written,
            "total": self.before + self.written,
            "batches": self.batches,
            "skipped": dict(sorted(self.skipped.items())),
            "stopped": self.stopped,
        }


@dataclass(eq=False)
class GenerationPass:
    """What each pass of one generation run works with (the producers, the second pass): the gateway, the instruct
    settings, the output file, the de-duplication index over it, each instructor's topics and the run's seed;
    ``stop_reason`` says why the pass stopped early (the token budget), None while it has not."""

    gw: Gateway
    settings: InstructSettings
    output: RecordFile
    index: NearDuplicateIndex
    topics: dict[str, list[str]]
    seed: int
    stop_reason: str | None = field(default=None, init=False)


@dataclass(eq=False)
class Producers(GenerationPass):
    """The producers of one generation run."""

    def __post_init__(self) -> None:
        self._written = ExactIndex()
        self._written.extend(self.output.instructions())  # the index holds their dedup keys (the caller built it)
        self._met = ExactIndex()  # the written instructions met again in this run
        self._lock = asyncio.Lock()

    async def run(self) -> dict[str, Progress]:
        """Run every configured instructor's producer to its end (those of the second pass run after them)."""
        names = [name for name in self.settings.instructors if not isinstance(REGISTRY[name], Dependent)]
        done = await asyncio.gather(*(self._produce(name) for name in names))
        return dict(zip(names, done, strict=True))

    def _batch(self, name: str, number: int) -> Batch:
        settings = self.settings.instructors[name]
        topics, size = self.topics[name], self.settings.batch_size(name)
        own_avoidance = settings.topic_avoidance  # airoboros' contextual reads its own
        return Batch(
            topics=[topics[(number * size + i) % len(topics)] for i in range(size)],
            language=settings.language or self.settings.language,
            topic_avoidance=self.settings.topic_avoidance if own_avoidance is None else own_avoidance,
            flesch=settings.flesch or self.settings.default_flesch or "",
            settings=settings,
            seed=f"{self.seed}|{number}",
        )

    async def _novel(self, name: str, instructions: list[str], wanted: int, progress: Progress) -> list[str]:
        """Up to ``wanted`` instructions that are neither written already nor near duplicates (indexed as kept)."""
        kept: list[str] = []
        threshold = self.settings.threshold(name)
        async with self._lock:  # one check-and-add at a time, so two producers never keep a near pair
            for instruction in instructions:
                if len(kept) >= wanted:
                    break
                if self._written.contains(instruction):
                    progress.skipped["already_written"] += 1
                    progress.resumed += self._met.add(instruction)
                elif await asyncio.to_thread(self.index.add, dedup_key(name, instruction), threshold):
                    kept.append(instruction)
                else:
                    progress.skipped["too_similar"] += 1
        return kept

    def _stop(self, reason: str) -> None:
        self.stop_reason = self.stop_reason or reason

    async def _answer(self, name: str, instruction: str, role: str, batch: Batch, progress: Progress) -> Answered:
        """Answer one instruction and write its record: ``written``, ``deferred`` (set aside for a batch) or
        ``none``."""
        request = ResponseRequest(
            instructor=name,
            instruction=instruction,
            role=role,
            params=self.settings.params(name),
            filters=self.settings.response_filters,
            batch=batch,
        )
        try:
            response = await respond(self.gw, request)
        except BudgetExceeded:
            self._stop("budget")
            return "none"
        except Deferred:
            return "deferred"
        except LLMError as exc:
            progress.skipped[failed_call(exc, "response")] += 1
            return "none"
        if response.filtered is not None:
            progress.skipped["response_filtered"] += 1
            return "none"
        await asyncio.to_thread(self.output.append, REGISTRY[name].record(instruction, response.text))
        progress.written += 1
        return "written"

    async def _produce(self, name: str) -> Progress:
        target = self.settings.count(name)
        progress = Progress(name, target, before=self.output.counts[name])
        own_role = self.settings.instructors[name].role
        role, responder = own_role or self.settings.role, own_role or self.settings.response_role
        idle = 0
        coming = 0  # records expected from the requests this pass set aside for a batch
        while progress.before + progress.written + coming < target:
            if self.stop_reason is not None:
                progress.stopped = self.stop_reason
                break
            if idle >= self.settings.patience:
                progress.stopped = "exhausted"
                break
            batch = self._batch(name, progress.batches)
            request = TaskRequest(
                instructor=name, batch=batch, sample=progress.batches, role=role, params=self.settings.params(name)
            )
            progress.batches += 1
            try:
                tasks = await write_tasks(self.gw, request)
            except BudgetExceeded:
                self._stop("budget")
                continue
            except Deferred:
                coming += len(batch.topics)  # batch_size instructions asked for
                continue
            except LLMError as exc:
                progress.skipped[failed_call(exc, "request")] += 1
                idle += 1
                continue
            progress.skipped.update(tasks.skipped)
            resumed = progress.resumed  # a batch whose records a run before wrote added them (as it did then)
            if REGISTRY[name].single_pass or tasks.written:  # the reply holds the responses already
                added = await self._write_own(name, tasks.written, progress)
            else:
                wanted = target - progress.before - progress.written - coming
                novel = await self._novel(name, tasks.tasks, wanted, progress)
                answers = [self._answer(name, text, responder, batch, progress) for text in novel]
                answered = await asyncio.gather(*answers)
                coming += answered.count("deferred")
                added = bool(set(answered) - {"none"})
            idle = 0 if added or progress.resumed > resumed else idle + 1
        return progress

    async def _write_own(self, name: str, written: list[list[dict[str, Any]]], progress: Progress) -> bool:
        """Write a single-pass instructor's records of its new tasks (a response filter drops the task), up to its
        count; False when nothing was written."""
        novel = set(await self._novel(name, [rows[0]["instruction"] for rows in written], len(written), progress))
        before = progress.written
        for rows in written:
            if rows[0]["instruction"] not in novel:
                continue
            filters = self.settings.response_filters if REGISTRY[name].filter_responses else None
            if filters is not None and any(filtered_by(row["response"], filters) for row in rows):
                progress.skipped["response_filtered"] += 1
                continue
            for row in rows[: progress.target - progress.before - progress.written]:
                await asyncio.to_thread(self.output.append, row)
                progress.written += 1
        return progress.written > before
