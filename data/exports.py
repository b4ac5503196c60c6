"""Exports of instruction records (``instruction, response[, system], category``): alpaca, ShareGPT, HF datasets.

ShareGPT is the conversation format airoboros users asked for: ``{"conversations": [{"from": "system"|"human"|"gpt",
"value": ...}], "category": ...}``; alpaca is ``{"instruction", "input": "", "output", "category"}`` (plus
``system`` when the record has one). A conversation record (``rp``, ``gtkm``: ``messages`` beside airoboros' flat
``instruction``) exports its turns to ShareGPT and its flat text to alpaca.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

_SHAREGPT = {"system": "system", "user": "human", "assistant": "gpt"}


def to_alpaca(record: dict[str, Any]) -> dict[str, Any]:
    """One record in the alpaca layout."""
    row = {"instruction": record["instruction"], "input": "", "output": record["response"]}
    if record.get("system"):
        row["system"] = record["system"]
    return {**row, "category": record.get("category")}


def to_sharegpt(record: dict[str, Any]) -> dict[str, Any]:
    """One record as a ShareGPT conversation (a conversation record's own turns, ``messages``, when it has them)."""
    if record.get("messages"):
        turns = [{"from": _SHAREGPT[m["role"]], "value": m["content"]} for m in record["messages"]]
        return {"conversations": turns, "category": record.get("category")}
    turns = [{"from": "system", "value": record["system"]}] if record.get("system") else []
    turns += [{"from": "human", "value": record["instruction"]}, {"from": "gpt", "value": record["response"]}]
    return {"conversations": turns, "category": record.get("category")}


def save_hf_dataset(records: Iterable[dict[str, Any]], path: Path) -> None:
    """Save the records as a Hugging Face dataset folder (``datasets.load_from_disk`` reads it)."""
    import datasets

    datasets.disable_progress_bars()
    rows = [
        {
            "instruction": r["instruction"],
            "response": r["response"],
            "category": r.get("category"),
            "system": r.get("system") or "",
        }
        for r in records
    ]
    datasets.Dataset.from_list(rows).save_to_disk(str(path))
