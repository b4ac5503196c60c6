"""The simulated LLM as airoboros' single-pass instructors: a task written with its answers, in the keyed parts the
prompt asks for (awareness: ``QUESTION``, ``CONTEXT`` or ``CHARACTER``, ``ANSWER``, ``CONTEXTUALANSWER``; card:
``PROMPT``, ``ANSWER``). What the question is about comes from the requirement line, as a real model reads it."""

from __future__ import annotations

from random import Random

_TOWNS = ("Lisbon", "Tromso", "Kyoto", "Valparaiso", "Galway", "Tartu", "Hobart", "Quebec City", "Cusco", "Bergen")
_MONTHS = ("January", "March", "May", "July", "September", "November")
_PEOPLE = (
    ("Edda Moreau", "a retired ferry captain in {town} who keeps bees and speaks slowly and warmly"),
    ("Tobias Reyes", "a night-shift baker in {town}, cheerful, fond of puns and strong coffee"),
    ("Nadia Okafor", "a field botanist living in {town}, precise, curious and a little impatient"),
    ("Ilya Brandt", "a violin repairer in {town} with a dry sense of humour and a rescued greyhound"),
)
_CARD_FIELDS = {
    "a person": ("Name", "Age", "Occupation", "Quirk", "Secret"),
    "a creature": ("Name", "Habitat", "Diet", "Temperament", "Origin"),
    "a place": ("Name", "Climate", "Landmark", "Inhabitants", "Danger"),
    "a scenario": ("Setting", "Event", "Conflict", "Stakes", "Twist"),
    "an object": ("Name", "Material", "Maker", "Power", "Flaw"),
    "an organisation": ("Name", "Founded", "Purpose", "Symbol", "Rival"),
    "a vehicle": ("Name", "Propulsion", "Crew", "Top speed", "History"),
}


def awareness_task(topic: str, extra: str, rng: Random) -> str:
    """A question that needs the time, the place or a body, with the answer without it and the answer with it."""
    town = rng.choice(_TOWNS)
    if "CHARACTER" in extra:
        name, description = rng.choice(_PEOPLE)
        sense = "smell" if "senses" in extra else "feel to the touch" if "body" in extra else "lie from your home"
        question = f"What does {topic} {sense}, for you?" if "lie" not in sense else f"How far does {topic} {sense}?"
        return (
            f"QUESTION: {question}\nCHARACTER: {name}: {description.format(town=town)}.\n"
            f"ANSWER: I have no body, senses or home, so I cannot say what {topic} is like in person; I can only "
            f"share what people have written about {topic}.\n"
            f"CONTEXTUALANSWER: Here in {town}, {topic} is part of my week: close up it is sharp and fresh, "
            "and it always brings back the harbour mornings."
        )
    if "time" in extra:
        day, month, year = rng.randint(1, 28), rng.choice(_MONTHS), rng.randint(2026, 2034)
        return (
            f"QUESTION: How many days are left until the next fair about {topic}?\n"
            f"CONTEXT: The current date is {day} {month} {year}. The fair about {topic} opens on the first day of "
            "the following month.\n"
            f"ANSWER: I do not know today's date, so I cannot count the days; the fair's own calendar will say "
            f"when the next one about {topic} opens.\n"
            f"CONTEXTUALANSWER: Today is {day} {month} {year}, so the fair about {topic} opens on the first of "
            "next month."
        )
    return (
        f"QUESTION: Where is the nearest exhibition about {topic}?\n"
        f"CONTEXT: The current location is {town}. The {town} city museum runs an exhibition about {topic}.\n"
        f"ANSWER: I cannot see where you are, so I cannot name the nearest one; a map search for {topic} "
        "exhibitions near you will find it.\n"
        f"CONTEXTUALANSWER: Being in {town}, the nearest is the city museum's exhibition about {topic}."
    )


def card_task(topic: str, extra: str, rng: Random) -> str:
    """A request for a card about the topic, with the attributes of the kind of thing the line names, and the card."""
    kind = next((k for k in _CARD_FIELDS if k in extra), "a person")
    fields = _CARD_FIELDS[kind]
    wanted = "\n".join(f"{field}: the {field.lower()} of {kind.split(' ', 1)[1]}" for field in fields)
    values = "\n".join(f"{field}: {rng.choice(('Old', 'Bright', 'Quiet', 'Hidden'))} {topic}" for field in fields)
    return (
        f"PROMPT: Please write a card for {kind} connected to {topic}. Attributes to fill:\n{wanted}\nANSWER:\n{values}"
    )
