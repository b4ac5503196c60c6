"""Reading a configuration file written for airoboros itself (``airoboros generate-instructions --config-path``).

:func:`from_airoboros` maps airoboros' flat YAML keys onto evoforge's sections: ``model`` (and ``api_base``,
``organization_id``) becomes the model entry ``airoboros`` that the instruct roles use, ``max_tokens`` the token
budget ``llm.max_tokens_total``, every other known key the ``instruct`` key of the same name. What evoforge cannot
honour (a key it does not know, one of :data:`NOT_APPLICABLE`, an instructor it has not built, a key written in the
file) is never dropped silently: it is named in ``instruct.unsupported`` (with its line in the file), which the
instruct commands print as warnings. VertexAI's keys make the entry a LiteLLM ``vertex_ai/`` model.
:func:`airoboros_key` maps an evoforge field back to the airoboros key it came from, so that a validation error
points at that key's line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from evoforge.settings.instruct import INSTRUCTOR_OPTIONS

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
INSTRUCTOR_KEYS = (
    "count",
    "batch_size",
    "api_params",
    "topics_path",
    "min_docsearch_score",
    "language",
    "flesch",
    "prompt_path",
    "response_prompt_path",
    "topic_avoidance",
)
# older airoboros names
ALIASES = {
    "experiences": "experience",
    "riddles": "riddle",
    "wordgames": "wordgame",
    "chat": "rp",
    "chat_card": "character",
}
# what of an airoboros config evoforge does not apply, and why (warned about, never silently dropped)
NOT_APPLICABLE = {
    "openai_api_key": "API keys come only from the environment; set OPENAI_API_KEY",
    "scoring": "read only by airoboros' cull-instructions; evoforge instruct cull grades with its own judge prompt",
    "judge": "read only by airoboros' cull-instructions; evoforge instruct cull grades every group at once",
    "cull_max_k": "read only by airoboros' cull-instructions; evoforge instruct cull groups all near duplicates",
    "instructors.inline_qa": "airoboros' shared generator function of its inline Q&A instructors, not a category "
    "(skipped)",
    "instructors.simple_task": "airoboros' shared generator function of its simple instructors, not a category "
    "(skipped)",
}
VERTEX = {"vertexai_credentials_path": "vertex_credentials", "vertexai_project_id": "vertex_project"}
VERTEX_KEYS = (*VERTEX, "vertexai_region", "vertexai_publisher")
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
        else:
            _note(unsupported, lines, path, f"not an option of evoforge's {name} instructor (ignored)")
    return out


def _entry(data: dict[str, Any]) -> dict[str, Any]:
    """The model entry of the file's ``model`` (a VertexAI model when the file names VertexAI credentials)."""
    model = str(data.get("model") or "gpt-4")
    params: dict[str, Any] = {}
    if data.get("organization_id"):
        params["organization"] = str(data["organization_id"])
    if data.get("vertexai_credentials_path"):
        model = model if model.startswith("vertex_ai/") else f"vertex_ai/{model}"
        params |= {param: str(data[key]) for key, param in VERTEX.items() if data.get(key)}
        params["vertex_location"] = str(data.get("vertexai_region") or "us-central1")
    entry: dict[str, Any] = {"model": model}
    if data.get("api_base"):
        entry["api_base"] = str(data["api_base"])
    return entry | ({"params": params} if params else {})


def from_airoboros(data: dict[str, Any], lines: Lines | None = None) -> dict[str, Any]:
    """An evoforge configuration (plain data, to be validated) from an airoboros config's mapping (``lines``: the
    1-based line of each key path of the file, named in the warnings)."""
    lines = lines or {}
    unsupported: list[str] = []
    models: dict[str, Any] = {MODEL: _entry(data)}
    instruct: dict[str, Any] = {"role": "instructor", "response_role": "responder", "topic_role": "topic_writer"}
    llm: dict[str, Any] = {"models": models}
    for key, value in data.items():
        if key in SAME_KEYS:
            if value is not None:
                instruct[key] = value
        elif key == "max_tokens":
            if value is not None:
                llm["max_tokens_total"] = value
        elif key in NOT_APPLICABLE:
            if value:
                _note(unsupported, lines, (key,), f"not applicable: {NOT_APPLICABLE[key]}")
        elif key not in ("model", "api_base", "organization_id", "instructors", *VERTEX_KEYS):
            _note(unsupported, lines, (str(key),), "not an airoboros key evoforge knows (ignored)")
    instructors: dict[str, Any] = {}
    for raw_name, raw in (data.get("instructors") or {}).items():
        name = ALIASES.get(str(raw_name), str(raw_name))
        if f"instructors.{name}" in NOT_APPLICABLE:
            reason = NOT_APPLICABLE[f"instructors.{name}"]
            _note(unsupported, lines, ("instructors", str(raw_name)), f"not applicable: {reason}")
            continue
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
        case ("llm", "models", _, "params", param, *_) if param in VERTEX.values():
            return (next(key for key, value in VERTEX.items() if value == param),)
        case ("llm", "models", _, "params", *_):
            return ("organization_id",)
        case ("llm", "models", *_):
            return ("model",)
    return None
