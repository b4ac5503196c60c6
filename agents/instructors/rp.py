"""``rp`` (airoboros 2.0's ``chat``): a multi-character chat between cards, one model call per message.

The first card plays the user, the others the characters. A setting is written for the cards and a topic; each
character then speaks in turn under its own system prompt (the shared chat description and the rules of playing it),
seeing the others' messages as user turns, and names who speaks next (``NEXT: name``). The chat, as the training
data sees it, is the shared system prompt, a request to start, then the characters' messages as assistant turns and
the user character's as user turns; every assistant turn becomes one row (:func:`conversation_row`).
"""

from __future__ import annotations

import difflib
import json
import re
from random import Random
from typing import Any

from evoforge.agents.instructors.base import Batch, register
from evoforge.agents.instructors.characters import Card, Dependent, conversation_row
from evoforge.agents.instructors.custom import render
from evoforge.prompts import load_prompt
from evoforge.settings import InstructorSettings

_NEXT = re.compile(r"NEXT:[ \t]*([^\n]+)")
ACTION_MARKS = ("*", "~", None)
PARTY_SIZES, PARTY_WEIGHTS = (2, 3, 4), (0.85, 0.12, 0.03)  # cards per chat, as airoboros draws them
DEFAULT_TURNS = 50
OPENERS = (
    "Start the conversation.",
    "Go ahead and begin.",
    "Let's get talking.",
    "Open the chat.",
    "You first.",
    "Break the ice.",
    "Let's begin our talk.",
    "Kick things off.",
)
NUDGES = (
    "get completely absorbed in the subject",
    "go deep into the subject, with vivid detail",
    "ask a follow-up question",
    "disagree, and argue the other side",
    "steer the talk to {topic}, without asking first",
    "wonder aloud how this connects to {topic}",
    "tell a short anecdote of your own",
    "lighten the mood with a joke",
    "explain or clear up a point",
    "share a fresh personal view on it",
    "make the point with a metaphor",
    "say what confuses you and ask about it",
    "ask another character about their past or their interests",
)


def formatting(mark: str | None) -> str:
    """The formatting rules of a chat: actions between ``mark`` (when there is one), spoken words quoted."""
    spoken = "Put spoken words in double quotes; describe the scene in plain narration."
    if mark is None:
        return spoken
    return (
        f"Put actions between {mark} marks, short and lowercase, without naming the actor and never as "
        f'"I ...": {mark}raises an eyebrow{mark}, not {mark}I raise an eyebrow{mark}. Merge adjacent actions and '
        f"do not repeat one. {spoken}"
    )


@register
class Roleplay(Dependent):
    """Multi-turn, multi-character chats between character cards (``turn_count`` messages each)."""

    name = "rp"
    culled = False  # as in airoboros' cull: the rows of one chat share their prompt's beginning

    def messages(self, batch: Batch) -> list[dict[str, str]]:
        """A sample setting request (a user's ``setting_prompt_path`` rendered; a ``prompt_path`` refused)."""
        super().messages(batch)
        sample = Card(description="An example character.", stay_in_character="Stay in character.", name="Example")
        return self.setting_messages([sample, sample], "an example topic", batch.settings)

    def setting_messages(self, cards: list[Card], topic: str, settings: InstructorSettings) -> list[dict[str, str]]:
        """The request for the chat's setting (the user's ``setting_prompt_path`` when set, airoboros' values)."""
        described = "\n\n".join(f"{card.name}: {card.description}" for card in cards)
        if settings.setting_prompt_path:
            values = {"characters": described, "topic": topic}
            return render(settings.setting_prompt_path, "instructors.rp.setting_prompt_path", values)
        return load_prompt("instruct/rp_setting").messages(characters=described, topic=topic)

    def chat_system(self, cards: list[Card], setting: str, mark: str | None) -> str:
        """The chat's shared system prompt (also the training conversation's): who is in it, who they are, where."""
        names = [card.name for card in cards[1:]] + [cards[0].name]
        described = "\n\n".join(f"{card.name}: {card.description.strip()}" for card in [*cards[1:], cards[0]])
        text = (
            f"This is a chat between {len(names)} characters: {', '.join(names)}\n\n{described}\n\n"
            f"Setting for the chat:\n{setting.strip()}\nEnd of setting."
        )
        if mark:
            text += f"\nActions are written between {mark} marks, e.g. {mark}slowly turns towards the window{mark}"
        return text

    def speaker_prompt(
        self, chat: str, card: Card, user: Card, others: list[str], mark: str | None, flesch: str
    ) -> tuple[str, str]:
        """The system prompt ``card``'s messages are written under (the chat, then the rules of playing it), and
        the request that opens the chat when it speaks first."""
        balance = (
            ""
            if card.name == user.name
            else (f"Let every character speak about as much, {user.name} a little more; keep to the setting.")
        )
        system, opener = load_prompt("instruct/rp").messages(
            chat=chat,
            name=card.name,
            formatting=formatting(mark),
            balance=balance,
            guide=card.stay_in_character,
            next_names=json.dumps(others),
            flesch=flesch,
        )
        return system["content"], opener["content"]

    def nudge(self, said: str, topics: list[str], topic: str, rng: Random) -> str:
        """The other characters' messages, with a nudge on how to go on (a change of topic now and then)."""
        turn = rng.choice(NUDGES)
        if "{topic}" in turn:
            others = [t for t in topics if t != topic] or [topic]
            turn = turn.format(topic=json.dumps(rng.choice(others)))
        return f"{said.strip()}\n\n(Stay in character; keep the chat going naturally: {turn}. End with the NEXT line.)"

    def read_turn(self, text: str, speaker: str, others: list[str], rng: Random) -> tuple[str, str]:
        """A message's text, without what a model adds around it, and who speaks next (one of ``others``)."""
        text = (text or "").split("REMINDER:")[0].split("RULES:")[0].strip()
        found = _NEXT.search(text)
        wanted = found.group(1).strip().strip("\"'*.") if found else ""
        if found:
            text = (text[: found.start()] + text[found.end() :]).strip()
        if text.startswith(f"{speaker}:"):
            text = text[len(speaker) + 1 :].lstrip()
        text = text.replace("\u201c", '"').replace("\u201d", '"')
        for name in others:  # cut a message the model went on to write for someone else
            text = text.split(f"\n{name}:")[0]
        text = re.sub(r"[ \t]+", " ", text).strip()
        close = difflib.get_close_matches(wanted, others, n=1) if wanted else []
        return text, close[0] if close else rng.choice(others)

    def rows(self, training: list[dict[str, str]]) -> list[dict[str, Any]]:
        """The chat's rows, one per assistant message (the conversation up to it)."""
        system = training[0]["content"]
        turns: list[tuple[str, str]] = []
        rows: list[dict[str, Any]] = []
        for message in training[1:]:
            if message["role"] == "user":
                turns.append((message["content"], ""))
            elif turns:
                rows.append(conversation_row(self.name, system, turns, message["content"], bool(rows)))
                turns[-1] = (turns[-1][0], message["content"])
        return rows
