"""A folder of record files read as one dataset (the Data-efficient-training seed's --train_dir): every record file
in it, each record tagged with its file, and clear errors naming the folder or the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evoforge.data.folders import load_dataset_path
from evoforge.errors import DataError


def _messages(question: str, answer: str) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}


def test_every_record_file_of_a_folder_is_read_and_tagged_with_its_file(tmp_path: Path) -> None:
    folder = tmp_path / "full"
    folder.mkdir()
    # the seed's files: JSON Lines of messages under a .json name; a JSON list and an alpaca file beside them
    (folder / "writing.json").write_text("".join(json.dumps(_messages(q, "a")) + "\n" for q in ("q1", "q2")))
    (folder / "code.json").write_text(json.dumps([_messages("q3", "b")]))
    (folder / "math.jsonl").write_text(json.dumps({"instruction": "q4", "output": "c"}) + "\n")
    (folder / "README.md").write_text("not records")
    (folder / "cache_writing").mkdir()  # the seed's processed-data cache: skipped
    (folder / "cache_writing" / "data.json").write_text("[]")
    records = load_dataset_path(folder)
    assert [(r["prompt"], r["source_file"]) for r in records] == [
        ("q3", "code"), ("q4", "math"), ("q1", "writing"), ("q2", "writing"),
    ]  # fmt: skip
    assert all(r["completion"] for r in records)


def test_a_folder_without_record_files_or_with_a_bad_one_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data not found: .*nowhere"):
        load_dataset_path(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"empty: no record files \(\*\.jsonl, \*\.json, \*\.parquet, \*\.pq\)"):
        load_dataset_path(empty)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "good.jsonl").write_text(json.dumps(_messages("q", "a")) + "\n")
    (bad / "broken.jsonl").write_text('{"messages": [\n')
    with pytest.raises(DataError, match=r"broken\.jsonl:1"):
        load_dataset_path(bad)
    twins = tmp_path / "twins"
    twins.mkdir()
    for name in ("a.json", "a.jsonl"):
        (twins / name).write_text(json.dumps(_messages("q", "a")) + "\n")
    with pytest.raises(DataError, match=r"a\.json and a\.jsonl would be the same chunk 'a'"):
        load_dataset_path(twins)


def test_a_single_file_is_read_as_before(tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"prompt": "p", "completion": "c"}) + "\n")
    assert load_dataset_path(path) == [{"prompt": "p", "completion": "c", "source_file": "one"}]
