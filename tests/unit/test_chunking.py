"""Chunking by field, by file and into N parts, with a seeded held-out split stratified by chunk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evoforge.data.chunking import chunk_dataset, write_chunks
from evoforge.data.records import Example
from evoforge.errors import ConfigError, DataError


def _rows(n: int = 40) -> list[dict]:
    cats = ["arithmetic", "strings", "format/list", "instruct"]
    return [
        {"prompt": f"q{i}", "completion": f"a{i}", "category": cats[i % 4], "source_file": f"f{i % 2}"}
        for i in range(n)
    ]


def _records(n: int = 40) -> list[Example]:
    return [Example.from_row(row, f"row {i}") for i, row in enumerate(_rows(n))]


def test_chunk_by_category_holds_out_a_stratified_seeded_split() -> None:
    chunks, held = chunk_dataset(_records(), "category", eval_fraction=0.2, seed=1)
    assert sorted(chunks) == ["arithmetic", "format_list", "instruct", "strings"]
    assert all(len(c) == 8 for c in chunks.values())
    assert sorted(r.meta["chunk"] for r in held) == sorted(["arithmetic", "format_list", "instruct", "strings"] * 2)
    trained = {r.prompt for c in chunks.values() for r in c}
    assert not trained & {r.prompt for r in held} and len(trained) + len(held) == 40
    assert chunk_dataset(_records(), "category", 0.2, seed=1)[1] == held
    assert chunk_dataset(_records(), "category", 0.2, seed=2)[1] != held
    assert chunk_dataset(_rows(), "category", 0.2, seed=1) == (chunks, held)  # rows are read as examples


def test_chunk_by_file_and_parts() -> None:
    chunks, _ = chunk_dataset(_records(), "file", 0.25, 0)
    assert sorted(chunks) == ["f0", "f1"] and sum(map(len, chunks.values())) == 30
    chunks, held = chunk_dataset(_records(30), "parts:3", 0.1, 0)
    assert sorted(chunks) == ["part1", "part2", "part3"] and [len(c) for c in chunks.values()] == [9, 9, 9]
    assert len(held) == 3


def test_bad_chunking_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="has no 'topic'"):
        chunk_dataset(_records(), "topic")
    with pytest.raises(ConfigError, match="parts:N"):
        chunk_dataset(_records(), "parts:x")
    with pytest.raises(DataError, match="no records"):
        chunk_dataset([], "category")


def test_write_chunks_and_eval_set(tmp_path: Path) -> None:
    pairs = [{"prompt": f"p{i}", "chosen": f"c{i}", "rejected": f"r{i}", "category": "pref"} for i in range(2)]
    records = _records(8) + [Example.from_row(row, "pair") for row in pairs]
    chunks, held = chunk_dataset(records, "category", 0.5, 0)
    write_chunks(tmp_path, chunks, held)
    assert sorted(p.name for p in (tmp_path / "chunks").iterdir())[0] == "arithmetic.jsonl"
    written = [json.loads(line) for line in (tmp_path / "chunks" / "arithmetic.jsonl").read_text().splitlines()]
    assert written == [e.to_row() for e in chunks["arithmetic"]]
    assert list(written[0]) == ["prompt", "completion", "category", "source_file"]  # the rows' own key order
    rows = [json.loads(line) for line in (tmp_path / "eval.jsonl").read_text().splitlines()]
    assert {r["chunk"] for r in rows} == set(chunks)
    assert all(r["reference"] in (r.get("completion"), r.get("chosen")) for r in rows)
    assert list(rows[0]) == ["prompt", "completion", "category", "source_file", "chunk", "reference"]
    with pytest.raises(DataError, match="already holds chunks"):
        write_chunks(tmp_path, chunks, held)
    write_chunks(tmp_path, {"pref": chunks["pref"]}, [], overwrite=True)
    assert [p.name for p in (tmp_path / "chunks").iterdir()] == ["pref.jsonl"]


def test_mixing_adds_a_sample_of_every_other_chunk_and_never_a_held_out_record() -> None:
    from evoforge.data.chunking import MIXED_FROM, chunk_name, own_records

    plain, held = chunk_dataset(_records(), "category", 0.2, seed=1)
    mixed, held_again = chunk_dataset(_records(), "category", 0.2, seed=1, mix_other=0.25)
    assert held_again == held and set(mixed) == set(plain)
    held_prompts = {r.prompt for r in held}
    for name, rows in mixed.items():
        assert rows[: len(plain[name])] == plain[name]  # the chunk's own records first, unchanged
        extra = rows[len(plain[name]) :]
        sources = {r.meta[MIXED_FROM] for r in extra}
        assert sources == set(plain) - {name} and len(extra) == 2 * len(sources)  # round(8 * 0.25) of each other
        assert all(chunk_name(r.category) == r.meta[MIXED_FROM] for r in extra)  # each keeps its own category
        assert not held_prompts & {r.prompt for r in rows}
        assert own_records([r.to_row() for r in rows]) == [r.to_row() for r in plain[name]]
    assert chunk_dataset(_records(), "category", 0.2, seed=1, mix_other=0.25) == (mixed, held)  # seeded
    with pytest.raises(ConfigError, match="share of other chunks"):
        chunk_dataset(_records(), "category", 0.2, seed=1, mix_other=1.5)
