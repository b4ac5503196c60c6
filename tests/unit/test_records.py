"""The record model: normalised rows round-trip exactly (same keys, same order); bad rows name where they are."""

from __future__ import annotations

import json

import pytest

from evoforge.data.records import Example, Turn
from evoforge.errors import DataError

HISTORY = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
SFT = {
    "id": "a-1",
    "category": "arithmetic",
    "level": 2,
    "system": "Be brief.",
    "prompt": "Add 2 and 3",
    "history": HISTORY,
    "completion": "5",
    "source_file": "train",
}
PAIR = {
    "category": "pref",
    "prompt": "Add 2 and 3",
    "system": "Be brief.",
    "history": HISTORY,
    "chosen": "5",
    "rejected": "6",
    "score": 0.5,
    "ok": True,
    "source_file": "prefs",
    "chunk": "pref",
}


@pytest.mark.parametrize(
    "row", [SFT, PAIR, {"prompt": "p", "completion": ""}, {"chosen": "c", "prompt": "p", "rejected": "r"}]
)
def test_rows_round_trip_with_their_key_order(row: dict) -> None:
    example = Example.from_row(row, "t.jsonl:1")
    assert example.to_row() == row
    assert json.dumps(example.to_row()) == json.dumps(row)  # the bytes a chunk file holds


def test_fields_of_an_sft_row_and_a_pair() -> None:
    sft, pair = Example.from_row(SFT, "s"), Example.from_row(PAIR, "p")
    assert (sft.prompt, sft.completion, sft.system, sft.category) == ("Add 2 and 3", "5", "Be brief.", "arithmetic")
    assert sft.history == (Turn("user", "Hi"), Turn("assistant", "Hello"))
    assert sft.meta == {"id": "a-1", "level": 2, "source_file": "train"}
    assert not sft.is_preference and sft.reference == "5"
    assert pair.is_preference and pair.reference == "5" and pair.completion is None and pair.rejected == "6"
    assert pair.get("chunk") == "pref" and pair.get("history") == HISTORY and pair.get("nope", 0) == 0


def test_a_non_text_category_stays_metadata() -> None:
    example = Example.from_row({"prompt": "p", "completion": "c", "category": 3}, "x")
    assert example.category is None and example.get("category") == 3
    assert example.to_row() == {"prompt": "p", "completion": "c", "category": 3}


def test_with_meta_sets_fields_as_a_dict_update_would() -> None:
    example = Example.from_row(SFT, "s")
    assert example.with_meta(chunk="c").to_row() == {**SFT, "chunk": "c"}
    assert list(example.with_meta(level=9, chunk="c").to_row()) == [*SFT, "chunk"]
    assert example.with_meta(level=9).meta["level"] == 9 and example.meta["level"] == 2  # frozen: a new example


def test_eval_items() -> None:
    item = Example.for_eval("q", "a")
    assert item == Example("q", completion="a", category="all")
    assert list(item.eval_item().items()) == [("prompt", "q"), ("reference", "a"), ("category", "all")]
    assert Example.from_row(PAIR, "p").eval_item() == {"prompt": "Add 2 and 3", "reference": "5", "category": "pref"}
    assert Example("q", "a").to_row() == {"prompt": "q", "completion": "a"}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"completion": "c"}, r"d\.jsonl:3: the record lacks 'prompt'"),
        ({"prompt": 1, "completion": "c"}, r"d\.jsonl:3: field 'prompt' must be text, got int"),
        ({"prompt": "p"}, r"d\.jsonl:3: an example needs either a 'completion' or both 'chosen' and 'rejected'"),
        ({"prompt": "p", "chosen": "c"}, r"d\.jsonl:3: an example needs either"),
        ({"prompt": "p", "completion": "c", "chosen": "c", "rejected": "r"}, r"d\.jsonl:3: .*\(not both\)"),
        ({"prompt": "p", "completion": None}, r"d\.jsonl:3: field 'completion' must be text, got NoneType"),
        ({"prompt": "p", "completion": "c", "tags": ["a"]}, r"d\.jsonl:3: metadata field 'tags' must be text"),
        ({"prompt": "p", "completion": "c", "history": "hi"}, r"d\.jsonl:3: 'history' must be a list"),
        ({"prompt": "p", "completion": "c", "history": [["q", "a"]]}, r"d\.jsonl:3: history turn 0 must be an object"),
        (
            {"prompt": "p", "completion": "c", "history": [{"role": "user", "content": 5}]},
            r"d\.jsonl:3: history turn 0",
        ),
    ],
)
def test_a_bad_row_is_a_data_error_naming_where(row: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        Example.from_row(row, "d.jsonl:3")


def test_not_an_object_and_direct_construction() -> None:
    with pytest.raises(DataError, match=r"here: expected an object"):
        Example.from_row(["prompt"], "here")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="metadata may not hold"):
        Example("p", "c", category="x", meta={"category": "y"})
