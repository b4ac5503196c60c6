"""The second pass of generation: the instructors that work on what the first pass wrote, as airoboros runs them.

``character`` first: it fills its cards folder up to its count (:mod:`.cards`). Then, at once: ``editor`` on the
run's ``writing`` responses, ``stylized_response`` on a sampling of the records of its ``categories``, ``gtkm`` and
``rp`` on the cards (:mod:`.chats`). An instructor with nothing to work on writes nothing and says why in its
``stopped`` (``no writing records``, ``no cards`` ...).

Resuming is by the output file, as in the first pass: every choice (which record, which card, which asker, the
errors asked for) is drawn from the run's seed, so a resumed pass makes the same requests (answered by the response
cache) and passes over a record already written (``already_written``). ``count`` is of records for ``editor`` and
``stylized_response`` and of conversations for ``gtkm`` and ``rp`` (a conversation's later rows carry
``skip_counting``); a resumed conversation pass starts again at the last conversation it wrote, to finish it.

In a pass of batch generation (:mod:`evoforge.llm.batch`) editor's and stylized_response's requests are set aside
for a batch, each counted as the record it should bring, as the first pass's producers count theirs; the cards and
the conversations (each turn waits for the last, each card for the ones before it) go one request at a time
(:func:`~evoforge.llm.batch.one_by_one`), and the passes after it find them in the output file and the cache.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import TYPE_CHECKING, Any

from evoforge.agents.instructors import REGISTRY
from evoforge.agents.instructors.characters import (
    ASKERS,
    DEFAULT_CATEGORIES,
    Card,
    Dependent,
    Editor,
    GetToKnowMe,
    StylizedResponse,
    reminder_cut,
    voice_messages,
)
from evoforge.agents.writers import filtered_by
from evoforge.errors import BudgetExceeded, LLMError
from evoforge.instruct.characters import CardWriter
from evoforge.instruct.chats import ChatWriter
from evoforge.instruct.producers import GenerationPass, Progress, failed_call
from evoforge.llm.batch import Deferred, one_by_one
from evoforge.settings import InstructSettings

if TYPE_CHECKING:
    pass

Rows = list[dict[str, Any]]
QUESTIONS, PROMPT_WORDS = 20, 2500  # gtkm's defaults (question_count, max_prompt_words), airoboros' too
BATCHED = ("editor", "stylized_response")  # the instructors of this pass whose requests go as batches


def _passed_over(progress: Progress, n: int) -> None:
    if n:
        progress.skipped["already_written"] += n


def dependent_names(settings: InstructSettings) -> list[str]:
    """The configured instructors of the second pass."""
    return [name for name in settings.instructors if isinstance(REGISTRY.get(name), Dependent)]


def counted(records: Rows, name: str) -> int:
    """What counts toward instructor ``name``'s count in ``records`` (a conversation counts once)."""
    return sum(1 for r in records if r.get("category") == name and not r.get("skip_counting"))


@dataclass(eq=False)
class DependentPass(GenerationPass):
    """The second pass of one generation run; the cards are files in ``cards_dir``."""

    cards_dir: Path

    def __post_init__(self) -> None:
        self.snapshot = list(self.output.records)  # the sources: what was written when the pass began
        self._written = {(str(r["category"]), str(r["instruction"])) for r in self.output.records}

    async def run(self) -> dict[str, Progress]:
        """Run every configured instructor of the second pass to its end."""
        names = dependent_names(self.settings)
        progress: dict[str, Progress] = {}
        cards: list[Card] = []
        if "character" in self.settings.instructors:
            writer = CardWriter(self.gw, self.settings, self.cards_dir, self.index)
            with one_by_one():
                cards, progress["character"] = await writer.run()
            self._stop(writer.stop_reason)
        cards.sort(key=Card.file_name)  # one order whatever order they were written in
        jobs = {"editor": self._editor, "stylized_response": self._stylized, "gtkm": self._gtkm, "rp": self._rp}
        chosen = [name for name in names if name in jobs]
        done = await asyncio.gather(*(jobs[name](cards) for name in chosen))
        return progress | dict(zip(chosen, done, strict=True))

    def _stop(self, reason: str | None) -> None:
        self.stop_reason = self.stop_reason or reason

    def _role(self, name: str, answering: bool) -> str:
        own = self.settings.instructors[name].role
        return own or (self.settings.response_role if answering else self.settings.role)

    async def call(
        self, name: str, messages: list[dict[str, str]], progress: Progress, sample: int = 0, *, answering: bool = True
    ) -> str | None:
        """One request of instructor ``name``; None when it failed (counted) or the budget is spent (stops all)."""
        if self.stop_reason is not None:
            return None
        try:
            role = self._role(name, answering)
            return await self.gw.complete(role, messages, sample=sample, **self.settings.params(name))
        except BudgetExceeded:
            self._stop("budget")
        except Deferred:
            raise  # set aside for a batch: :meth:`_records` counts it as coming
        except LLMError as exc:
            progress.skipped[failed_call(exc, "request")] += 1
        return None

    async def _write(self, rows: Rows, progress: Progress) -> int:
        """Append the rows not written yet; returns how many were new."""
        new = 0
        for row in rows:
            key = (str(row["category"]), str(row["instruction"]))
            if key in self._written:
                progress.skipped["already_written"] += 1
                continue
            self._written.add(key)
            await asyncio.to_thread(self.output.append, row)
            new += 1
        return new

    def _start(self, name: str, cards: list[Card] | None, *, needs_cards: bool = True) -> Progress:
        progress = Progress(name, self.settings.count(name), counted(self.output.records, name))
        if needs_cards and not cards:
            progress.stopped = "no cards" if "character" in self.settings.instructors else "no character instructor"
        return progress

    def _end(self, progress: Progress) -> Progress:
        if self.stop_reason is not None and progress.before + progress.written < progress.target:
            progress.stopped = self.stop_reason
        return progress

    async def _records(self, progress: Progress, pending: list[Any], one: Callable[[Any], Awaitable[Rows]]) -> None:
        """Make records from ``pending`` items, ``batch_size`` at a time, until the count (an item whose request
        was set aside for a batch counts as the record it should bring)."""
        size, coming = self.settings.batch_size(progress.name), 0

        async def made(item: Any) -> Rows | None:
            try:
                return await one(item)
            except Deferred:
                return None

        while pending and progress.before + progress.written + coming < progress.target and self.stop_reason is None:
            wanted = progress.target - progress.before - progress.written - coming
            chunk, pending[:] = pending[: min(size, wanted)], pending[min(size, wanted) :]
            progress.batches += 1
            for rows in await asyncio.gather(*(made(item) for item in chunk)):
                if rows is None:
                    coming += 1
                else:
                    progress.written += await self._write(rows, progress)
        if not pending and progress.before + progress.written + coming < progress.target:
            progress.stopped = "sources used up"

    async def _editor(self, cards: list[Card]) -> Progress:
        progress = self._start("editor", cards, needs_cards=False)
        texts = sorted(str(r["response"]) for r in self.snapshot if r.get("category") == "writing")  # file order aside
        if not texts:
            progress.stopped = "no writing records"
            return progress
        Random(f"{self.seed}|editor").shuffle(texts)
        used = {str(r["response"]).strip() for r in self.snapshot if r.get("category") == "editor"}
        _passed_over(progress, sum(1 for t in texts if t.strip() in used))
        editor = Editor()

        async def spoil(text: str) -> Rows:
            messages = editor.spoil_messages(text, Random(f"{self.seed}|editor|{text}"))
            reply = (await self.call("editor", messages, progress, answering=False) or "").strip()
            if filtered_by(reply, self.settings.response_filters):
                progress.skipped["response_filtered"] += 1
                return []
            return [editor.exercise(reply, text)]

        await self._records(progress, [t for t in texts if t.strip() not in used], spoil)
        return self._end(progress)

    async def _stylized(self, cards: list[Card]) -> Progress:
        progress = self._start("stylized_response", cards)
        own = self.settings.instructors["stylized_response"].categories
        categories = DEFAULT_CATEGORIES if own is None else tuple(own)
        if progress.stopped != "done":
            return progress
        pools = {c: sorted(str(r["instruction"]) for r in self.snapshot if r.get("category") == c) for c in categories}
        rng = Random(f"{self.seed}|stylized_response")
        at, order = rng.randrange(len(cards)), []
        while pools:  # airoboros' sampling: a random category, a random record of it, the cards in turn
            category = rng.choice(sorted(pools))
            if not pools[category]:
                del pools[category]
                continue
            order.append((pools[category].pop(rng.randrange(len(pools[category]))), cards[at]))
            at = (at + 1) % len(cards)
        stylized = StylizedResponse()
        done = {i for c, i in self._written if c == stylized.name}

        async def answer(item: tuple[str, Card]) -> Rows:
            instruction, card = item
            reply = reminder_cut(
                await self.call(stylized.name, voice_messages(card, instruction, True), progress) or ""
            )
            if not reply or "SKIP" in reply:
                if self.stop_reason is None:
                    progress.skipped["skipped_by_model" if reply else "empty_reply"] += 1
                return []
            return [stylized.record(instruction, reply, stylized.system_prompt(card))]

        _passed_over(progress, sum(1 for i, _ in order if i in done))
        await self._records(progress, [item for item in order if item[0] not in done], answer)
        if progress.stopped == "sources used up" and not order:
            progress.stopped = "no records of its categories"
        return self._end(progress)

    async def _conversations(self, progress: Progress, session: Callable[[int], Awaitable[Rows]]) -> Progress:
        """Run conversations (all still wanted at once) until their count; a resumed run first finishes the last
        conversation it began (its rows already written are passed over)."""
        number, idle = max(0, progress.before - 1), 0
        while progress.before + progress.written < progress.target and self.stop_reason is None:
            if idle >= self.settings.patience:
                progress.stopped = "exhausted"
                break
            wanted = progress.target - progress.before - progress.written
            chats = await asyncio.gather(*(session(number + i) for i in range(wanted)))
            number, progress.batches = number + wanted, progress.batches + 1
            if self.stop_reason is not None:
                break  # a conversation is written whole: those the stop cut short are asked again on resume
            new = 0
            for rows in chats:
                fresh = [row for row in rows if (row["category"], row["instruction"]) not in self._written]
                new += await self._write(rows, progress)
                progress.written += sum(1 for row in fresh if not row.get("skip_counting"))
            idle = 0 if new else idle + 1
        return self._end(progress)

    async def _gtkm(self, cards: list[Card]) -> Progress:
        progress = self._start("gtkm", cards)
        if progress.stopped != "done":
            return progress
        own = self.settings.instructors["gtkm"]
        count, words = own.question_count or QUESTIONS, own.max_prompt_words or PROMPT_WORDS
        first, gtkm = Random(f"{self.seed}|gtkm").randrange(len(cards)), GetToKnowMe()

        async def session(number: int) -> Rows:
            card, rng = cards[(first + number) % len(cards)], Random(f"{self.seed}|gtkm|{number}")
            asker = rng.choice([name for name in ASKERS if name != card.name])
            messages = gtkm.question_messages(card, count, own)
            questions = gtkm.questions(await self.call("gtkm", messages, progress, number, answering=False) or "")
            answers = await asyncio.gather(*(self.call("gtkm", voice_messages(card, q), progress) for q in questions))
            pairs = [(q, reminder_cut(a or "")) for q, a in zip(questions, answers, strict=True)]
            rows = gtkm.records(card, asker, [(q, a) for q, a in pairs if a], words)
            if not rows:
                progress.skipped["too_few_answers"] += 1
            return rows

        with one_by_one():
            return await self._conversations(progress, session)

    async def _rp(self, cards: list[Card]) -> Progress:
        progress = self._start("rp", cards)
        if progress.stopped != "done":
            return progress
        writer = ChatWriter(self, progress, cards, self.topics["rp"])
        with one_by_one():
            return await self._conversations(progress, writer.session)
