"""The simulated LLM for the dependent instructors: character cards, chat settings, a character's chat messages,
get-to-know-me questions, answers in a character's voice, and a text rewritten with errors.

As everywhere in the simulator, it reads only the request: a card request gets as many cards as it asks for, under
names it was told not to reuse, in the DESCRIPTION / NAME / GUIDE layout; a chat message speaks as the character its
system prompt names, reacts to the last message, uses the action marks the rules ask for and names who speaks next,
though now and then (as real models do) it forgets the NEXT line or starts with its own name; an answer in voice
opens in the character's manner and, when the rules allow it, is the single word SKIP for a request that only asks
for a list of words; a rewrite with errors makes the kinds of errors listed. Nothing here knows anything.
"""

from __future__ import annotations

import json
import re
from random import Random

from evoforge.offline.sim.open_answer import compose_answer, content_words

TASKS = ("cards", "setting", "questions", "spoil", "rp_turn", "in_voice")
FIRST = ("Mara", "Elias", "Noor", "Tobias", "Lena", "Rafael", "Ingrid", "Kwame", "Sofia", "Henrik", "Amara", "Jonah")
LAST = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Reyes", "Novak", "Abernathy", "Castell", "Duarte", "Whitlow")
WORK = (
    "lighthouse keeper",
    "retired surgeon",
    "street musician",
    "train conductor",
    "botanist",
    "sea captain",
    "bookbinder",
    "mountain guide",
    "chess hustler",
    "pastry chef",
    "radio host",
    "archivist",
)
PLACES = (
    "Lisbon",
    "a Norwegian fishing village",
    "1920s Chicago",
    "Victorian London",
    "Osaka",
    "the Scottish Highlands",
    "a Martian colony in 2190",
    "Buenos Aires",
    "a desert caravan town",
    "Prague",
)
TRAITS = (
    "sardonic",
    "gentle",
    "impatient",
    "curious",
    "melancholic",
    "boastful",
    "shy",
    "stubborn",
    "warm",
    "pedantic",
)
VOICES = (
    "in clipped, dry sentences",
    "with long, winding stories",
    "with sea slang and mild curses",
    "formally, never using contractions",
    "in quick bursts full of questions",
    "softly, with old proverbs",
)
MANNERS = (
    ("Hm. You want my view? Fine.", "Listen, I will say this once.", "Right. Here is how it is."),
    ("Oh, what a lovely thing to ask!", "How delightful; let me think.", "My favourite kind of question!"),
    ("Well, as I always say, first things first.", "Patience, friend; it goes like this.", "In my day we knew this."),
)  # a character's manner of opening an answer, one per character
_COUNT = re.compile(r"\b(?:Write|Generate exactly|Generate a list of)\s+(\d+)\b")
_TAKEN = re.compile(r"(?:Do not reuse any of these names|Do not use any of the following[^:]*):\s*(.+)")
_NEXT_NAMES = re.compile(r"NEXT: \" with the name of who speaks next, one of: (\[.*?\])")
_TOPIC = re.compile(r"one small detail: ([^\n]+)")
_MARK = re.compile(r"Put actions between (\S) marks")
_LIST_OF_WORDS = re.compile(r"\b(list|give|write)\b[^.?!]*\bwords\b|\bevery word starts\b|\banagram", re.IGNORECASE)


def _words(text: str) -> list[str]:
    return [w for w in content_words(text) if w.isalpha() and len(w) > 3] or ["things"]


def cards_reply(prompt: str, rng: Random) -> str:
    """As many cards as the request asks for, with names it did not rule out."""
    wanted = int(m.group(1)) if (m := _COUNT.search(prompt)) else 1
    found = _TAKEN.search(prompt)
    taken = {n.strip().rstrip(".") for n in found.group(1).split(",")} if found else set()
    cards = []
    for _ in range(min(wanted, 20)):
        name = next(n for n in (f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(50)) if n not in taken)
        taken.add(name)
        first = name.split()[0]
        description = (
            f"{first} is a {rng.choice(TRAITS)}, {rng.choice(TRAITS)} {rng.choice(WORK)} from {rng.choice(PLACES)}. "
            f"{first} talks {rng.choice(VOICES)}, and has strong opinions about {rng.choice(WORK)}s."
        )
        guide = rng.choice(("Always stay in character as {n}.", "Reply only as {n} would.", "Keep to {n}'s voice."))
        cards.append(f"DESCRIPTION: {description}\nNAME: {name}\nGUIDE: {guide.format(n=first)}")
    return "\n\n".join(cards)


def setting_reply(prompt: str, rng: Random) -> str:
    """A scene for the characters the request lists, with the topic as one detail."""
    block = prompt.split("Imagine a chat between these characters:", 1)[-1].split("Invent", 1)[0]
    names = re.findall(r"^([^\n:]{2,40}):", block, re.MULTILINE) or ["two strangers"]
    topic = m.group(1).strip() if (m := _TOPIC.search(prompt)) else "the weather"
    place = rng.choice(
        (
            "a crowded night train",
            "a rain-soaked harbour cafe",
            "a museum after closing time",
            "a stalled cable car",
            "the back room of a bookshop",
        )
    )
    return (
        f"Late in the evening, {' and '.join(names)} find themselves in {place}. Pinned to the wall is a faded notice "
        f"about {topic}, and nobody seems in a hurry to leave."
    )


def questions_reply(prompt: str, rng: Random) -> str:
    """``QUESTION:`` lines about the character described."""
    wanted = int(m.group(1)) if (m := _COUNT.search(prompt)) else 10
    about = _words(prompt.split("named", 1)[-1].split("Write", 1)[0])
    forms = (
        "What first drew you to {w}?",
        "How do you feel about {w} these days?",
        "What is your earliest memory of {w}?",
        "Who taught you the most about {w}?",
        "What would you change about {w}?",
        "What do people misunderstand about {w}?",
    )
    asked = [f.format(w=w) for w in about for f in forms]
    rng.shuffle(asked)
    return "\n".join(f"QUESTION: {q}" for q in asked[:wanted])


def in_voice_reply(system: str, name: str, request: str, rng: Random) -> str:
    """An answer as the character, opening in a manner of its own (SKIP for a list of words, when the rules allow
    it)."""
    if "SKIP" in system and _LIST_OF_WORDS.search(request):
        return "SKIP"
    manner = Random(f"{name}|manner").choice(MANNERS)
    body = compose_answer(request).splitlines()[1:] or [request]
    return "\n".join([rng.choice(manner), *body])


def rp_turn_reply(system: str, name: str, message: str, rng: Random) -> str:
    """A chat message as ``name``: an action (when the rules ask for marks), speech about the last message, and
    who speaks next."""
    mark = m.group(1) if (m := _MARK.search(system)) else None
    names = json.loads(m.group(1)) if (m := _NEXT_NAMES.search(system)) else []
    last = re.sub(r"^[^\n:]{1,40}:\s*", "", message.split("\n\n(Stay in character", 1)[0], flags=re.MULTILINE)
    last = re.sub(r"([*~]).*?\1", " ", last)  # react to what was said, not to the actions
    setting = system.split("Setting for the chat:", 1)[-1].split("End of setting.", 1)[0]
    word = rng.choice(_words(setting if "open the chat" in last else last))
    speech = rng.choice(
        (
            f'"{word.capitalize()}? You make it sound simple, and it never is."',
            f'"I have thought about {word} more than I would like to admit."',
            f'"Tell me honestly: what does {word} mean to you?"',
            f'"No, {word} is not what you think. Let me explain."',
        )
    )
    action = f"{mark}{rng.choice(('leans closer', 'taps the table', 'glances at the window'))}{mark} " if mark else ""
    text = f"{action}{speech}"
    if rng.random() < 0.1:
        text = f"{name}: {text}"
    if names and rng.random() >= 0.1:
        text += f"\nNEXT: {rng.choice(names)}"
    return text


_SWAPS = {
    "their": "there",
    "there": "their",
    "then": "than",
    "than": "then",
    "led": "lead",
    "its": "it's",
    "your": "you're",
    "to": "too",
    "effect": "affect",
}


def spoil_reply(prompt: str, rng: Random) -> str:
    """The text after ``Text:`` with the kinds of errors the request lists."""
    text = prompt.split("Text:", 1)[-1].strip()
    edits = prompt.split("so that it has:", 1)[-1].split("Output only", 1)[0].lower()
    words = text.split(" ")
    for i, word in enumerate(words):
        core = word.strip(".,;:!?\"'").lower()
        if "confused" in edits and core in _SWAPS:
            words[i] = word.replace(core, _SWAPS[core])
        elif ("spelling" in edits or "dyslexia" in edits) and len(core) > 4 and rng.random() < 0.3:
            k = rng.randrange(1, len(word) - 2)
            words[i] = word[:k] + word[k + 1] + word[k] + word[k + 2 :]
        elif "grammar" in edits and core in ("is", "are", "was", "were", "the", "a") and rng.random() < 0.6:
            words[i] = {"is": "are", "are": "is", "was": "were", "were": "was"}.get(core, "")
    out = re.sub(r" +", " ", " ".join(words)).strip()
    if "sprawling" in edits:
        out = re.sub(r"\.\s+(\w)", lambda m: ", and then " + m.group(1).lower(), out)
    if "five-year-old" in edits:
        out = " ".join(s.split(",")[0].rstrip(".") + "." for s in re.split(r"(?<=[.!?])\s+", out) if s)
    return out if out != text else text.replace(" ", "  ", 1).replace("e", "ee", 1)


def character_reply(task: str, parts: dict[str, str], rng: Random) -> str:
    """The reply to one of the dependent instructors' requests (``task``: one of :data:`TASKS`)."""
    if task == "rp_turn":
        return rp_turn_reply(parts["system"], parts["name"], parts["message"], rng)
    if task == "in_voice":
        return in_voice_reply(parts["system"], parts["name"], parts["message"], rng)
    replies = {"cards": cards_reply, "setting": setting_reply, "questions": questions_reply, "spoil": spoil_reply}
    return replies[task](parts["prompt"], rng)
