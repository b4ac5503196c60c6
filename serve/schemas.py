"""The request bodies of the OpenAI-compatible API, the server's limits, and errors in OpenAI's shape.

Fields evoforge does not use (``user``, ``logit_bias``, …) are accepted and ignored, as vLLM does; values out of
range are 400s that name the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evoforge.serve.decoding import Sampling


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the server.

    Attributes:
        max_body_bytes: larger request bodies are refused with 413.
        max_tokens: a request asking for more tokens per completion is refused with 400.
        default_max_tokens: the completion length when a request names none.
        max_n: completions per prompt at most.
        max_prompts: prompts in one ``/v1/completions`` request at most.
    """

    max_body_bytes: int = 1_000_000
    max_tokens: int = 512
    default_max_tokens: int = 128
    max_n: int = 8
    max_prompts: int = 32


class ApiError(Exception):
    """An HTTP error answered as OpenAI does: ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.code = status, message, kind, code

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        return {"error": {"message": self.message, "type": self.kind, "param": None, "code": self.code}}


class Message(BaseModel):
    """One chat turn; content may be a string or OpenAI's list of text parts."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[dict[str, Any]] = ""

    @field_validator("content")
    @classmethod
    def _text_parts(cls, value: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
        if isinstance(value, list) and any(part.get("type") != "text" for part in value):
            raise ValueError("only text content parts are supported")
        return value

    def text(self) -> dict[str, str]:
        """The turn as ``{role, content}`` with the text parts joined (``developer`` read as ``system``)."""
        content = (
            self.content if isinstance(self.content, str) else "".join(str(p.get("text", "")) for p in self.content)
        )
        return {"role": "system" if self.role == "developer" else self.role, "content": content}


class StreamOptions(BaseModel):
    """``stream_options``: whether the last event carries the usage counts."""

    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class _Generation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    n: int = Field(1, ge=1)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    seed: int | None = None
    expert: str | None = None  # airoboros' field: the expert that answers, whatever the model routes to

    def sampling(self, limits: Limits, requested: int | None = None) -> Sampling:
        """The per-completion :class:`Sampling`, checked against ``limits`` (ApiError 400 past them)."""
        wanted = requested or self.max_tokens or min(limits.default_max_tokens, limits.max_tokens)
        if wanted > limits.max_tokens:
            raise ApiError(
                400, f"max_tokens is {wanted}; this server allows at most {limits.max_tokens}", code="max_tokens"
            )
        if self.n > limits.max_n:
            raise ApiError(400, f"n is {self.n}; this server allows at most {limits.max_n}", code="n")
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        if len(stops) > 4 or any(not s for s in stops):
            raise ApiError(400, "stop takes up to 4 non-empty strings", code="stop")
        return Sampling(wanted, self.temperature, self.top_p, tuple(stops), self.seed)


class ChatRequest(_Generation):
    """``POST /v1/chat/completions``."""

    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)


class CompletionRequest(_Generation):
    """``POST /v1/completions``."""

    prompt: str | list[str]

    def prompts(self, limits: Limits) -> list[str]:
        """The prompt(s) as a list (ApiError 400 when empty or too many)."""
        prompts = [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)
        if not prompts or len(prompts) > limits.max_prompts:
            raise ApiError(400, f"prompt takes 1 to {limits.max_prompts} strings", code="prompt")
        return prompts


def parse(model: type[ChatRequest] | type[CompletionRequest], data: Any) -> Any:
    """``data`` validated as ``model``; invalid fields become one 400 that names each of them."""
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors(include_url=False)
        )
        raise ApiError(400, f"invalid request: {problems}") from None
