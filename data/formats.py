"""Dataset formats people have, normalised to one record shape: :class:`~evoforge.data.records.Example`.

As rows (what :meth:`Example.to_row <evoforge.data.records.Example.to_row>` and :func:`load_records` give):

- SFT: ``{"prompt": str, "completion": str}``
- preference: ``{"prompt": str, "chosen": str, "rejected": str}``

each optionally with ``"system": str`` and ``"history": [{"role", "content"}, ...]`` (earlier turns), plus every
scalar metadata field of the row (``category``, ``level``, ``id`` ...) and ``"source_file"`` (the file's stem or
catalogue name, for chunking by file).

Formats: ``alpaca`` (instruction, input, output|response [, history, system]), ``sharegpt`` (conversations of
{from, value}), ``messages`` (chat {role, content}), ``prompt_completion`` (prompt, completion|reference),
``preference`` (prompt|instruction|conversation, chosen, rejected), ``self_instruct`` (instruction,
instances: [{input, output}]). A LLaMA-Factory ``dataset_info.json`` is accepted as a catalogue of files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from evoforge.data.io import Located, read_located
from evoforge.data.records import Example
from evoforge.errors import DataError

FORMATS = ("alpaca", "sharegpt", "messages", "prompt_completion", "preference", "self_instruct")
ROLE_ALIASES = {
    "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "bot": "assistant",
    "model": "assistant", "chatgpt": "assistant", "system": "system",
}  # fmt: skip
_CONTENT_KEYS = {
    "instruction", "input", "output", "response", "history", "system", "conversations", "messages", "prompt",
    "completion", "reference", "chosen", "rejected", "instances", "source_file",
}  # fmt: skip


def detect_format(row: dict[str, Any]) -> str | None:
    """The format of one raw row, judged by its keys (None when it fits none)."""
    if "chosen" in row and "rejected" in row:
        return "preference"
    if "conversations" in row:
        return "sharegpt"
    if "messages" in row:
        return "messages"
    if "prompt" in row and ("completion" in row or "reference" in row):
        return "prompt_completion"
    if "instruction" in row and "instances" in row:
        return "self_instruct"
    if "instruction" in row and ("output" in row or "response" in row):
        return "alpaca"
    return None


def _text(value: Any, where: str, field: str) -> str:
    if not isinstance(value, str):
        raise DataError(f"{where}: field '{field}' must be text, got {type(value).__name__}")
    return value


def _required(row: dict[str, Any], field: str, where: str, fmt: str) -> str:
    if field not in row or row[field] is None:
        raise DataError(f"{where}: {fmt} record lacks the field '{field}' (keys: {', '.join(sorted(row))})")
    text = _text(row[field], where, field)
    if not text.strip():
        raise DataError(f"{where}: {fmt} record has an empty '{field}'")
    return text


def _turns(messages: Any, where: str, tags: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Chat turns in ``{role, content}`` form from sharegpt/messages lists (roles mapped to user/assistant/system)."""
    tags = tags or {}
    role_key, content_key = tags.get("role_tag"), tags.get("content_tag")
    extra_roles = {
        tags.get("user_tag"): "user",
        tags.get("assistant_tag"): "assistant",
        tags.get("system_tag"): "system",
    }
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{where}: the conversation must be a non-empty list of turns")
    out = []
    for i, turn in enumerate(messages):
        if not isinstance(turn, dict):
            raise DataError(f"{where}: turn {i} must be an object with role/content (or from/value)")
        role = turn.get(role_key) if role_key else turn.get("role", turn.get("from"))
        content = turn.get(content_key) if content_key else turn.get("content", turn.get("value"))
        mapped = extra_roles.get(role) or ROLE_ALIASES.get(str(role).lower())
        if mapped is None:
            raise DataError(f"{where}: turn {i} has unknown role {role!r} (expected user/assistant/system)")
        out.append({"role": mapped, "content": _text(content, where, f"turn {i} content")})
    return out


def _split_prompt(turns: list[dict[str, str]], where: str) -> dict[str, Any]:
    """Prompt turns (ending on a user turn) → ``prompt`` plus optional ``system`` and ``history``."""
    record: dict[str, Any] = {}
    if turns and turns[0]["role"] == "system":
        record["system"] = turns[0]["content"]
        turns = turns[1:]
    if not turns or turns[-1]["role"] != "user":
        raise DataError(f"{where}: the conversation must end its prompt on a user turn")
    record["prompt"] = turns[-1]["content"]
    if len(turns) > 1:
        record["history"] = turns[:-1]
    return record


def _chat(row: dict[str, Any], where: str, key: str, tags: dict[str, str] | None = None) -> dict[str, Any]:
    turns = _turns(row[key], where, tags)
    if turns[-1]["role"] != "assistant":
        raise DataError(f"{where}: the conversation must end on an assistant turn (the completion)")
    record = _split_prompt(turns[:-1], where)
    record["completion"] = turns[-1]["content"]
    if not record["completion"].strip():
        raise DataError(f"{where}: the final assistant turn is empty")
    return record


def _alpaca_prompt(row: dict[str, Any], where: str, fmt: str) -> dict[str, Any]:
    prompt = _required(row, "instruction", where, fmt)
    extra = row.get("input")
    if extra:
        prompt = f"{prompt}\n\n{_text(extra, where, 'input')}"
    record: dict[str, Any] = {"prompt": prompt}
    if row.get("system"):
        record["system"] = _text(row["system"], where, "system")
    if row.get("history"):
        history = []
        for pair in row["history"]:
            if not (isinstance(pair, list | tuple) and len(pair) == 2):
                raise DataError(f"{where}: 'history' must be a list of [question, answer] pairs")
            history += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
        record["history"] = history
    return record


def _alpaca(row: dict[str, Any], where: str, tags: dict[str, str] | None = None) -> dict[str, Any]:
    record = _alpaca_prompt(row, where, "alpaca")
    record["completion"] = _required(row, "output" if "output" in row else "response", where, "alpaca")
    return record


def _answer(value: Any, where: str, field: str, tags: dict[str, str] | None) -> str:
    """A preference answer: text, a {role, content} turn, or a list of turns ending on the assistant."""
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, list):
        value = _turns(value, where, tags)[-1]["content"]
    text = _text(value, where, field)
    if not text.strip():
        raise DataError(f"{where}: preference record has an empty '{field}'")
    return text


def _preference(row: dict[str, Any], where: str, tags: dict[str, str] | None = None) -> dict[str, Any]:
    for field in ("chosen", "rejected"):
        if row.get(field) is None:
            raise DataError(f"{where}: preference record lacks '{field}' (needs prompt, chosen and rejected)")
    if "conversations" in row or "messages" in row:
        record = _split_prompt(_turns(row.get("conversations", row.get("messages")), where, tags), where)
    elif "instruction" in row:
        record = _alpaca_prompt(row, where, "preference")
    elif isinstance(row.get("prompt"), list):
        record = _split_prompt(_turns(row["prompt"], where, tags), where)
    else:
        record = {"prompt": _required(row, "prompt", where, "preference")}
    record["chosen"] = _answer(row["chosen"], where, "chosen", tags)
    record["rejected"] = _answer(row["rejected"], where, "rejected", tags)
    return record


def _prompt_completion(row: dict[str, Any], where: str, tags: dict[str, str] | None = None) -> dict[str, Any]:
    prompt = row.get("prompt")
    record = (
        _split_prompt(_turns(prompt, where), where)
        if isinstance(prompt, list)
        else {"prompt": _required(row, "prompt", where, "prompt_completion")}
    )
    field = "completion" if "completion" in row else "reference"
    record["completion"] = _answer(row.get(field), where, field, tags) if row.get(field) is not None else ""
    if not record["completion"]:
        raise DataError(f"{where}: prompt_completion record lacks '{field}'")
    return record


_NORMALISERS: dict[str, Callable[..., dict[str, Any]]] = {
    "alpaca": _alpaca,
    "sharegpt": lambda row, where, tags=None: _chat(row, where, "conversations", tags),
    "messages": lambda row, where, tags=None: _chat(row, where, "messages", tags),
    "prompt_completion": _prompt_completion,
    "preference": _preference,
}


def normalise_row(
    row: dict[str, Any],
    where: str,
    fmt: str | None = None,
    tags: dict[str, str] | None = None,
    source: str | None = None,
) -> list[Example]:
    """Normalise one raw row (``self_instruct`` rows give one example per instance); DataError names ``where``.

    ``source`` becomes the examples' ``source_file`` (the file or catalogue entry they came from).
    """
    records = _normalise_fields(row, where, fmt, tags)
    if source is not None:
        for record in records:
            record["source_file"] = source
    return [Example.from_row(record, where) for record in records]


def _normalise_fields(
    row: dict[str, Any], where: str, fmt: str | None, tags: dict[str, str] | None
) -> list[dict[str, Any]]:
    """The normalised row(s) of one raw row: its scalar metadata, then the fields of its format."""
    fmt = fmt or detect_format(row)
    if fmt is None:
        raise DataError(
            f"{where}: the record fits no known format (keys: {', '.join(sorted(row)) or 'none'}); expected "
            "alpaca (instruction, output), sharegpt (conversations), messages, prompt/completion, "
            "or prompt/chosen/rejected"
        )
    if fmt not in FORMATS:
        raise DataError(f"unknown data format '{fmt}' (expected one of {', '.join(FORMATS)})")
    meta = {k: v for k, v in row.items() if k not in _CONTENT_KEYS and isinstance(v, str | int | float | bool)}
    if fmt == "self_instruct":
        instruction = _required(row, "instruction", where, fmt)
        instances = row.get("instances") or []
        rows = [{"instruction": instruction, **inst} for inst in instances if isinstance(inst, dict)]
        if not rows:
            raise DataError(f"{where}: self_instruct record has no instances")
        return [{**meta, **_alpaca(r, f"{where} instance {i}")} for i, r in enumerate(rows)]
    return [{**meta, **_NORMALISERS[fmt](row, where, tags)}]


def normalise(located: list[Located], fmt: str | None = None, source: str | None = None) -> list[Example]:
    """Normalise located rows; the format is detected per row unless given."""
    return [example for where, row in located for example in normalise_row(row, where, fmt, source=source)]


_LF_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output", "messages": "conversations"}


def _read_catalogue(path: Path, fmt: str | None) -> list[Example]:
    """LLaMA-Factory ``dataset_info.json``: every local ``file_name`` entry, columns and tags applied."""
    try:
        catalogue = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(catalogue, dict):
        raise DataError(f"{path}: a dataset_info.json catalogue must be an object of datasets")
    examples = []
    for name, entry in catalogue.items():
        if not isinstance(entry, dict) or "file_name" not in entry:
            raise DataError(f"{path}: dataset '{name}' has no local 'file_name' (hub datasets are not fetched)")
        formatting = entry.get("formatting", "alpaca")
        columns = {_LF_COLUMNS.get(k, k): v for k, v in (entry.get("columns") or {}).items()}
        tags = entry.get("tags")
        entry_fmt = fmt or ("preference" if entry.get("ranking") else formatting)
        for where, row in read_located(path.parent / entry["file_name"]):
            renamed = {canon: row[col] for canon, col in columns.items() if col in row}
            renamed.update({k: v for k, v in row.items() if k not in columns.values()})
            examples += normalise_row(renamed, where, entry_fmt, tags, source=name)
    return examples


def load_examples(path: str | Path, fmt: str | None = None) -> list[Example]:
    """Read and normalise a data file, a saved HF dataset, or a LLaMA-Factory ``dataset_info.json`` catalogue."""
    path = Path(path)
    if path.is_dir() and (path / "dataset_info.json").is_file() and not (path / "state.json").is_file():
        path = path / "dataset_info.json"
    if path.name == "dataset_info.json" and path.is_file():
        return _read_catalogue(path, fmt)
    return normalise(read_located(path), fmt, source=path.stem)


def load_records(path: str | Path, fmt: str | None = None) -> list[dict[str, Any]]:
    """:func:`load_examples` as normalised rows (plain dicts, as the chunk files hold them)."""
    return [example.to_row() for example in load_examples(path, fmt)]


def is_preference(record: Mapping[str, Any]) -> bool:
    """Whether a normalised row (e.g. read back from a chunk file) is a preference pair; see Example.is_preference."""
    return "chosen" in record and "rejected" in record
