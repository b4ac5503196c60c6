"""Self-Evolution's data files (fragments, eval items) and its generation's text rules: good files, the seed's toy
files, and bad ones whose errors name the file, the item and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evoforge.errors import DataError
from evoforge.self_evolve.data_files import clean_question, is_degenerate, language_of, read_eval_items, read_fragments

TOY = Path("/work/shared/datasets/self-evolution")
needs_toy = pytest.mark.skipif(not (TOY / "toy_data.json").is_file(), reason="the seed's toy data is not here")


def _json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=4), encoding="utf-8")
    return path


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


# -- good files ---------------------------------------------------------------------------------------------------
def test_fragments_from_a_json_list_and_from_jsonl(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"instruction": "5G 提供更高的传输速率。"},
        {"instruction": "SCTP is a transport protocol.", "extra": 1},
    ]
    assert read_fragments(_json(tmp_path / "src.json", rows)) == [row["instruction"] for row in rows]
    assert read_fragments(_jsonl(tmp_path / "src.jsonl", rows)) == [row["instruction"] for row in rows]
    assert read_fragments(_jsonl(tmp_path / "lines.json", rows)) == [row["instruction"] for row in rows]  # misnamed


def test_eval_items_keep_the_three_fields_and_instruction_is_optional(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"instruction": "fragment", "input": "What is 5G?", "output": "A mobile network.", "id": 7},
        {"input": "什么是物联网？", "output": "物体互联的网络。"},
    ]
    items = read_eval_items(_json(tmp_path / "eval.json", rows))
    assert items == [
        {"instruction": "fragment", "input": "What is 5G?", "output": "A mobile network."},
        {"instruction": "", "input": "什么是物联网？", "output": "物体互联的网络。"},
    ]
    assert read_eval_items(_jsonl(tmp_path / "eval.jsonl", rows)) == items


@needs_toy
def test_the_seeds_toy_files() -> None:
    fragments = read_fragments(TOY / "toy_data.json")
    items = read_eval_items(TOY / "toy_eval_data.json")
    assert len(fragments) == 10 and len(items) == 10
    assert fragments[0].startswith("移动通信经历了模拟信号到数字信号")
    assert items[0]["instruction"] == fragments[0]
    assert all("？" in item["input"] for item in items)
    assert language_of(fragments) == "zh" and language_of(item["input"] for item in items) == "zh"
    assert all(clean_question(item["input"]) for item in items)


# -- bad files ----------------------------------------------------------------------------------------------------
def test_an_object_instead_of_a_list(tmp_path: Path) -> None:
    path = _json(tmp_path / "obj.json", {"instruction": "a fragment"})
    with pytest.raises(DataError) as error:
        read_fragments(path)
    assert str(error.value) == (
        f"{path}: the file holds an object; expected a JSON list of objects with 'instruction' (a knowledge fragment)"
    )


@pytest.mark.parametrize("data", [{"data": [{"instruction": "x"}]}, {"instruction": ["x", "y"]}])
def test_an_object_the_generic_reader_would_accept_is_refused_too(tmp_path: Path, data: dict[str, Any]) -> None:
    path = _json(tmp_path / "obj.json", data)
    with pytest.raises(DataError, match=r"obj\.json: the file holds an object; expected a JSON list of objects"):
        read_fragments(path)


def test_a_scalar_file(tmp_path: Path) -> None:
    path = _json(tmp_path / "scalar.json", "just text")
    with pytest.raises(DataError, match=r"scalar\.json: the file holds a JSON str; expected a JSON list of objects"):
        read_fragments(path)


def test_an_item_without_instruction_names_file_item_and_field(tmp_path: Path) -> None:
    path = _json(tmp_path / "src.json", [{"instruction": "ok"}, {"input": "no fragment"}])
    with pytest.raises(DataError) as error:
        read_fragments(path)
    assert str(error.value) == (
        f"{path}[1]: the item has no 'instruction' field (its fields: 'input'); expected a non-empty knowledge fragment"
    )


def test_an_item_that_is_not_an_object_gets_the_foundations_error(tmp_path: Path) -> None:
    path = _json(tmp_path / "src.json", [{"instruction": "ok"}, "a bare string"])
    with pytest.raises(DataError, match=r"src\.json\[1\]: expected a JSON object \(a record\), got str"):
        read_fragments(path)


def test_a_jsonl_item_is_named_by_its_line(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "src.jsonl", [{"instruction": "ok"}, {"instruction": "  "}])
    with pytest.raises(DataError, match=r"src\.jsonl:2: field 'instruction' is empty; expected a non-empty"):
        read_fragments(path)


def test_an_instruction_that_is_not_a_string(tmp_path: Path) -> None:
    path = _json(tmp_path / "src.json", [{"instruction": 42}])
    with pytest.raises(DataError, match=r"src\.json\[0\]: field 'instruction' is a int; expected .* as a string"):
        read_fragments(path)


@pytest.mark.parametrize("field", ["input", "output"])
def test_eval_without_input_or_output(tmp_path: Path, field: str) -> None:
    row = {"instruction": "f", "input": "q?", "output": "a"}
    del row[field]
    path = _json(tmp_path / "eval.json", [{"instruction": "f", "input": "q?", "output": "a"}, row])
    with pytest.raises(DataError) as error:
        read_eval_items(path)
    message = str(error.value)
    assert message.startswith(f"{path}[1]: the item has no '{field}' field")
    assert "expected a non-empty" in message


def test_eval_with_an_instruction_that_is_not_a_string(tmp_path: Path) -> None:
    path = _json(tmp_path / "eval.json", [{"instruction": ["f"], "input": "q?", "output": "a"}])
    with pytest.raises(DataError, match=r"eval\.json\[0\]: field 'instruction' is a list; expected"):
        read_eval_items(path)


def test_an_eval_object_says_what_was_expected(tmp_path: Path) -> None:
    path = _json(tmp_path / "eval.json", {"input": "q?", "output": "a"})
    with pytest.raises(DataError, match=r"holds an object; expected a JSON list of objects with 'input'"):
        read_eval_items(path)


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_non_utf8_bytes_get_the_foundations_error(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"latin1{suffix}"
    text = '[{"instruction": "café"}]' if suffix == ".json" else '{"instruction": "café"}\n'
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.jsonl?: line 1 is not UTF-8 text \(byte 0xe9"):
        read_fragments(path)


def test_bad_json_gets_the_foundations_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[{"instruction": "a"},\n{"instruction": }]', encoding="utf-8")
    with pytest.raises(DataError, match=r"broken\.json:2: not valid JSON"):
        read_fragments(path)


def test_an_empty_list_and_an_empty_file(tmp_path: Path) -> None:
    path = _json(tmp_path / "empty.json", [])
    with pytest.raises(DataError, match=r"empty\.json: the list is empty; expected a JSON list of objects"):
        read_fragments(path)
    blank = tmp_path / "blank.jsonl"
    blank.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match=r"blank\.jsonl: the file is empty"):
        read_eval_items(blank)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data file not found"):
        read_fragments(tmp_path / "nope.json")


# -- text rules ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("  What is 5G? It is a network. Why?", "What is 5G?"),
        ("问题：什么是物联网？答案：物体互联。", "问题：什么是物联网？"),
        ("什么是SCTP?\n它是一种协议", "什么是SCTP?"),
        ("\n\nDescribe the SBA architecture\nThe SBA is ...", "Describe the SBA architecture"),
        ("   \n ", None),
        ("？", "？"),
    ],
)
def test_clean_question(text: str, question: str | None) -> None:
    assert clean_question(text) == question


@pytest.mark.parametrize(
    ("text", "degenerate"),
    [
        ("", True),
        ("   ", True),
        ("的的的的的的", True),
        ("yes yes yes yes", True),
        ("ok ok ok ok fine", True),
        ("5G网络5G网络5G网络5G网络", True),
        ("the end the end the end the end", True),
        ("5G provides higher rates, lower latency and massive connectivity.", False),
        ("5G需要提供更高的传输速率，更低的时延，以及更大规模的连接。", False),
        ("非常非常非常非常好。5G提供了更高的速率、更低的时延和更大规模的连接能力，满足新业务。", False),
        ("yes yes yes", False),  # fewer than four repeats
    ],
)
def test_is_degenerate(text: str, degenerate: bool) -> None:
    assert is_degenerate(text) is degenerate


def test_language_of() -> None:
    assert language_of(["什么是5G？", "What is 5G?", "物联网"]) == "zh"
    assert language_of(["What is 5G?", "SCTP", "什么是5G？"]) == "en"
    assert language_of([]) == "en" and language_of(["  "]) == "en"
