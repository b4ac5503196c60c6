"""Validator: rule-based checks of evolved instructions and their responses (no LLM call).

:func:`failure_reason` applies Auto Evol-Instruct's failure rules to the response to an evolved instruction
(the paper's three, optionally the official code's extra ones, plus the Korean implementation's IDK / U+FFFD);
:func:`eliminate` applies Evol-Instruct's elimination rules to an evolution.
"""

from __future__ import annotations

import re
from collections.abc import Callable

STAGNANT = "stagnant complexity"
INSUFFICIENT = "insufficient qualification"
LOSS = "loss of key information"

_STOP_TEXT = (
    "a an the and or but if of to in on at by for with from as is are was were be been it its this that these those "
    "i you he she we they me my your our their there here so not no yes ok okay"
)
_STOP_WORDS = frozenset(_STOP_TEXT.split())
_SCAFFOLDING = (
    "#rewritten prompt#", "rewritten prompt", "given prompt", "#created prompt#", "created prompt",
    "#rewritten instruction#", "#finally rewritten instruction#",
)  # fmt: skip


def _asks(text: str, *starts: str) -> bool:
    """Starts with one of ``starts`` (case-insensitive) and ends with a question mark."""
    lowered = text.lower()
    return text.endswith("?") and lowered.startswith(tuple(s.lower() for s in starts))


_EXTRA_RULES: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("apology with a question", lambda t: _asks(t, "I'm sorry", "I am sorry", "Sorry")),
    ("asks for anything else", lambda t: t.endswith("?") and "is there anything else" in t.lower()),
    ("AI disclaimer with a question", lambda t: _asks(t, "As an AI")),
    ("acknowledgement with a question", lambda t: _asks(t, "I understand")),
    ("declares the task not possible", lambda t: "not possible" in t.lower()),
    ("answers with a question", lambda t: _asks(t, "What")),
    ("confirms instead of answering", lambda t: t.lower().startswith(("that is correct", "great"))),
)


def failure_reason(response: str, extra_rules: bool = False) -> str | None:
    """Why the response to an evolved instruction shows the evolution failed; None when it looks like an answer.

    Paper rules: stagnant complexity (starts with "Understood"/"Thank you", ends with "?"), insufficient
    qualification (starts with "Sure", ends with "?"), loss of key information (contains "please provide").
    Korean implementation: an "IDK" answer or U+FFFD in the text. ``extra_rules``: the official code's
    additional patterns ("I'm sorry...?", "Is there anything else...?", "not possible", ...).
    """
    text = response.strip()
    if "please provide" in text.lower():
        return LOSS
    if _asks(text, "Understood", "Thank you"):
        return STAGNANT
    if _asks(text, "Sure"):
        return INSUFFICIENT
    if text.upper() == "IDK" or text.upper().startswith("IDK "):
        return "the model does not know (IDK)"
    if "\ufffd" in text:
        return "broken characters (U+FFFD)"
    if extra_rules:
        for name, rule in _EXTRA_RULES:
            if rule(text):
                return name
    return None


def _normalized(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def eliminate(original: str, evolved: str, response: str) -> str | None:
    """Why Evol-Instruct drops this evolution, or None to keep it.

    Rules: no information gain (the evolved instruction equals the original up to case, spacing and
    punctuation); the response contains "sorry" and has fewer than 80 words; the response holds only
    punctuation and stop words; the evolved instruction copies the prompt scaffolding ("#Rewritten Prompt#",
    "given prompt", ...).
    """
    if _normalized(evolved) == _normalized(original):
        return "no information gain"
    lowered = evolved.lower()
    if any(s in lowered for s in _SCAFFOLDING):
        return "copies the prompt scaffolding"
    if "sorry" in response.lower() and len(response.split()) < 80:
        return "the response is a short apology"
    words = re.findall(r"\w+", response.lower())
    if all(w in _STOP_WORDS for w in words):
        return "the response holds only punctuation and stop words"
    return None
