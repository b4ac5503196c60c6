"""Reading a configuration file written for airoboros itself (``airoboros generate-instructions --config-path``).

:func:`from_airoboros` maps airoboros' flat YAML keys onto evoforge's sections: ``model`` (and ``api_base``,
``organization_id``) becomes the model entry ``airoboros`` that the instruct roles use, ``max_tokens`` the token
budget ``llm.max_tokens_total``, every other known key the ``instruct`` key of the same name. What evoforge cannot
honour (a key it does not know, an instructor it has not built, an airoboros prompt file, a key written in the file)
is never dropped silently: it is named in ``instruct.unsupported`` (with its line in the file), which the instruct
commands print as warnings. :func:`airoboros_key` maps an evoforge field back to the airoboros key it came from, so
that a validation error points at that key's line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from evoforge.config.instruct import INSTRUCTOR_OPTIONS

MODEL = "airoboros"
ROLES = ("topic_writer", "instructor", "responder", "judge")
# airoboros keys copied into the instruct section as they are
SAME_KEYS = (
    "output_path",
    "topics_path",
    "overwrite",
    "append",
    "embedding_model",
    "embedding_device",
    "topic_avoidance",
    "response_filters",
    "min_docsearch_score",
    "api_params",
    "topic_prompt",
    "topic_request_count",
    "default_count",
    "default_batch_size",
    "default_flesch",
    "language",
)
MARKERS = frozenset({"model", "instructors", "topic_prompt", "topics_path", "output_path", "default_count"})
INSTRUCTOR_KEYS = ("count", "batch_size", "api_params", "topics_path", "min_docsearch_score", "language", "flesch")
ALIASES = {"experiences": "experience", "riddles": "riddle", "wordgames": "wordgame"}  # older airoboros names
_PROMPT_FILES = ("prompt_path", "response_prompt_path")
Lines = Mapping[tuple[str, ...], int]


def _note(unsupported: list[str], lines: Lines, path: tuple[str, ...], message: str) -> None:
    """Name the key ``path`` of the file (and its line) with what becomes of it."""
    line = lines.get(path)
    unsupported.append(f"{'.'.join(path)}{f' (line {line})' if line else ''}: {message}")


def is_airoboros(data: dict[str, Any], sections: Iterable[str]) -> bool:
    """Whether a loaded YAML mapping is an airoboros config: no evoforge section, and airoboros' own keys."""
    return bool(data) and not set(data) & set(sections) and bool(set(data) & MARKERS)


def _instructor(
    name: str, raw: Any, models: dict[str, Any], unsupported: list[str], key: str, lines: Lines
) -> dict[str, Any]:
    """One instructor's settings (``key``: its name in the file); its own ``model`` gets a model entry and role."""
    out: dict[str, Any] = {}
    if not isinstance(raw, dict):
        return out
    own = INSTRUCTOR_OPTIONS[name]
    for option, value in raw.items():
        if value is None or value == {}:
            continue  # airoboros writes empty keys for "use the default"
        path = ("instructors", key, str(option))
        if option in INSTRUCTOR_KEYS or option in own:
            out[option] = value
        elif option == "model":
            models[f"{MODEL}_{name}"] = {"model": str(value)}
            out["role"] = f"instructor_{name}"
        elif option in _PROMPT_FILES:
            _note(unsupported, lines, path, "evoforge writes with its own prompt (prompts/en/instruct/)")
        else:
            _note(unsupported, lines, path, f"not an option of evoforge's {name} instructor (ignored)")
    return out


def from_airoboros(data: dict[str, Any], lines: Lines | None = None) -> dict[str, Any]:
    """An evoforge configuration (plain data, to be validated) from an airoboros config's mapping (``lines``: the
    1-based line of each key path of the file, named in the warnings)."""
    lines = lines or {}
    unsupported: list[str] = []
    entry: dict[str, Any] = {"model": str(data.get("model") or "gpt-4")}
    if data.get("api_base"):
        entry["api_base"] = str(data["api_base"])
    if data.get("organization_id"):
        entry["params"] = {"organization": str(data["organization_id"])}
    models: dict[str, Any] = {MODEL: entry}
    instruct: dict[str, Any] = {"role": "instructor", "response_role": "responder", "topic_role": "topic_writer"}
    llm: dict[str, Any] = {"models": models}
    for key, value in data.items():
        if key in SAME_KEYS:
            if value is not None:
                instruct[key] = value
        elif key == "max_tokens":
            if value is not None:
                llm["max_tokens_total"] = value
        elif key == "openai_api_key":
            if value:
                _note(unsupported, lines, (key,), "keys come only from the environment; set OPENAI_API_KEY")
        elif key not in ("model", "api_base", "organization_id", "instructors"):
            _note(unsupported, lines, (str(key),), "not an airoboros key evoforge knows (ignored)")
    instructors: dict[str, Any] = {}
    for raw_name, raw in (data.get("instructors") or {}).items():
        name = ALIASES.get(str(raw_name), str(raw_name))
        if name not in INSTRUCTOR_OPTIONS:
            _note(unsupported, lines, ("instructors", str(raw_name)), "evoforge has no such instructor (skipped)")
            continue
        instructors[name] = _instructor(name, raw, models, unsupported, str(raw_name), lines)
    instruct["instructors"] = instructors
    instruct["unsupported"] = unsupported
    roles = {role: {"model": MODEL} for role in ROLES}
    roles |= {f"instructor_{name}": {"model": f"{MODEL}_{name}"} for name in instructors if f"{MODEL}_{name}" in models}
    llm["roles"] = roles
    return {"llm": llm, "instruct": instruct}


def airoboros_key(loc: tuple[str, ...], data: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The key path of the airoboros file ``data`` that the evoforge field ``loc`` was mapped from (None when no key
    of the file made it)."""

    def instructor_key(name: str) -> str:
        written = [str(k) for k in data.get("instructors") or {}]
        return next((k for k in written if ALIASES.get(k, k) == name), name)

    match loc:
        case ("instruct", "instructors", name, "role", *_):
            return ("instructors", instructor_key(name), "model")
        case ("instruct", "instructors", name, *rest):
            return ("instructors", instructor_key(name), *rest)
        case ("instruct", key, *rest) if key in SAME_KEYS:
            return (key, *rest)
        case ("llm", "max_tokens_total", *_):
            return ("max_tokens",)
        case ("llm", "models", name, *rest) if name.startswith(f"{MODEL}_"):
            return ("instructors", instructor_key(name.removeprefix(f"{MODEL}_")), "model")
        case ("llm", "models", _, "api_base", *_):
            return ("api_base",)
        case ("llm", "models", _, "params", *_):
            return ("organization_id",)
        case ("llm", "models", *_):
            return ("model",)
    return None
