"""The model's identity: the first line of ``model_identity.txt`` as a system prompt in every conversation.

As in the data-efficient-training seed, the file's first line is the identity, with ``\\n`` written as the two
characters backslash and n (so a multi-line identity fits on one line); the rest of the file is ignored. The
identity becomes the conversation's first system message; a conversation that has its own system message keeps
it after the identity, in the same message. ``evoforge chat`` and ``serve lmoe`` read ``./model_identity.txt`` of
the working directory by default, as the seed does (:func:`pick_identity`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from evoforge.errors import ConfigError

IDENTITY_FILE = "model_identity.txt"


def read_identity(path: Path) -> str:
    """The identity in ``path``'s first line, ``\\n`` escapes turned into newlines ('' for an empty file)."""
    try:
        first = path.read_text(encoding="utf-8").splitlines()[:1]
    except OSError as error:
        raise ConfigError(f"cannot read the identity file {path}: {error.strerror}") from None
    return first[0].strip().replace("\\n", "\n") if first else ""


def pick_identity(path: Path | None, enabled: bool = True) -> tuple[str, str]:
    """The identity in use and where it comes from: ``path`` when given, else ``./model_identity.txt`` when it
    exists; none when ``enabled`` is False (``--no-identity``).

    Raises:
        ConfigError: both ``path`` and ``enabled=False``, or ``path`` cannot be read.
    """
    if not enabled:
        if path is not None:
            raise ConfigError("give --identity FILE or --no-identity, not both")
        return "", "none (--no-identity)"
    chosen = path if path is not None else Path(IDENTITY_FILE)
    if path is None and not chosen.is_file():
        return "", f"none (no ./{IDENTITY_FILE})"
    text = read_identity(chosen)
    first = text.splitlines()[0] if text else ""
    shown = first[:60] + ("…" if len(first) > 60 or "\n" in text else "")
    return text, f"{chosen} ({shown!r})" if text else f"{chosen} (empty: none)"


def with_identity(messages: Sequence[Mapping[str, str]], identity: str) -> list[dict[str, str]]:
    """``messages`` with ``identity`` as (the start of) the system message; unchanged when ``identity`` is ''."""
    out = [dict(m) for m in messages]
    if not identity:
        return out
    if out and out[0].get("role") == "system":
        out[0]["content"] = f"{identity}\n\n{out[0].get('content', '')}"
        return out
    return [{"role": "system", "content": identity}, *out]
