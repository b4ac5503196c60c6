"""The instructors whose tasks are used as written: one class each, differing in prompt, response prompt or system."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from random import Random

from evoforge.agents.instructors.base import Batch, Instructor, TaskList, register
from evoforge.errors import ConfigError
from evoforge.settings import InstructorSettings

PACKAGED_SEEDS = "detailed_writing_seeds"  # airoboros' default seed_path: its packaged examples


@cache
def read_examples(folder: str) -> list[str]:
    """The example requests of a folder of ``*.txt`` files, by name (ConfigError when there are none)."""
    files = sorted(Path(folder).expanduser().glob("*.txt")) if Path(folder).expanduser().is_dir() else []
    if not files:
        raise ConfigError(
            f"instructors.detailed_writing.seed_path: {folder!r} is not a folder of *.txt example requests (from "
            f"{Path.cwd()}); leave it out, or write {PACKAGED_SEEDS}, for evoforge's prompt without an example"
        )
    return [path.read_text(encoding="utf-8").strip() for path in files]


_SETTING = re.compile(r"^[ \t]*SETTING:\s*(.*?)^[ \t]*EXPERIENCE:\s*(.*)", re.DOTALL | re.MULTILINE)


@register
class General(Instructor):
    """Varied open tasks: brainstorming, classification, editing, explanations, reasoning."""

    name = "general"


@register
class Trivia(Instructor):
    """Trivia questions with one short, checkable answer."""

    name = "trivia"


@register
class Riddle(Instructor):
    """Riddles and logic puzzles whose answer can be reasoned out."""

    name = "riddle"


@register
class Wordgame(Instructor):
    """Word games: words with given letters, alliteration, lipograms, anagrams."""

    name = "wordgame"


@register
class Joke(Instructor):
    """Requests for a joke about a topic."""

    name = "joke"


@register
class Song(Instructor):
    """Requests for song lyrics (genre, mood and theme)."""

    name = "song"


@register
class Misconception(Instructor):
    """Questions built on a common misconception, which the response corrects."""

    name = "misconception"


@register
class Experience(Instructor):
    """Guided experiences: a walk through a place or a calming journey, in the second person, answered at a length
    of at least ``word_count`` words (airoboros' default 800)."""

    name = "experience"
    response_prompt = "experience_response"

    def response_values(self, settings: InstructorSettings) -> dict[str, str]:
        """The least words of the experience."""
        return {"word_count": str(settings.word_count or 800)}

    def template_values(self, batch: Batch, rng: Random) -> dict[str, str]:
        """airoboros' experience template also takes ``{word_count}``."""
        return super().template_values(batch, rng) | self.response_values(batch.settings)

    def parse(self, text: str, batch: Batch) -> TaskList:
        """The tasks of a reply; a reply in airoboros' own layout (from a user's copy of its experience prompt), a
        ``SETTING:`` and the ``EXPERIENCE:`` itself, is one record, written as it is."""
        found = _SETTING.search(text or "")
        if found is None or "TSK" in text[: found.start()]:
            return super().parse(text, batch)
        setting, experience = found.group(1).strip(), found.group(2).strip()
        if not (setting and experience):
            return TaskList(skipped={"unreadable_task": 1})
        row = {"instruction": setting, "response": experience, "category": self.name}
        return TaskList(tasks=[setting], written=[[row]])


@register
class Roleplay(Instructor):
    """Replies written in the voice of a well-known character."""

    name = "roleplay"


@register
class DetailedWriting(Instructor):
    """Long, detailed pieces of writing with several constraints, answered at length (``word_count``)."""

    name = "detailed_writing"
    response_prompt = "detailed_writing_response"

    def example(self, batch: Batch) -> str:
        """One example request of ``seed_path`` (a folder of ``*.txt``, as airoboros' seeds), or none: airoboros'
        own seeds' name means evoforge's built-in prompt, which asks without an example."""
        seeds = batch.settings.seed_path
        if not seeds or (seeds == PACKAGED_SEEDS and not Path(seeds).is_dir()):
            return ""
        return Random(f"{batch.seed}|{self.name}|example").choice(read_examples(seeds))

    def prompt_values(self, batch: Batch, rng: Random) -> dict[str, str]:
        """An example request to match in scale and detail, when ``seed_path`` gives some."""
        example = self.example(batch)
        return {
            "example": f"An example of such a request, for its scale and detail only:\n{example}" if example else ""
        }

    def template_values(self, batch: Batch, rng: Random) -> dict[str, str]:
        """airoboros' detailed_writing template also takes ``{example}`` and ``{topic}`` (the batch's first)."""
        own = {"example": self.example(batch), "topic": json.dumps(batch.topics[0] if batch.topics else "")}
        return super().template_values(batch, rng) | own

    def parse(self, text: str, batch: Batch) -> TaskList:
        """The tasks of a reply; a reply without numbered tasks to a user's prompt file (airoboros' own template asks
        for one task a request) is that one task."""
        found = super().parse(text, batch)
        if found.skipped != {"no_numbered_tasks": 1} or not batch.settings.prompt_path:
            return found
        return TaskList(tasks=[text.strip()])

    def response_values(self, settings: InstructorSettings) -> dict[str, str]:
        """The least words of the piece (airoboros' default 4000), and a third of it, which airoboros' own response
        template also takes."""
        words = settings.word_count or 4000
        return {"word_count": str(words), "third": str(words // 3)}


@register
class ChainOfThought(Instructor):
    """Reasoning problems answered with several candidate solutions ranked, then the best one chosen."""

    name = "cot"
    response_prompt = "cot_response"


@register
class Orca(Instructor):
    """Orca-style reasoning and maths, answered step by step under an explaining system prompt."""

    name = "orca"
    system = (
        "You are a patient assistant who shows the work: reason step by step, say why each step follows, "
        "and end with the answer stated plainly."
    )
