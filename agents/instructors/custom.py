"""A user's own prompt file (airoboros' ``prompt_path`` / ``response_prompt_path``): an airoboros-style template
with Python ``{placeholders}``, rendered with the values the instructor fills, as airoboros' ``str.format`` does.

A file that is missing or not UTF-8 text, a template that does not parse, or a placeholder the instructor cannot
fill is a :class:`~evoforge.errors.ConfigError` naming the file, the key and the placeholder.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from string import Formatter

from evoforge.errors import ConfigError


@cache
def read_template(path: str, key: str) -> str:
    """The text of the prompt file ``path`` that the config key ``key`` names."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{key}: prompt file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{key}: prompt file {path} cannot be read as UTF-8 text: {exc}") from None


def placeholders(template: str, path: str, key: str) -> list[str]:
    """The ``{placeholders}`` of a template, in order (``{{`` and ``}}`` are literal braces)."""
    try:
        fields = [field for _, field, _, _ in Formatter().parse(template) if field is not None]
    except ValueError as exc:
        raise ConfigError(f"{key}: prompt file {path} is not a valid template: {exc}") from None
    return list(dict.fromkeys(fields))


def render(path: str, key: str, values: dict[str, str]) -> list[dict[str, str]]:
    """The chat message of a user's prompt file filled with ``values`` (what its instructor fills)."""
    template = read_template(path, key)
    for name in placeholders(template, path, key):
        if name not in values:
            raise ConfigError(
                f"{key}: prompt file {path} has the placeholder {{{name}}}, which this instructor does not fill "
                f"(it fills {', '.join('{' + v + '}' for v in values)}); write {{{{ and }}}} for literal braces"
            )
    return [{"role": "user", "content": template.format(**values).strip()}]
