"""Prompt templates of the agents: ``prompts/<language>/<role>.md``, one file per role and language.

A file holds a ``[system]`` section (optional) and a ``[user]`` section; placeholders are ``$name``
(:class:`string.Template`, so JSON braces need no escaping; write ``$$`` for a literal dollar). Markers such as
``#Instruction#:`` stay in English in every language: they delimit the parts that the model must read.
A role without a file in the requested language falls back to English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

from evoforge.errors import ConfigError

PROMPTS_DIR = Path(__file__).resolve().parent
LANGUAGES: tuple[str, ...] = ("en", "ko", "zh")
_SECTION = re.compile(r"^\[(system|user)\]\s*$", re.MULTILINE)


@dataclass(frozen=True)
class PromptTemplate:
    """A chat prompt: optional system text and user text, both ``string.Template`` sources."""

    role: str
    language: str
    system: str | None
    user: str

    def messages(self, **values: str) -> list[dict[str, str]]:
        """The chat messages with every ``$placeholder`` filled (KeyError names a missing one)."""
        out = []
        if self.system:
            out.append({"role": "system", "content": Template(self.system).substitute(values).strip()})
        out.append({"role": "user", "content": Template(self.user).substitute(values).strip()})
        return out


def prompt_path(role: str, language: str = "en") -> Path:
    """The file of ``role``'s prompt in ``language`` (English when there is none in that language)."""
    if language not in LANGUAGES:
        raise ConfigError(f"unknown prompt language {language!r}; expected one of {', '.join(LANGUAGES)}")
    path = PROMPTS_DIR / language / f"{role}.md"
    if not path.is_file():
        path = PROMPTS_DIR / "en" / f"{role}.md"
    if not path.is_file():
        raise ConfigError(f"no prompt for role {role!r} in {PROMPTS_DIR / 'en'}")
    return path


@cache
def load_prompt(role: str, language: str = "en") -> PromptTemplate:
    """The prompt template of ``role`` in ``language``."""
    path = prompt_path(role, language)
    text = path.read_text(encoding="utf-8")
    parts = _SECTION.split(text)
    sections = dict(zip(parts[1::2], parts[2::2], strict=True)) if len(parts) > 1 else {"user": text}
    if "user" not in sections:
        raise ConfigError(f"{path}: a prompt needs a [user] section")
    system = sections.get("system")
    return PromptTemplate(role, language, system.strip() if system else None, sections["user"].strip() + "\n")


def load_text(name: str, language: str = "en") -> str:
    """A plain text resource such as ``initial_method`` (no sections, no placeholders)."""
    return prompt_path(name, language).read_text(encoding="utf-8").strip()
