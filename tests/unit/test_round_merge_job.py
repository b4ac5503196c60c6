"""A round's merge job takes the eval section's generation settings, the token budget included."""

from __future__ import annotations

from pathlib import Path

from evoforge.cycle.round_record import RoundRecord
from evoforge.cycle.work import merge_job
from evoforge.settings import load_config


def test_a_rounds_merge_job_generates_under_the_eval_sections_token_budget(tmp_path: Path) -> None:
    config = load_config("quickstart", ["eval.max_batch_tokens=777", "eval.batch_size=5"])
    record = RoundRecord(1, "rounds/1", "tiny", deltas={"a-sft": "rounds/1/deltas/a-sft"})
    job = merge_job(config, tmp_path, record, tmp_path / "eval.jsonl")
    assert (job.max_batch_tokens, job.batch_size) == (777, 5)
    assert job.adapters == {"a-sft": tmp_path / "rounds/1/deltas/a-sft"}
