"""Which provider errors are worth retrying, and how to describe an error without leaking a secret."""

from __future__ import annotations

import asyncio
import re

from evoforge.settings import redact

# status codes that signal a transient condition: request timeout, rate limit (5xx handled below)
_TRANSIENT_STATUS = {408, 429}
# things that look like API keys even when they are not in the environment (partly masked echoes, bearer tokens)
_KEY_LIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-*.]{4,}|Bearer\s+[A-Za-z0-9_\-*.]{8,})")


def status_of(exc: BaseException) -> int | None:
    """The HTTP status code an exception carries, if any."""
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def is_transient(exc: BaseException) -> bool:
    """True for timeouts, 429 and 5xx (retried with backoff); False for other 4xx and unknown errors."""
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return True
    status = status_of(exc)
    if status is None:
        return type(exc).__name__ in {"Timeout", "APITimeoutError", "APIConnectionError"}
    return status in _TRANSIENT_STATUS or status >= 500


def retry_after(exc: BaseException, cap: float = 60.0) -> float | None:
    """Seconds the provider asked us to wait (a numeric ``Retry-After`` header), at most ``cap``; else None."""
    candidates = (
        getattr(exc, "litellm_response_headers", None),  # where LiteLLM keeps the provider's headers
        getattr(getattr(exc, "response", None), "headers", None),
        getattr(exc, "headers", None),
    )
    for headers in candidates:
        value = headers.get("retry-after") if headers else None
        if value is None:
            continue
        try:
            return min(max(float(value), 0.0), cap)
        except (TypeError, ValueError):  # an HTTP date: our own backoff applies
            return None
    return None


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` with every environment secret, the given ``secrets`` and key-like tokens replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _KEY_LIKE.sub("***", redact(text))


def describe(exc: BaseException, *secrets: str | None, limit: int = 500) -> str:
    """A one-line, secret-free description of an error: its type, status and (shortened) message."""
    status = status_of(exc)
    head = type(exc).__name__ + (f" ({status})" if status is not None else "")
    message = " ".join(str(exc).split())
    if len(message) > limit:
        message = message[:limit] + "..."
    return scrub(f"{head}: {message}" if message else head, *secrets)
