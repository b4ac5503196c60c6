"""An expert's routing instructions are its own chunk's, not the records mixed in from other chunks."""

from __future__ import annotations

import json
from pathlib import Path

from evoforge.data.chunking import MIXED_FROM
from evoforge.serve.experts import read_instructions


def test_mixed_in_records_are_not_an_experts_instructions(tmp_path: Path) -> None:
    chunk = tmp_path / "strings.jsonl"
    rows = [
        {"prompt": "Reverse 'cat'.", "completion": "tac", "category": "strings"},
        {"prompt": "Compute 2 + 2.", "completion": "4", "category": "arithmetic", MIXED_FROM: "arithmetic"},
        {"prompt": "Uppercase 'dog'.", "completion": "DOG", "category": "strings"},
    ]
    chunk.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert read_instructions(chunk) == ("Reverse 'cat'.", "Uppercase 'dog'.")
    assert read_instructions(chunk, limit=1) == ("Reverse 'cat'.",)
