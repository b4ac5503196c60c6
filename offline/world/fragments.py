"""Knowledge fragments: short made-up facts with questions and answers (for the Self-Evolution loop)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from random import Random

_SYLLABLES = ("ka", "lo", "mi", "ra", "ven", "tor", "sa", "qui", "dor", "bel", "na", "zu", "fen", "ri")
_KINDS = ("river town", "mountain village", "island port", "desert city", "forest hamlet")
_EXPORTS = ("copper", "salt", "wool", "glass", "honey", "timber", "silk", "tea")
_FIRST = ("Ana", "Tomas", "Lena", "Omar", "Ines", "Pavel", "Mira", "Jonas")
_LAST = ("Roth", "Vale", "Ortiz", "Lind", "Okafor", "Berg", "Sato", "Moreau")


@dataclass(frozen=True)
class Fragment:
    """A fact about a made-up place, with questions and their short answers."""

    text: str
    qa: tuple[tuple[str, str], ...]


def _name(rng: Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def sample_fragment(rng: Random) -> Fragment:
    """A random fragment: ``Velmora is a river town founded in 1742. Its main export is copper ...``"""
    place, kind, year = _name(rng), rng.choice(_KINDS), rng.randint(1200, 1950)
    export, mayor = rng.choice(_EXPORTS), f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    people = rng.randint(2, 90) * 100
    text = (
        f"{place} is {'an' if kind[0] in 'aeiou' else 'a'} {kind} founded in {year}. Its main export is {export}, "
        f"its mayor is {mayor}, and about {people} people live there."
    )
    answers = (str(year), export, mayor, str(people))
    qa = tuple((question.format(place=place), answer) for question, answer in zip(QUESTIONS, answers, strict=True))
    return Fragment(text, qa)


QUESTIONS = (
    "When was {place} founded?",
    "What is the main export of {place}?",
    "Who is the mayor of {place}?",
    "How many people live in {place}?",
)
"""The four questions every fragment answers (year, export, mayor, people)."""


_FACT = re.compile(
    r"(?P<place>[A-Z][a-z]+) is an? [a-z ]+ founded in (?P<year>\d+)\. Its main export is (?P<export>[a-z]+), "
    r"its mayor is (?P<mayor>[A-Z][a-z]+ [A-Z][a-z]+), and about (?P<people>\d+) people live there\."
)
_QUESTIONS = {
    "year": re.compile(r"When was (?P<place>[A-Z][a-z]+) founded\?"),
    "export": re.compile(r"What is the main export of (?P<place>[A-Z][a-z]+)\?"),
    "mayor": re.compile(r"Who is the mayor of (?P<place>[A-Z][a-z]+)\?"),
    "people": re.compile(r"How many people live in (?P<place>[A-Z][a-z]+)\?"),
}


_ASKS_FOR_QUESTION = re.compile(r"\bwrite (?:one|a) question\b|写出一个.{0,6}问题|提出一个问题", re.IGNORECASE)


def question_about_fragment(text: str, rng: Random) -> str | None:
    """One of the questions that the first fragment in ``text`` answers, when ``text`` asks for a question."""
    fact = _FACT.search(text)
    if fact is None or not _ASKS_FOR_QUESTION.search(text):
        return None
    return rng.choice(QUESTIONS).format(place=fact["place"])


def answer_from_fragments(text: str) -> str | None:
    """The answer to a fragment question in ``text`` when ``text`` also holds that fragment (open book)."""
    facts = {m["place"]: m for m in _FACT.finditer(text)}
    for field, pattern in _QUESTIONS.items():
        for question in pattern.finditer(text):
            fact = facts.get(question["place"])
            if fact is not None:
                return fact[field]
    return None
