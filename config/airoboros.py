"""Reading a configuration file written for airoboros itself (``airoboros generate-instructions --config-path``).

:func:`from_airoboros` maps airoboros' flat YAML keys onto evoforge's sections: ``model`` (and ``api_base``,
``organization_id``) becomes the model entry ``airoboros`` that the instruct roles use, ``max_tokens`` the token
budget ``llm.max_tokens_total``, every other known key the ``instruct`` key of the same name. What evoforge cannot
honour (a key it does not know, an instructor it has not built, an airoboros prompt file, a key written in the file)
is never dropped silently: it is named in ``instruct.unsupported``, which the instruct commands print as warnings.
"""

from __future__ import annotations

from collections.abc import Iterable
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


def is_airoboros(data: dict[str, Any], sections: Iterable[str]) -> bool:
    """Whether a loaded YAML mapping is an airoboros config: no evoforge section, and airoboros' own keys."""
    return bool(data) and not set(data) & set(sections) and bool(set(data) & MARKERS)


def _instructor(name: str, raw: Any, models: dict[str, Any], unsupported: list[str], key: str) -> dict[str, Any]:
    """One instructor's settings (``key``: its name in the file); its own ``model`` gets a model entry and role."""
    out: dict[str, Any] = {}
    if not isinstance(raw, dict):
        return out
    own = INSTRUCTOR_OPTIONS[name]
    for option, value in raw.items():
        if value is None or value == {}:
            continue  # airoboros writes empty keys for "use the default"
        if option in INSTRUCTOR_KEYS or option in own:
            out[option] = value
        elif option == "model":
            models[f"{MODEL}_{name}"] = {"model": str(value)}
            out["role"] = f"instructor_{name}"
        elif option in _PROMPT_FILES:
            unsupported.append(
                f"instructors.{key}.{option}: evoforge writes with its own prompt (prompts/en/instruct/)"
            )
        else:
            unsupported.append(f"instructors.{key}.{option}: not an option of evoforge's {name} instructor (ignored)")
    return out


def from_airoboros(data: dict[str, Any]) -> dict[str, Any]:
    """An evoforge configuration (plain data, to be validated) from an airoboros config's mapping."""
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
                unsupported.append("openai_api_key: keys come only from the environment; set OPENAI_API_KEY")
        elif key not in ("model", "api_base", "organization_id", "instructors"):
            unsupported.append(f"{key}: not an airoboros key evoforge knows (ignored)")
    instructors: dict[str, Any] = {}
    for raw_name, raw in (data.get("instructors") or {}).items():
        name = ALIASES.get(str(raw_name), str(raw_name))
        if name not in INSTRUCTOR_OPTIONS:
            unsupported.append(f"instructors.{raw_name}: evoforge has no such instructor (skipped)")
            continue
        instructors[name] = _instructor(name, raw, models, unsupported, str(raw_name))
    instruct["instructors"] = instructors
    instruct["unsupported"] = unsupported
    roles = {role: {"model": MODEL} for role in ROLES}
    roles |= {f"instructor_{name}": {"model": f"{MODEL}_{name}"} for name in instructors if f"{MODEL}_{name}" in models}
    llm["roles"] = roles
    return {"llm": llm, "instruct": instruct}
