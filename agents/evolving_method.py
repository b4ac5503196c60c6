"""Evolving methods: the paper's universal initial method e0, per language.

e0 (Auto Evol-Instruct, arXiv 2406.00770) has four steps: list methods that make the instruction more complex,
plan, rewrite adding only 10-20 words, review and output the #Finally Rewritten Instruction#.
"""

from __future__ import annotations

from evoforge.prompts import LANGUAGES, load_text


def initial_method(language: str = "en") -> str:
    """The universal initial evolving method e0 in ``language`` (en, ko, zh)."""
    return load_text("initial_method", language)


INITIAL_METHOD: str = initial_method("en")
INITIAL_METHODS: dict[str, str] = {lang: initial_method(lang) for lang in LANGUAGES}
