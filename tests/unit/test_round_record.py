"""The cycle graph's state as the typed records the round work takes; the state's keys stay the graph's."""

from __future__ import annotations

from pathlib import Path

import pytest

from evoforge.cycle.closing import promote
from evoforge.cycle.round_record import DeltaTask, RoundRecord
from evoforge.errors import EvoforgeError
from evoforge.graphs.cycle.state import CycleState, DeltaPayload, delta_task, round_record
from evoforge.merging.trial import MergeSpec
from evoforge.settings import Config
from evoforge.training.deltas import DeltaJob


def test_a_round_record_carries_the_rounds_deltas_held_out_split_merge_and_method() -> None:
    best = {"merge": {"weights": {"math-sft": [0.5, 1.0]}, "method": "ties", "params": {"density": 0.5}}, "score": 0.7}
    state: CycleState = {
        "round": 2,
        "round_dir": "rounds/2",
        "student": "rounds/1/student",
        "deltas": {"math-sft": "rounds/2/adapters/math-sft"},
        "train_all": "rounds/2/adapters/all-sft",
        "eval_path": "rounds/2/eval.jsonl",
        "merge": best,
        "evolved": {
            "dataset": "",
            "lambda_history": [],
            "e0_lambda": 0.0,
            "method_id": "m3",
            "method": "",
            "counts": {},
        },
    }
    assert round_record(state) == RoundRecord(
        number=2,
        round_dir="rounds/2",
        student="rounds/1/student",
        deltas={"math-sft": "rounds/2/adapters/math-sft"},
        train_all="rounds/2/adapters/all-sft",
        eval_path="rounds/2/eval.jsonl",
        merge=MergeSpec({"math-sft": [0.5, 1.0]}, "ties", {"density": 0.5}),
        method_id="m3",
    )


def test_a_round_before_its_merge_search_has_no_merge_to_promote(tmp_path: Path) -> None:
    record = round_record({"round": 1, "round_dir": "rounds/1", "student": "tiny", "data_source": "instruct"})
    assert (record.merge, record.method_id, record.train_all, dict(record.deltas)) == (None, "", "", {})
    with pytest.raises(EvoforgeError, match="round 1 has no merge to promote"):
        promote(Config(), tmp_path, record)


def test_a_training_branchs_payload_becomes_its_delta_task() -> None:
    payload = DeltaPayload(chunk="math", method="dpo", round=1, round_dir="rounds/1", student="tiny")
    assert delta_task(payload) == DeltaTask("rounds/1", "tiny", DeltaJob("math", "dpo"))
