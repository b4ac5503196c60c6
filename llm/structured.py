"""Structured output: native JSON-schema responses where the provider has them, a prompted fallback elsewhere.

Native path (OpenAI-style models): ``response_format`` is the schema (``{"type": "json_schema", ...}``).
Fallback path (DeepSeek, vLLM, Ollama, any ``api_base`` server, the simulated LLM): ``response_format`` is
``{"type": "json_object"}`` and the schema is appended to the system prompt, after :data:`SCHEMA_MARKER`:

    <system prompt>

    Reply with only a JSON object (no prose, no code fences) that conforms to this JSON schema:
    {"properties": ..., "required": [...], "title": "...", "type": "object"}

Either way the answer is validated with pydantic; the gateway asks once for a repair with the validation error.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from evoforge.llm.backend import SIM_PROVIDER, litellm_module
from evoforge.settings import ModelEntry

T = TypeVar("T", bound=BaseModel)

SCHEMA_MARKER = "Reply with only a JSON object (no prose, no code fences) that conforms to this JSON schema:"
# providers that reject or ignore json_schema even when the price map says otherwise (DeepSeek returns a 400)
_FALLBACK_PROVIDERS = {"deepseek", "hosted_vllm", "vllm", "ollama", "ollama_chat", SIM_PROVIDER}
_FENCE = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)


def supports_native_schema(entry: ModelEntry) -> bool:
    """Whether to ask ``entry`` for native json_schema output (``entry.json_schema`` overrides the decision)."""
    if entry.json_schema is not None:
        return entry.json_schema
    if entry.api_base is not None or entry.model.startswith(f"{SIM_PROVIDER}/"):
        return False
    litellm = litellm_module()
    try:
        provider = litellm.get_llm_provider(entry.model)[1]
    except Exception:  # an unknown provider: LiteLLM will say so when called
        return False
    return provider not in _FALLBACK_PROVIDERS and bool(litellm.supports_response_schema(model=entry.model))


def schema_request(
    entry: ModelEntry, messages: list[dict[str, str]], schema: type[BaseModel]
) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """The messages and ``response_format`` to send to ``entry`` for an answer in ``schema``."""
    if supports_native_schema(entry):
        fmt: dict[str, Any] = litellm_module().utils.type_to_response_format_param(schema)
        return messages, fmt
    instruction = f"{SCHEMA_MARKER}\n{json.dumps(schema.model_json_schema(), ensure_ascii=False)}"
    if messages and messages[0].get("role") == "system":
        first = {**messages[0], "content": f"{messages[0]['content']}\n\n{instruction}"}
        return [first, *messages[1:]], {"type": "json_object"}
    return [{"role": "system", "content": instruction}, *messages], {"type": "json_object"}


def parse_output(text: str, schema: type[T]) -> T:
    """Validate a model's answer against ``schema``, tolerating code fences and prose around one JSON object.

    Raises:
        ValidationError: the answer is not JSON or does not match the schema.
    """
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    elif not body.startswith("{") and "{" in body and "}" in body:
        body = body[body.index("{") : body.rindex("}") + 1]
    return schema.model_validate_json(body)


def validation_problems(error: ValidationError) -> str:
    """A one-line summary of a validation error: ``field.path: message; ...``."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in error.errors())


def repair_messages(messages: list[dict[str, str]], answer: str, error: ValidationError) -> list[dict[str, str]]:
    """``messages`` plus the invalid answer and a request to fix it, quoting the validation errors."""
    problems = validation_problems(error)
    return [
        *messages,
        {"role": "assistant", "content": answer},
        {
            "role": "user",
            "content": f"Your reply is not valid: {problems}. Reply again with only the corrected JSON object.",
        },
    ]
