"""The simulated LLM as airoboros' writers: topic writer, every instructor, and the responder's wrapped requests.

It reads what a real model reads. A topic request ("a numbered list of N ... topics") gets N topics, each an aspect
of a subject from fixed lists. An instructor's request (its prompt names the ``Kind of task:`` and has one
``TSK i is about the topic "..."`` line per task, or airoboros' own ``TSK i must be related to topic: "..."`` from a
user's prompt file, read as the general kind) gets a ``TSK i.`` list with one instruction per line, from a few
phrasings of our own per kind, filled with the topic and the line's extras (a programming language, a style); the
closed-context kinds write a short made-up passage and a ``QUESTION:`` line, multiple choice four lettered options,
the single-pass kinds the task with its answers (:mod:`.inline`).
A wrapped request (``#Request#:``) is answered like any text; a closed-context one from its passage's first
sentence that shares a word with the question. Nothing here knows anything: the texts are about the request.
"""

from __future__ import annotations

import re
from random import Random

from evoforge.offline.sim.inline import awareness_task, card_task
from evoforge.offline.sim.open_answer import compose_answer, content_words

_KIND = re.compile(r"^Kind of task:\s*(\w+)", re.MULTILINE)
_LINE = re.compile(  # ours, or airoboros' own (a user's prompt file): ' * TSK 1 must be related to topic: "..."'
    r'^ \* TSK (\d+) (?:(?:is an? (?P<style>[^"]+?) )?(?:is )?about the topic|must be related to topic:) '
    r'"(?P<topic>[^"]+)"(?P<extra>[^\n]*)$'
)
_LANGUAGE = re.compile(r"write it for ([^;.]+?)(?: and make it use (?P<software>[^;.]+))?\.$")
_STYLE = re.compile(r"ask for a ([^;.]+?) style")
_SUBJECTS = (
    "lighthouses",
    "coral reefs",
    "medieval castles",
    "jazz",
    "volcanoes",
    "honeybees",
    "glassblowing",
    "origami",
    "railway timetables",
    "desert caravans",
    "chess openings",
    "tea ceremonies",
    "bridges",
    "comets",
    "sourdough",
    "river deltas",
    "typewriters",
    "mosaics",
    "owls",
    "sailing knots",
    "lunar eclipses",
    "paper money",
    "kites",
    "sundials",
    "mushrooms",
    "opera",
    "glaciers",
    "city parks",
    "bicycles",
    "maps",
    "postage stamps",
    "perfume",
    "silk roads",
    "penguins",
    "woodcarving",
    "radio",
    "tidal pools",
    "clocks",
    "violins",
    "salt marshes",
    "quilts",
    "beekeeping",
    "caves",
    "windmills",
    "board games",
    "bamboo",
    "submarines",
    "lanterns",
    "fireflies",
    "canals",
)
_ASPECTS = (
    "the history of {s}", "how {s} work", "famous {s}", "{s} in everyday life", "the science behind {s}",
    "myths about {s}", "the future of {s}", "caring for {s}", "{s} around the world", "record-breaking {s}",
)  # fmt: skip
_PHRASES: dict[str, tuple[str, ...]] = {
    "general": (
        "List five surprising facts about {t} and say why each one matters.",
        "Compare two different ways of thinking about {t} in a short table.",
        "Suggest three questions a curious student might ask about {t}, with brief answers.",
        "Summarise what a newcomer should know about {t} as a numbered list.",
    ),
    "trivia": ("Which well-known fact about {t} do most encyclopedias mention first?", "What is {t} best known for?"),
    "riddle": (
        "Write a riddle whose answer is connected to {t}, then explain the answer.",
        "Make up a logic puzzle set among {t} that has exactly one solution.",
    ),
    "wordgame": (
        "Write a sentence about {t} in which every word starts with the same letter.",
        "List seven words related to {t} that end in the letters -ing.",
    ),
    "joke": ("Tell a one-liner joke about {t}.", "Write a knock-knock joke that plays on {t}."),
    "song": ("Write song lyrics about {t} as a slow folk ballad.", "Compose an upbeat pop chorus celebrating {t}."),
    "misconception": ("Is it true that everyone gets {t} wrong in the same way?", "Why does {t} never change?"),
    "experience": (
        "Take me on a calm, imagined walk through a place shaped by {t}.",
        "Guide me, step by step, through a relaxing daydream about {t}.",
    ),
    "roleplay": (
        "As Sherlock Holmes, describe your first encounter with {t}.",
        "Speaking as Captain Ahab, tell a crew member what you think of {t}.",
    ),
    "detailed_writing": (
        "Write a detailed story of about 800 words set among {t}, with two characters and a twist at the end.",
        "Write a long report on {t} with an introduction, three sections and a conclusion.",
    ),
    "cot": (
        "A club counts visitors interested in {t}: 12 on Monday, twice as many on Tuesday. How many in both days?",
        "If a guide about {t} has 9 chapters of 14 pages and a 6-page index, how many pages does it have?",
    ),
    "orca": (
        "A shop sells 3 books on {t} for 15 dollars each and gives 10 percent off the total. What is the price?",
        "A train ride to an exhibition on {t} takes 45 minutes each way. How long are 4 round trips?",
    ),
    "writing": ("Write a {style} poem about {t}.", "Write a {style} letter to a friend about {t}."),
    "agent": ("Find the most recent news about {t}.", "Work out how many years ago {t} first became popular."),
    "plan": (
        "Who first wrote about {t}, and where did that person live?",
        "What is the oldest museum devoted to {t}, and when did it open?",
    ),
    "coding": (
        "Write a {language} function that stores notes about {t} and returns them sorted by date.",
        "Write a {language} program that reads a CSV file of {t} and prints the three most common entries.",
    ),
}


_INLINE = {"awareness": awareness_task, "card": card_task}  # tasks written with their answers


def topics_reply(n: int, rng: Random) -> str:
    """A numbered list of ``n`` topics."""
    picks = [rng.choice(_ASPECTS).format(s=rng.choice(_SUBJECTS)) for _ in range(min(n, 200))]
    return "\n".join(f"{i}. {topic}" for i, topic in enumerate(picks, 1))


def _passage(topic: str, rng: Random, changed: bool) -> str:
    name = rng.choice(("Mara Lind", "Tomas Vale", "Ines Roth", "Omar Sato"))
    year = rng.randint(1700, 2020) if not changed else rng.randint(3000, 3100)
    return (
        f"In {year}, {name} published a study on {topic}. The study counted {rng.randint(12, 480)} examples "
        f"and found that {topic} changed most in spring."
    )


def _task(kind: str, topic: str, style: str, extra: str, rng: Random) -> str:
    if kind in _INLINE:
        return _INLINE[kind](topic, extra, rng)
    if kind in ("contextual", "counterfactual_contextual"):
        question = f"In which year was the study on {topic} published, and by whom?"
        return f"{_passage(topic, rng, kind != 'contextual')}\nQUESTION: {question}"
    if kind == "multiple_choice":
        options = rng.sample(("spring", "summer", "autumn", "winter"), 4)
        lettered = "\n".join(f"{letter}) {o}" for letter, o in zip("ABCD", options, strict=True))
        lead = f"{_passage(topic, rng, False)}\n" if "passage" in extra else ""
        return f"{lead}In which season does {topic} change most?\n{lettered}"
    language = _LANGUAGE.search(extra.strip())
    writing = _STYLE.search(extra)
    text = rng.choice(_PHRASES.get(kind, _PHRASES["general"])).format(
        t=topic,
        style=writing.group(1) if writing else "plain",
        language=language.group(1) if language else "python",
    )
    if language and language["software"]:
        text += f" Use {language['software']} for storage."
    return text


def tasks_reply(prompt: str, rng: Random) -> str:
    """The ``TSK i.`` list an instructor's prompt asks for (one task per requirement line)."""
    kind_match = _KIND.search(prompt)
    kind = kind_match.group(1) if kind_match else "general"
    out = []
    for line in prompt.splitlines():
        m = _LINE.match(line)
        if m:
            task = _task(kind, m["topic"], m["style"] or "", m["extra"], rng)
            out.append(f"TSK {m.group(1)}. {task}")
    return "\n".join(out)


def wrapped_answer(instruction: str) -> str:
    """The answer to a response prompt's request (a closed-context one from its passage)."""
    if "BEGININPUT" in instruction and "BEGININSTRUCTION" in instruction:
        passage = instruction.split("ENDCONTEXT", 1)[-1].split("ENDINPUT", 1)[0].strip()
        question = instruction.split("BEGININSTRUCTION", 1)[1].split("ENDINSTRUCTION", 1)[0]
        wanted = set(content_words(question))
        sentences = [s.strip() for s in re.split(r"(?<=\.)\s+", passage) if s.strip()]
        return next((s for s in sentences if wanted & set(content_words(s))), "The text does not say.")
    return compose_answer(instruction)
