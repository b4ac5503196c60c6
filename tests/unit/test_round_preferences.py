"""A round's preference pairs (cycle/preferences.py): the world's near misses or the user's file, as their own
chunk that trains DPO under method auto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evoforge.cycle.preferences import PREFERENCES_CHUNK, round_preferences, with_preferences
from evoforge.data.chunking import chunk_dataset
from evoforge.errors import DataError
from evoforge.settings import load_config
from evoforge.training.deltas import methods_for


def test_world_pairs_are_fresh_each_round_with_a_wrong_rejected_answer() -> None:
    config = load_config(None, overrides=["world.n_prefs=24"])
    first, second = round_preferences(config, 1, on_world=True), round_preferences(config, 2, on_world=True)
    assert len(first) == 24 and all(p.is_preference and p.chosen != p.rejected for p in first)
    assert {p.prompt for p in first} != {p.prompt for p in second}
    assert round_preferences(config, 1, on_world=True) == first  # the same round draws the same pairs
    assert round_preferences(config, 1, on_world=False) == []  # the user's seeds: no world pairs
    assert round_preferences(load_config(None), 1, on_world=True) == []  # n_prefs 0 by default


def test_pairs_join_as_their_own_chunk_and_train_dpo(tmp_path: Path) -> None:
    config = load_config(None, overrides=["world.n_prefs=20"])
    rows = [{"prompt": f"p{i}", "completion": f"c{i}", "category": "a"} for i in range(10)]
    chunks, held = chunk_dataset(rows, "category", 0.2, 0)
    pairs = round_preferences(config, 1, on_world=True)
    chunks, held = with_preferences(chunks, held, pairs, 0.2, 0)
    assert sorted(chunks) == ["a", PREFERENCES_CHUNK]
    assert len(chunks[PREFERENCES_CHUNK]) == 16 and sum(h.get("chunk") == PREFERENCES_CHUNK for h in held) == 4
    assert methods_for([p.to_row() for p in chunks[PREFERENCES_CHUNK]], "auto", PREFERENCES_CHUNK) == ["dpo"]
    assert methods_for([r.to_row() for r in chunks["a"]], "auto", "a") == ["sft"]
    with pytest.raises(DataError, match="already named 'preferences'"):
        with_preferences({PREFERENCES_CHUNK: []}, [], pairs, 0.2, 0)


def test_a_user_file_without_pairs_is_a_clear_error(tmp_path: Path) -> None:
    good, bad = tmp_path / "prefs.jsonl", tmp_path / "sft.jsonl"
    good.write_text(json.dumps({"prompt": "2+2?", "chosen": "4", "rejected": "5"}) + "\n")
    bad.write_text(json.dumps({"instruction": "2+2?", "output": "4"}) + "\n")
    pairs = round_preferences(load_config(None, overrides=[f"train.preference_data={good}"]), 3, on_world=False)
    assert [(p.prompt, p.chosen, p.rejected) for p in pairs] == [("2+2?", "4", "5")]
    with pytest.raises(DataError, match=r"sft\.jsonl \(train\.preference_data\): no pairs"):
        round_preferences(load_config(None, overrides=[f"train.preference_data={bad}"]), 1, on_world=False)
