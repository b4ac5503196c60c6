"""The instructors whose tasks are used as written: one class each, differing in prompt, response prompt or system."""

from __future__ import annotations

from random import Random

from evoforge.agents.instructors.base import Batch, Instructor, register
from evoforge.config import InstructorSettings


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


@register
class Roleplay(Instructor):
    """Replies written in the voice of a well-known character."""

    name = "roleplay"


@register
class DetailedWriting(Instructor):
    """Long, detailed pieces of writing with several constraints, answered at length (``word_count``)."""

    name = "detailed_writing"
    response_prompt = "detailed_writing_response"

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
