"""What every instructor is: a small class that declares its prompt, the per-task requirements it adds, how it
reads the model's list of tasks, and how a task becomes an instruction and a record. :func:`register` adds a class
to :data:`REGISTRY` by its ``name`` (the airoboros category it writes).

The model answers a batch request with a list of ``TSK n.`` items (:func:`parse_tasks`); anything that is not a
usable task (no numbering at all, text before the first task, an empty task, more tasks than asked for, a task the
instructor cannot read) is skipped and counted by reason, never raised.
"""

from __future__ import annotations

import json
import re
from random import Random
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, Field

from evoforge.agents.instructors.custom import render
from evoforge.prompts import PromptTemplate, load_prompt
from evoforge.settings import InstructorSettings, InstructSettings
from evoforge.settings.instruct import INSTRUCTOR_OPTIONS

_TSK = re.compile(r"^[ \t]*(?:[*#_]+[ \t]*)?TSK[ \t]*(\d+)[ \t]*[.:)\]][ \t]*(?:\*\*[ \t]*)?", re.MULTILINE)
RULES = """Rules for the list:
 * Write every task in {language}.
 * Start each task on a new line with "TSK" and its number: "TSK 1.", "TSK 2.", and so on.
 * Write nothing before the first task and nothing after the last one.
 * Each task must make sense on its own: include everything needed to carry it out, and no placeholders.
 * A text-only assistant with no internet access must be able to carry it out."""


class Batch(BaseModel):
    """One batch request of an instructor: the topics of its tasks and the section-wide prompt parts."""

    topics: list[str]
    language: str = "English"
    topic_avoidance: str = ""
    flesch: str = ""
    settings: InstructorSettings = Field(default_factory=InstructorSettings)
    seed: str = "0"


class TaskList(BaseModel):
    """The usable tasks of one reply, and what was skipped, by reason; a single-pass instructor's reply also holds
    the records of each task (``written``, one list per task, its first record's instruction the task's)."""

    tasks: list[str] = Field(default_factory=list)
    written: list[list[dict[str, Any]]] = Field(default_factory=list)
    skipped: dict[str, int] = Field(default_factory=dict)

    def skip(self, reason: str, n: int = 1) -> None:
        """Count ``n`` skips for ``reason``."""
        self.skipped[reason] = self.skipped.get(reason, 0) + n


def parse_tasks(text: str, limit: int | None = None) -> TaskList:
    """The ``TSK n.`` items of a reply (at most ``limit``), with the skips counted; never raises."""
    out = TaskList()
    marks = list(_TSK.finditer(text or ""))
    if not marks:
        out.skip("no_numbered_tasks" if (text or "").strip() else "empty_reply")
        return out
    if text[: marks[0].start()].strip():
        out.skip("text_before_tasks")
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        body = text[mark.end() : end].strip()
        if not body:
            out.skip("empty_task")
        elif limit is not None and len(out.tasks) >= limit:
            out.skip("extra_task")
        else:
            out.tasks.append(body)
    return out


class Instructor:
    """An instructor: subclasses set ``name`` (its category) and override what differs from a plain list.

    Its prompt is ``prompts/<language>/instruct/<name>.md`` with ``$tasks`` (one requirement line per task),
    ``$rules``, ``$batch_size``, ``$topic_avoidance`` and ``$flesch``; ``response_prompt`` names a prompt that wraps
    the instruction when the responder gets more than the bare instruction (``$instruction`` and
    :meth:`response_values`). A user's own ``prompt_path`` replaces the prompt (filled with :meth:`template_values`),
    ``response_prompt_path`` the response prompt (``{instruction}``, ``{language}``, ``{flesch}`` and its own).
    """

    name: ClassVar[str]
    response_prompt: ClassVar[str | None] = None
    system: ClassVar[str | None] = None  # a system prompt the responder gets, written into the record
    single_pass: ClassVar[bool] = False  # its reply holds the responses too (airoboros' inline Q&A): no responder
    filter_responses: ClassVar[bool] = True  # whether response_filters and refusal openings drop its responses
    culled: ClassVar[bool] = True  # whether evoforge instruct cull compares its records with the others

    def task_line(self, index: int, topic: str, settings: InstructorSettings, rng: Random) -> str:
        """The requirement line of task ``index`` (its topic, and the instructor's extra per-task choices)."""
        return f' * TSK {index} is about the topic "{topic}".'

    def task_lines(self, batch: Batch, rng: Random) -> list[str]:
        """The requirement lines of a batch, one per task."""
        return [self.task_line(i, topic, batch.settings, rng) for i, topic in enumerate(batch.topics, 1)]

    def template_values(self, batch: Batch, rng: Random) -> dict[str, str]:
        """The values of a user's prompt file, as airoboros fills its templates: ``{batch_size}``, ``{topics}`` (one
        line per task), ``{topic_avoidance}``, ``{flesch}``, ``{language}``, and the instructor's own."""
        topics = "\n".join(
            f" * TSK {i} must be related to topic: {json.dumps(topic)}" for i, topic in enumerate(batch.topics, 1)
        )
        return {
            "batch_size": str(len(batch.topics)),
            "topics": topics,
            "topic_avoidance": batch.topic_avoidance,
            "flesch": batch.flesch,
            "language": batch.language,
        }

    def response_values(self, settings: InstructorSettings) -> dict[str, str]:
        """The instructor's own values of its response prompt (beside ``$instruction``)."""
        return {}

    def prompt(self) -> PromptTemplate:
        """The instruction-writing prompt of this instructor."""
        return load_prompt(f"instruct/{self.name}")

    def messages(self, batch: Batch) -> list[dict[str, str]]:
        """The chat messages of one batch request (the user's own prompt file when the instructor names one)."""
        rng = Random(f"{batch.seed}|{self.name}|lines")
        if batch.settings.prompt_path:
            key = f"instructors.{self.name}.prompt_path"
            return render(batch.settings.prompt_path, key, self.template_values(batch, rng))
        return self.prompt().messages(
            tasks="\n".join(self.task_lines(batch, rng)),
            rules=RULES.format(language=batch.language),
            batch_size=str(len(batch.topics)),
            topic_avoidance=batch.topic_avoidance,
            flesch=batch.flesch,
            **self.prompt_values(batch, rng),
        )

    def prompt_values(self, batch: Batch, rng: Random) -> dict[str, str]:
        """The instructor's own values of its built-in prompt (beside ``$tasks``, ``$rules`` ...)."""
        return {}

    def parse(self, text: str, batch: Batch) -> TaskList:
        """The usable instructions of a reply: its tasks, each made an instruction (:meth:`instruction`)."""
        found = parse_tasks(text, limit=len(batch.topics))
        rng = Random(f"{batch.seed}|{self.name}|finish")
        out = TaskList(skipped=dict(found.skipped))
        for task in found.tasks:
            instruction = self.instruction(task, batch.settings, rng)
            if instruction is None:
                out.skip("unreadable_task")
            else:
                out.tasks.append(instruction)
        return out

    def instruction(self, task: str, settings: InstructorSettings, rng: Random) -> str | None:
        """The instruction a task becomes (None when the instructor cannot read it)."""
        return task

    def dedup_key(self, instruction: str) -> str:
        """The part of an instruction that de-duplication compares (the whole instruction unless the instructor
        wraps every task in the same text)."""
        return instruction

    def response_messages(self, instruction: str, batch: Batch | None = None) -> list[dict[str, str]]:
        """What the responder is sent for ``instruction`` (``batch``: the settings and language it came with)."""
        batch = batch or Batch(topics=[])
        if batch.settings.response_prompt_path:
            values = {"instruction": instruction, "language": batch.language, "flesch": batch.flesch}
            values |= self.response_values(batch.settings)
            return render(batch.settings.response_prompt_path, f"instructors.{self.name}.response_prompt_path", values)
        if self.response_prompt is not None:
            values = self.response_values(batch.settings)
            return load_prompt(f"instruct/{self.response_prompt}").messages(instruction=instruction, **values)
        system = [{"role": "system", "content": self.system}] if self.system else []
        return [*system, {"role": "user", "content": instruction}]

    def finish_response(self, instruction: str, response: str) -> str:
        """The response as the record keeps it (as the model wrote it, unless the instructor trims it)."""
        return response

    def record(self, instruction: str, response: str) -> dict[str, Any]:
        """The airoboros record (``instruction, response, category``, and ``system`` where one was used)."""
        row: dict[str, Any] = {"instruction": instruction, "response": response, "category": self.name}
        if self.system:
            row["system"] = self.system
        return row


REGISTRY: dict[str, Instructor] = {}
InstructorClass = TypeVar("InstructorClass", bound=type[Instructor])


def register(cls: InstructorClass) -> InstructorClass:
    """Class decorator: add an instructor to :data:`REGISTRY` (its name must be declared in the config)."""
    if cls.name not in INSTRUCTOR_OPTIONS:
        raise ValueError(f"instructor {cls.name!r} is not declared in config.instruct.INSTRUCTOR_OPTIONS")
    REGISTRY[cls.name] = cls()
    return cls


def dedup_key(category: str, instruction: str) -> str:
    """What de-duplication compares of a record of ``category`` (any category, built here or not)."""
    instructor = REGISTRY.get(category)
    return instructor.dedup_key(instruction) if instructor is not None else instruction


def pick(options: list[str] | None, default: tuple[str, ...], rng: Random) -> str:
    """One of the configured options (the instructor's defaults when none are configured)."""
    return rng.choice(list(options or default))


def check_prompt_files(settings: InstructSettings) -> None:
    """Render every user's prompt file (and folder of examples) of the section once, so that a file that cannot be
    read or a placeholder its instructor cannot fill is refused before a run starts (ConfigError naming the file, the
    key and the placeholder)."""
    for name, own in settings.instructors.items():
        instructor = REGISTRY.get(name)
        read = own.prompt_path or own.setting_prompt_path or own.seed_path
        if instructor is None or not (read or own.response_prompt_path):
            continue
        batch = Batch(topics=["a topic"] * settings.batch_size(name), settings=own, language=settings.language)
        if read:  # rp renders its setting prompt file in its sample request
            instructor.messages(batch)
        if own.response_prompt_path:
            instructor.response_messages("an instruction", batch)
