"""The dependent instructors: they run after the others, on what those wrote (a second pass).

``character`` writes character cards (stored as files, not records); ``rp`` (:mod:`.rp`) chats between the cards,
``gtkm`` asks a card questions and ``stylized_response`` re-answers records of other categories in a card's voice;
``editor`` turns the run's ``writing`` responses into correction exercises. Each class renders its prompts and reads
the model's replies; :mod:`evoforge.instruct.dependent` runs them.
"""

from __future__ import annotations

import hashlib
import re
from random import Random
from typing import Any, ClassVar

from pydantic import BaseModel

from evoforge.agents.instructors.base import Batch, Instructor, register
from evoforge.agents.instructors.custom import render
from evoforge.errors import ConfigError
from evoforge.prompts import load_prompt
from evoforge.settings import InstructorSettings

_LABEL = re.compile(r"^[ \t]*[*#_]*[ \t]*(NAME|DESCRIPTION|GUIDE)[ \t]*[*_]*[ \t]*:[ \t]*", re.MULTILINE)
_QUESTION = re.compile(r"^[ \t]*(?:[-*\d.)]+[ \t]*)?QUESTION[ \t]*\d*[ \t]*:[ \t]*(.+)$", re.MULTILINE)
SKIP_RULE = (
    "If the request only asks for a list of words or phrases, or playing the character would not change the answer "
    'at all, reply with the single word "SKIP".'
)
EDITS = (
    "spelling mistakes",
    "grammar mistakes",
    "very simple wording, the way a five-year-old would put it",
    "the kind of errors dyslexia often causes",
    "long, sprawling run-on sentences",
    "easily confused words swapped (lead / led, their / there, then / than)",
)
ASKERS = ("Maria", "James", "Aisha", "Tom", "Priya", "Lucas", "Hannah", "Omar", "Chloe", "Daniel", "Yuki", "Sam")
DEFAULT_CATEGORIES = ("experience", "general", "joke", "riddle", "trivia")  # stylized_response's sources


class Card(BaseModel):
    """A character card as airoboros stores it (``<md5 of the description>.json``)."""

    description: str
    stay_in_character: str
    name: str

    def file_name(self) -> str:
        """The card's file name in the cards folder."""
        return hashlib.md5(self.description.encode()).hexdigest() + ".json"

    def profile(self) -> str:
        """Who the character is, for a system prompt: description, then the guide."""
        return f"{self.description}\n{self.stay_in_character}"


class Dependent(Instructor):
    """An instructor of the second pass: it has no batch of ``TSK`` tasks; its stage runs it.

    :meth:`messages` renders a sample request (``check_prompt_files`` renders a user's prompt file through it); an
    instructor that reads no prompt file refuses one, as it refuses a response prompt file, rather than ignore it.
    """

    def messages(self, batch: Batch) -> list[dict[str, str]]:
        """A sample request of this instructor; ConfigError for a prompt file it does not read."""
        if batch.settings.prompt_path:
            raise ConfigError(f"instructors.{self.name}.prompt_path: the {self.name} instructor reads no prompt file")
        return []

    def response_messages(self, instruction: str, batch: Batch | None = None) -> list[dict[str, str]]:
        """ConfigError for a response prompt file (no dependent instructor reads one)."""
        if batch is not None and batch.settings.response_prompt_path:
            key = f"instructors.{self.name}.response_prompt_path"
            raise ConfigError(f"{key}: the {self.name} instructor reads no response prompt file")
        return []


def reminder_cut(text: str) -> str:
    """A reply without the disclaimer a model puts last (after ``REMINDER:``), as airoboros cuts it."""
    return (text or "").split("REMINDER:")[0].strip()


def voice_messages(card: Card, request: str, skip: bool = False) -> list[dict[str, str]]:
    """A request answered as ``card``'s character (``skip``: the model may answer SKIP)."""
    return load_prompt("instruct/voice").messages(
        card=card.profile(), name=card.name, skip=SKIP_RULE if skip else "", request=request
    )


@register
class Character(Dependent):
    """Character cards: ``batch_size`` new cards per request, written in the spirit of an example card (the seed
    files), with names the cards so far do not use."""

    name = "character"

    def messages(self, batch: Batch) -> list[dict[str, str]]:
        """A sample card request (the user's prompt file, when the instructor names one)."""
        return self.card_messages("An example card.", len(batch.topics), batch.settings, batch.language, [])

    def card_messages(
        self, example: str, batch_size: int, settings: InstructorSettings, language: str, taken: list[str]
    ) -> list[dict[str, str]]:
        """One request for ``batch_size`` cards (the user's ``prompt_path`` when set, airoboros' placeholders)."""
        skip = f"Do not reuse any of these names: {', '.join(taken)}." if taken else ""
        values = {"example": example.strip(), "batch_size": str(batch_size), "language": language, "skip": skip}
        if settings.prompt_path:
            return render(settings.prompt_path, "instructors.character.prompt_path", {**values, "flesch": ""})
        return load_prompt("instruct/character").messages(**values, flesch=settings.flesch or "")

    def cards(self, text: str) -> tuple[list[Card], int]:
        """The cards of a reply (labels in any order, one card per run of NAME / DESCRIPTION / GUIDE), and how many
        blocks lacked a part."""
        blocks: list[dict[str, str]] = []
        marks = list(_LABEL.finditer(text or ""))
        for i, mark in enumerate(marks):
            label = mark.group(1)
            if not blocks or label in blocks[-1]:
                blocks.append({})
            blocks[-1][label] = text[mark.end() : marks[i + 1].start() if i + 1 < len(marks) else len(text)].strip()
        found = [card for block in blocks if (card := _card(block)) is not None]
        return found, len(blocks) - len(found)


def _card(block: dict[str, str]) -> Card | None:
    if not all(block.get(label) for label in ("NAME", "DESCRIPTION", "GUIDE")):
        return None
    name = block["NAME"].splitlines()[0].strip().strip("\"'*")
    return Card(description=block["DESCRIPTION"], stay_in_character=block["GUIDE"], name=name) if name else None


@register
class GetToKnowMe(Dependent):
    """Get-to-know-me: ``question_count`` questions to one character, answered in its voice; the answers become a
    chat whose system prompt is the card, so the model learns to keep to a system prompt over many turns."""

    name = "gtkm"
    culled = False  # the rows of one chat share their prompt's beginning: comparing them would drop its later rows

    def messages(self, batch: Batch) -> list[dict[str, str]]:
        """A sample question request (the user's prompt file, when the instructor names one)."""
        sample = Card(description="An example character.", stay_in_character="Stay in character.", name="Example")
        return self.question_messages(sample, 20, batch.settings)

    def question_messages(self, card: Card, count: int, settings: InstructorSettings) -> list[dict[str, str]]:
        """The request for ``count`` questions to ``card``'s character."""
        values = {"name": card.name, "description": card.description, "question_count": str(count)}
        if settings.prompt_path:
            return render(settings.prompt_path, "instructors.gtkm.prompt_path", values)
        return load_prompt("instruct/gtkm").messages(**values)

    def questions(self, text: str) -> list[str]:
        """The ``QUESTION:`` lines of a reply."""
        return [q.strip() for q in _QUESTION.findall(text or "") if q.strip()]

    def system_prompt(self, card: Card, asker: str) -> str:
        """The chat's system prompt (the record's, without the rules the answers were written under)."""
        described = f"{card.name}, described:\n{card.description}"
        return f"A chat between {card.name} and {asker}.\n{described}\n\n{card.stay_in_character}"

    def records(self, card: Card, asker: str, pairs: list[tuple[str, str]], max_words: int) -> list[dict[str, Any]]:
        """One record per answer after the first: the system prompt and the exchanges so far, then the question;
        the answer is the response. The chat ends where the system prompt and the exchanges up to an answer would
        exceed ``max_words`` (airoboros' ``max_prompt_words``)."""
        system = self.system_prompt(card, asker)
        turns = [(f"{asker}: {q.strip()}", f"{card.name}: {a.strip()}") for q, a in pairs]
        words = _words(system)
        rows: list[dict[str, Any]] = []
        for k, (question, answer) in enumerate(turns):
            words += _words(question) + _words(answer)
            if words > max_words:
                break
            if k:
                rows.append(conversation_row(self.name, system, [*turns[:k], (question, "")], answer, bool(rows)))
        return rows


def _words(text: str) -> int:
    return len(re.findall(r"[\w'-]+", text))


def conversation_row(
    category: str, system: str, turns: list[tuple[str, str]], response: str, continued: bool
) -> dict[str, Any]:
    """airoboros' row of a conversation: ``instruction`` is the system prompt and the turns as plain text (user, then
    assistant; the last turn's user part only), ``response`` the next assistant message, ``skip_prompt_formatting``
    true; ``messages`` holds the same turns as chat messages, so evoforge trains it as a conversation;
    ``skip_counting`` marks every row of a conversation but its first (the count is of conversations)."""
    lines = [system.strip()]
    messages = [{"role": "system", "content": system.strip()}]
    for user, assistant in turns:
        lines.append(user)
        messages.append({"role": "user", "content": user})
        if assistant:
            lines.append(assistant)
            messages.append({"role": "assistant", "content": assistant})
    messages.append({"role": "assistant", "content": response})
    row: dict[str, Any] = {
        "instruction": "\n".join(lines).strip(),
        "response": response.strip(),
        "category": category,
        "skip_prompt_formatting": True,
        "messages": messages,
    }
    if continued:
        row["skip_counting"] = True
    return row


@register
class StylizedResponse(Dependent):
    """Records of other categories (``categories``) answered again in a character's voice; the card is the record's
    system prompt."""

    name = "stylized_response"
    culled = False  # it repeats another record's instruction on purpose; airoboros' cull leaves it alone too

    def system_prompt(self, card: Card) -> str:
        """The record's system prompt: who to play (the rules it was answered under are not part of it)."""
        return f"Take on the role of {card.name}.\n{card.profile()}"

    def record(self, instruction: str, response: str, system: str | None = None) -> dict[str, Any]:
        """airoboros' stylized record: ``category, system, instruction, response``."""
        return {"category": self.name, "system": system or "", "instruction": instruction, "response": response}


@register
class Editor(Dependent):
    """Correction exercises: a ``writing`` response is rewritten with errors; the record asks to correct that
    version, and the original is its response."""

    name = "editor"
    instruction_text: ClassVar[str] = "Rewrite this text, correcting and improving it.\n\nText: {text}"

    def spoil_messages(self, text: str, rng: Random) -> list[dict[str, str]]:
        """The request to rewrite ``text`` with one to three kinds of errors."""
        edits = rng.sample(EDITS, rng.choice((1, 2, 3)))
        return load_prompt("instruct/editor").messages(edits="\n".join(f"- {e}" for e in edits), text=text.strip())

    def exercise(self, spoiled: str, original: str) -> dict[str, Any]:
        """The record: correct the spoiled text; the original is the response."""
        return {
            "instruction": self.instruction_text.format(text=spoiled.strip()),
            "response": original.strip(),
            "category": self.name,
        }
