"""The single-pass instructors: the model writes each task's question and its answers in one reply (airoboros'
inline Q&A), so no responder is asked. Each task is a block of keyed parts (``QUESTION:``, ``ANSWER:`` ...), under
its ``TSK n.`` number or, from a user's airoboros-style prompt, one after the other without numbers."""

from __future__ import annotations

import re
from random import Random
from typing import Any, ClassVar

from evoforge.agents.instructors.base import Batch, Instructor, TaskList, parse_tasks, register
from evoforge.errors import ConfigError
from evoforge.settings import InstructorSettings

# what an awareness question asks about, and the parts its answer needs; weights as airoboros draws its templates
AWARENESS = (
    ("the current time or date", "CONTEXT", 0.2),
    ("the current location", "CONTEXT", 0.2),
    ("the body and its sensations (touch, temperature, pain, movement)", "CHARACTER", 0.2),
    ("where the one answering lives and how far things are from there", "CHARACTER", 0.2),
    ("the physical senses (taste, smell, sight, sound)", "CHARACTER", 0.2),
)
CARD_SUBJECTS = ("a person", "a creature", "a place", "a scenario", "an object", "an organisation", "a vehicle")
USERS = ("Alex", "Sam", "Jordan", "Taylor", "Morgan", "Riley", "Casey", "Jamie")


def keyed_parts(block: str, keys: tuple[str, ...]) -> dict[str, str]:
    """The ``KEY: text`` parts of a block (a key at a line's start; its text runs to the next key)."""
    pattern = re.compile(rf"^[ \t]*({'|'.join(keys)})[ \t]*:", re.MULTILINE)
    marks = list(pattern.finditer(block))
    parts: dict[str, str] = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(block)
        parts.setdefault(mark.group(1), block[mark.end() : end].strip())
    return parts


class InlineQA(Instructor):
    """An instructor whose tasks come with their answers: subclasses name the keys and make a task's records."""

    single_pass = True
    start: ClassVar[str]  # the key that opens each task
    keys: ClassVar[tuple[str, ...]]

    def blocks(self, text: str, limit: int) -> TaskList:
        """The tasks of a reply: ``TSK n.`` items, else blocks that each open with the start key."""
        found = parse_tasks(text, limit=limit)
        if "no_numbered_tasks" not in found.skipped:
            return found
        starts = [m.start() for m in re.finditer(rf"^[ \t]*{self.start}[ \t]*:", text, re.MULTILINE)]
        bodies = [text[a:b].strip() for a, b in zip(starts, [*starts[1:], len(text)][: len(starts)], strict=True)]
        out = TaskList(tasks=bodies[:limit])
        if len(bodies) > limit:
            out.skip("extra_task", len(bodies) - limit)
        return out if bodies else found

    def parse(self, text: str, batch: Batch) -> TaskList:
        """Each task's records (``written``) and its instruction (``tasks``); a task without its parts is skipped."""
        found = self.blocks(text, len(batch.topics))
        out = TaskList(skipped=dict(found.skipped))
        rng = Random(f"{batch.seed}|{self.name}|finish")
        for block in found.tasks:
            rows = self.rows(keyed_parts(block, self.keys), rng)
            if not rows:
                out.skip("unreadable_task")
                continue
            out.tasks.append(rows[0]["instruction"])
            out.written.append([{**row, "category": self.name} for row in rows])
        return out

    def rows(self, parts: dict[str, str], rng: Random) -> list[dict[str, Any]]:
        """The records of one task (empty when a part is missing)."""
        raise NotImplementedError

    def response_messages(self, instruction: str, batch: Batch | None = None) -> list[dict[str, str]]:
        """None: the model answers in the task's own reply; a response prompt file is refused, not ignored."""
        if batch is not None and batch.settings.response_prompt_path:
            raise ConfigError(
                f"instructors.{self.name}.response_prompt_path: the {self.name} instructor writes its answers in the "
                "same reply as its questions (airoboros' inline Q&A reads no response prompt); remove the key"
            )
        return super().response_messages(instruction, batch)


@register
class Awareness(InlineQA):
    """Questions that need to know the time, the place or a body (airoboros 2.2's awareness): a default answer
    without that knowledge, then one given it: a context as the system prompt, or a character who answers."""

    name = "awareness"
    filter_responses = False  # the default answers say what a text-only assistant cannot know, by design
    start = "QUESTION"
    keys = ("QUESTION", "CONTEXT", "CHARACTER", "ANSWER", "CONTEXTUALANSWER")

    def task_line(self, index: int, topic: str, settings: InstructorSettings, rng: Random) -> str:
        """The topic, what the question is about, and whether a context or a character answers it."""
        subject, part, _ = rng.choices(AWARENESS, weights=[w for _, _, w in AWARENESS])[0]
        return f' * TSK {index} is about the topic "{topic}"; ask about {subject}; give a {part}.'

    def rows(self, parts: dict[str, str], rng: Random) -> list[dict[str, Any]]:
        """The default answer, then the answer with its context (system prompt) or as its character (a chat)."""
        question, answer, informed = (parts.get(k, "") for k in ("QUESTION", "ANSWER", "CONTEXTUALANSWER"))
        if not (question and answer and informed):
            return []
        plain = {"instruction": question, "response": answer}
        if parts.get("CONTEXT"):
            return [plain, {"system": f"A chat. {parts['CONTEXT']}", "instruction": question, "response": informed}]
        name, _, description = parts.get("CHARACTER", "").partition(":")
        if not (name.strip() and description.strip()):
            return []
        name, user = name.strip(), rng.choice(USERS)
        chat = f"A chat between {name} and {user}.\n{name}:\n{description.strip()}\n{user}: {question}"
        informed = re.sub(rf"^As {re.escape(name)}, ", "", informed)
        return [plain, {"instruction": chat, "response": informed, "skip_prompt_formatting": True}]


@register
class Card(InlineQA):
    """Requests for a character or scenario card with named attributes, and the card (airoboros' card)."""

    name = "card"
    start = "PROMPT"
    keys = ("PROMPT", "ANSWER")

    def task_line(self, index: int, topic: str, settings: InstructorSettings, rng: Random) -> str:
        """The topic and what the card describes."""
        return f' * TSK {index} is about the topic "{topic}"; the card describes {rng.choice(CARD_SUBJECTS)}.'

    def rows(self, parts: dict[str, str], rng: Random) -> list[dict[str, Any]]:
        """The request and the card."""
        prompt, card = parts.get("PROMPT", ""), parts.get("ANSWER", "")
        return [{"instruction": prompt, "response": card}] if prompt and card else []
