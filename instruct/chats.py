"""One ``rp`` chat, message by message (airoboros' roleplay loop), for :class:`~.dependent.DependentPass`.

Chat *n* draws its cards (2 to 4, the first playing the user), its action marks and opening from the run's seed and
takes the *n*-th topic of the instructor's topic order. The setting is written first; a randomly chosen character
opens the chat; then whoever the last message named speaks, each seeing the others' messages as user turns with a
nudge on how to go on (the nudge is not kept in its history). The chat ends at ``turn_count`` messages (the system
prompt counted), on an assistant turn; an empty message is asked again up to :data:`REROLLS` times.
"""

from __future__ import annotations

from random import Random
from typing import Any, Protocol

from evoforge.agents.instructors.characters import Card
from evoforge.agents.instructors.rp import ACTION_MARKS, DEFAULT_TURNS, OPENERS, PARTY_SIZES, PARTY_WEIGHTS, Roleplay
from evoforge.instruct.producers import Progress
from evoforge.llm.protocol import Messages
from evoforge.settings import InstructSettings

REROLLS = 3


class Caller(Protocol):
    """What a chat needs of the pass that runs it (:class:`~.dependent.DependentPass`)."""

    settings: InstructSettings
    seed: int
    stop_reason: str | None

    async def call(
        self, name: str, messages: Messages, progress: Progress, sample: int = 0, *, answering: bool = True
    ) -> str | None:
        """One request of instructor ``name`` (None when it failed or the budget stopped the pass)."""


class ChatWriter:
    """Writes the chats of the ``rp`` instructor."""

    def __init__(self, owner: Caller, progress: Progress, cards: list[Card], topics: list[str]) -> None:
        self.owner, self.progress, self.cards, self.topics = owner, progress, cards, topics
        own = owner.settings.instructors["rp"]
        self.turns = own.turn_count or DEFAULT_TURNS
        self.flesch = own.flesch or owner.settings.default_flesch or ""
        self.rp = Roleplay()

    async def _say(self, messages: Messages, sample: int = 0, answering: bool = True) -> str:
        return await self.owner.call("rp", messages, self.progress, sample, answering=answering) or ""

    async def session(self, number: int) -> list[dict[str, Any]]:
        """The rows of chat ``number`` (none when it could not start)."""
        rng = Random(f"{self.owner.seed}|rp|{number}")
        size = min(rng.choices(PARTY_SIZES, PARTY_WEIGHTS)[0], len(self.cards))
        if size < 2:
            self.progress.skipped["too_few_cards"] += 1
            return []
        cards = rng.sample(self.cards, size)
        topic = self.topics[number % len(self.topics)]
        setting = await self._say(
            self.rp.setting_messages(cards, topic, self.owner.settings.instructors["rp"]), number, answering=False
        )
        if not setting.strip():
            self.progress.skipped["no_setting"] += 1
            return []
        training = await self._chat(cards, topic, setting, rng)
        return self.rp.rows(training) if training else []

    async def _chat(self, cards: list[Card], topic: str, setting: str, rng: Random) -> Messages | None:
        user, mark = cards[0], rng.choice(ACTION_MARKS)
        names = [card.name for card in cards]
        chat = self.rp.chat_system(cards, setting, mark)
        prompts = {
            c.name: self.rp.speaker_prompt(chat, c, user, [n for n in names if n != c.name], mark, self.flesch)
            for c in cards
        }
        history: dict[str, Messages] = {name: [] for name in names}
        speaker = rng.choice(names)
        history[speaker].append({"role": "user", "content": prompts[speaker][1]})
        training: Messages = [{"role": "system", "content": chat}, {"role": "user", "content": rng.choice(OPENERS)}]
        rerolls, calls = 0, 0
        while calls < 4 * self.turns and rerolls <= REROLLS and self.owner.stop_reason is None:
            others = [n for n in names if n != speaker]
            asked = [{"role": "system", "content": prompts[speaker][0]}, *history[speaker]]
            if calls:  # the nudge goes with this request only
                asked[-1] = {"role": "user", "content": self.rp.nudge(asked[-1]["content"], self.topics, topic, rng)}
            calls += 1
            text, following = self.rp.read_turn(await self._say(asked), speaker, others, rng)
            if not text:
                rerolls += 1
                if self.owner.stop_reason is None:
                    self.progress.skipped["empty_message"] += 1
                continue
            history[speaker].append({"role": "assistant", "content": text})
            _record(training, speaker, text, user.name, calls == 1)
            for name in others:
                if history[name] and history[name][-1]["role"] == "user":
                    history[name][-1]["content"] += f"\n\n{speaker}: {text}"
                else:
                    history[name].append({"role": "user", "content": f"{speaker}: {text}"})
            speaker = following
            if len(training) >= self.turns or (speaker == user.name and len(training) >= self.turns - 1):
                break
        if not any(m["role"] == "assistant" for m in training):
            if self.owner.stop_reason is None:
                self.progress.skipped["no_chat"] += 1
            return None
        return training


def _record(training: Messages, speaker: str, text: str, user: str, opening: bool) -> None:
    """Add a message to the training chat: the user character's as a user turn, the others' as assistant turns
    (a character's message after another character's joins that assistant turn). The opening message is always
    an assistant turn: it answers the request to start."""
    role = "assistant" if opening or speaker != user else "user"
    line = f"{speaker}: {text}"
    if training[-1]["role"] == role:
        training[-1]["content"] += f"\n\n{line}"
    else:
        training.append({"role": role, "content": line})
