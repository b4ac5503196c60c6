"""Dataset readers: each file type and record format normalises to prompt/completion or prompt/chosen/rejected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evoforge.data.formats import detect_format, load_examples, load_records
from evoforge.data.io import read_records
from evoforge.data.records import Example, Turn
from evoforge.errors import DataError
from tests.conftest import DATASETS


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


ROWS = {
    "alpaca": {"instruction": "Add", "input": "2 and 3", "output": "5", "category": "arithmetic", "level": 1},
    "sharegpt": {
        "conversations": [
            {"from": "system", "value": "Be brief."},
            {"from": "human", "value": "Hi"},
            {"from": "gpt", "value": "Hello"},
            {"from": "human", "value": "Add 2 and 3"},
            {"from": "gpt", "value": "5"},
        ]
    },
    "messages": {"messages": [{"role": "user", "content": "Add 2 and 3"}, {"role": "assistant", "content": "5"}]},
    "prompt_completion": {"prompt": "Add 2 and 3", "completion": "5"},
    "preference": {"prompt": "Add 2 and 3", "chosen": "5", "rejected": "6"},
    "self_instruct": {"instruction": "Add", "instances": [{"input": "2 and 3", "output": "5"}]},
}


@pytest.mark.parametrize("fmt", sorted(ROWS))
def test_each_format_is_detected_and_normalised(tmp_path: Path, fmt: str) -> None:
    assert detect_format(ROWS[fmt]) == fmt
    path = _jsonl(tmp_path / "d.jsonl", [ROWS[fmt]])
    [example] = load_examples(path)
    assert example.prompt.startswith("Add")
    assert example.reference == "5"
    assert example.meta["source_file"] == "d"
    assert example.is_preference == (fmt == "preference")
    assert load_records(path) == [example.to_row()]
    if fmt == "preference":
        assert example.rejected == "6" and example.completion is None
    if fmt == "alpaca":
        assert example == Example("Add\n\n2 and 3", "5", category="arithmetic", meta={"level": 1, "source_file": "d"})
        row = example.to_row()
        assert list(row) == ["category", "level", "prompt", "completion", "source_file"]  # the chunk files' order
        assert row == {
            "prompt": "Add\n\n2 and 3",
            "completion": "5",
            "category": "arithmetic",
            "level": 1,
            "source_file": "d",
        }
    if fmt == "sharegpt":
        assert example.system == "Be brief." and example.history == (Turn("user", "Hi"), Turn("assistant", "Hello"))
        assert list(example.to_row()) == ["system", "prompt", "history", "completion", "source_file"]


def test_json_parquet_and_hf_directory(tmp_path: Path) -> None:
    import datasets

    rows = [ROWS["prompt_completion"], {"prompt": "Say hi", "completion": "hi"}]
    (tmp_path / "d.json").write_text(json.dumps(rows))
    (tmp_path / "cols.json").write_text(json.dumps({"instruction": ["a", "b"], "output": ["1", "2"]}))
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "d.parquet"))
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "hf"))
    for name in ("d.json", "d.parquet", "hf"):
        assert [e.completion for e in load_examples(tmp_path / name)] == ["5", "hi"], name
    assert [e.prompt for e in load_examples(tmp_path / "cols.json")] == ["a", "b"]


def test_llama_factory_catalogue(tmp_path: Path) -> None:
    _jsonl(tmp_path / "a.jsonl", [{"q": "Add 2 and 3", "a": "5"}])
    _jsonl(tmp_path / "p.jsonl", [{"instruction": "Add 2 and 3", "chosen": "5", "rejected": "6"}])
    _jsonl(
        tmp_path / "s.jsonl", [{"chat": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}]
    )
    info = {
        "arith": {"file_name": "a.jsonl", "columns": {"prompt": "q", "response": "a"}},
        "prefs": {"file_name": "p.jsonl", "ranking": True},
        "chat": {
            "file_name": "s.jsonl",
            "formatting": "sharegpt",
            "columns": {"messages": "chat"},
            "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
        },
    }
    (tmp_path / "dataset_info.json").write_text(json.dumps(info))
    examples = load_examples(tmp_path)
    assert [(e.meta["source_file"], e.prompt) for e in examples] == [
        ("arith", "Add 2 and 3"),
        ("prefs", "Add 2 and 3"),
        ("chat", "Hi"),
    ]
    assert examples[1].rejected == "6" and examples[2].completion == "Yo"


def test_shared_self_instruct_seed_tasks() -> None:
    examples = load_examples(DATASETS / "self-instruct" / "seed_tasks.jsonl")
    assert len(examples) >= 175 and all(e.prompt and e.completion for e in examples)
    assert examples[0].meta["name"] == "breakfast_suggestion"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", r"empty"),
        ('{"prompt": "a", "completion": "b"}\n{"prompt": "a", \n', r"d\.jsonl:2: not valid JSON"),
        ('{"prompt": "a", "completion": "b"}\n{"text": "x"}\n', r"d\.jsonl:2: .*fits no known format"),
        ('{"instruction": "a", "output": ""}\n', r"d\.jsonl:1: alpaca record has an empty 'output'"),
        ('{"prompt": "a", "chosen": "b", "rejected": null}\n', r"d\.jsonl:1: preference record lacks 'rejected'"),
        ("[1, 2]\n", r"d\.jsonl:1: expected a JSON object"),
        ('{"messages": [{"role": "user", "content": "hi"}]}\n', r"must end on an assistant turn"),
    ],
)
def test_bad_data_names_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "d.jsonl").write_text(content)
    with pytest.raises(DataError, match=message):
        load_examples(tmp_path / "d.jsonl")


def test_read_records_keeps_raw_rows(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "d.jsonl", [{"instruction": "x", "custom": [1]}])
    assert read_records(path) == [{"instruction": "x", "custom": [1]}]
    with pytest.raises(DataError, match="not found"):
        read_records(tmp_path / "missing.jsonl")
    with pytest.raises(DataError, match="unknown data file type"):
        (tmp_path / "d.csv").write_text("a,b\n")
        read_records(tmp_path / "d.csv")
