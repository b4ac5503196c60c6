"""The routed_experts row: the router's accuracy, the round's experts, routed scoring, and promotion's choice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evoforge.cycle.routed import (
    expert_chunks,
    promotion_choice,
    promotion_line,
    routed_report,
    router_summary,
)
from evoforge.evals.harness import load_eval_records
from evoforge.graphs.cycle.report import ordered_rows, results_table, routing_lines
from evoforge.graphs.cycle.state import RoundResult
from evoforge.merging.job import MergeJob, table_reports
from evoforge.merging.merge_run import saved_job
from evoforge.merging.trial import MergeSpec
from evoforge.offline.world import eval_records
from evoforge.serve.experts import run_experts
from evoforge.testing.merge_toy import one_torch_thread
from evoforge.testing.tiny_models import build_lora_adapter, build_tiny_lm

_one_thread = pytest.fixture(autouse=True)(one_torch_thread)
CHUNKS = {"arithmetic-sft": "arithmetic", "strings-sft": "strings"}


def test_router_accuracy_is_the_share_sent_to_the_delta_of_their_category_chunk() -> None:
    categories = ["arithmetic", "arithmetic", "strings", "strings"]
    routes = ["arithmetic-sft", "strings-sft", "strings-sft", "strings-sft"]
    summary = router_summary(categories, routes, CHUNKS)
    assert summary == {"accuracy": 0.75, "n": 4, "routed": {"arithmetic-sft": 1, "strings-sft": 3}}


def test_router_accuracy_counts_only_categories_some_expert_trained_on() -> None:
    summary = router_summary(["arithmetic", "format"], ["strings-sft", "strings-sft"], CHUNKS)
    assert summary["accuracy"] == 0.0 and summary["n"] == 2
    assert summary["routed"] == {"arithmetic-sft": 0, "strings-sft": 2}  # an expert routed nothing shows 0
    assert router_summary(["all", "all"], ["strings-sft", "strings-sft"], CHUNKS)["accuracy"] is None


def test_the_experts_are_the_category_deltas_of_the_round_not_the_preferences_one(tmp_path: Path) -> None:
    adapters = {}
    for name, chunk in [*CHUNKS.items(), ("preferences-dpo", "preferences")]:
        folder = tmp_path / "adapters" / name
        folder.mkdir(parents=True)
        (folder / "training.json").write_text(json.dumps({"chunk": chunk}))
        adapters[name] = folder
    job = MergeJob(base=tmp_path, adapters=adapters, eval_path=tmp_path / "eval.jsonl", train_all=tmp_path, storage="")
    (tmp_path / "merge").mkdir()
    (tmp_path / "merge" / "job.json").write_text(job.model_dump_json())
    assert expert_chunks(saved_job(tmp_path)) == CHUNKS


def test_serve_routes_auto_to_the_same_experts_and_serves_the_preferences_delta_by_name(tmp_path: Path) -> None:
    root, adapters = tmp_path / "rounds" / "1", {}
    (root / "chunks").mkdir(parents=True)
    for name, chunk in [*CHUNKS.items(), ("preferences-dpo", "preferences")]:
        folder = root / "adapters" / name
        folder.mkdir(parents=True)
        (folder / "training.json").write_text(json.dumps({"chunk": chunk}))
        (root / "chunks" / f"{chunk}.jsonl").write_text(json.dumps({"instruction": f"a {chunk} task", "output": "x"}))
        adapters[name] = folder
    (root / "merge").mkdir()
    job = MergeJob(base=tmp_path, adapters=adapters, eval_path=tmp_path / "e.jsonl", train_all=None, storage="")
    (root / "merge" / "job.json").write_text(job.model_dump_json())
    _, experts = run_experts(tmp_path, 1, 10)
    assert {e.name for e in experts if e.routable} == set(expert_chunks(saved_job(root))) == set(CHUNKS)
    assert "preferences-dpo" in {e.name for e in experts}  # still served when asked for by name


@pytest.mark.parametrize(
    ("merged", "routed", "kept", "margin"),
    [(0.583, 0.571, "auto_merge", 0.012), (0.5, 0.6, "routed_experts", 0.1), (0.5, 0.5, "auto_merge", 0.0)],
)
def test_promotion_keeps_the_better_of_one_merged_student_and_the_routed_experts(
    merged: float, routed: float, kept: str, margin: float
) -> None:
    choice = promotion_choice({"raw": 0.1, "auto_merge": merged, "routed_experts": routed})
    assert choice is not None
    assert (choice["kept"], choice["merged"], choice["routed"]) == (kept, merged, routed)
    assert choice["margin"] == pytest.approx(margin)


def test_no_routed_row_means_no_choice_and_the_line_says_who_won_and_what_trains_next() -> None:
    assert promotion_choice({"raw": 0.1, "auto_merge": 0.5}) is None
    line = promotion_line({"kept": "auto_merge", "merged": 0.583, "routed": 0.571, "margin": 0.012}, promoted=True)
    assert line.startswith("promoted: auto_merge 0.583 vs routed_experts 0.571 (+0.012)")
    routed = promotion_line({"kept": "routed_experts", "merged": 0.5, "routed": 0.6, "margin": 0.1}, promoted=False)
    assert routed.startswith("promoted: routed_experts 0.600 vs auto_merge 0.500 (+0.100)")
    assert "the current student" in routed and "cannot be fine-tuned as one model" in routed


def test_each_prompt_is_answered_by_the_delta_it_was_routed_to(tmp_path: Path) -> None:
    model = build_tiny_lm(tmp_path / "model")
    adapters = {name: build_lora_adapter(model, tmp_path / name, seed=seed) for seed, name in enumerate(("a", "b"), 1)}
    data = tmp_path / "test.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in eval_records(6, seed=3)))
    job = MergeJob(base=model, adapters=adapters, eval_path=data, device="cpu", storage="", max_new_tokens=8)
    alone = dict(zip("ab", table_reports(job, [MergeSpec({"a": [1.0]}), MergeSpec({"b": [1.0]})], 1), strict=True))
    routes = ["a", "b", "b", "a", "b", "a"]
    report = routed_report(job, load_eval_records(data), routes, tmp_path / "routed")
    assert [row["expert"] for row in report.per_example] == routes
    assert [row["prompt"] for row in report.per_example] == [r["prompt"] for r in eval_records(6, seed=3)]
    for i, (row, expert) in enumerate(zip(report.per_example, routes, strict=True)):
        assert row["prediction"] == alone[expert].per_example[i]["prediction"]
    assert report.score == pytest.approx(sum(row["score"] for row in report.per_example) / 6)
    assert sorted(p.name for p in (tmp_path / "routed").iterdir()) == ["a.jsonl", "b.jsonl"]


def test_the_round_table_and_report_lines_carry_the_routed_row_and_the_choice() -> None:
    result: RoundResult = {
        "round": 1,
        "rows": {"routed_experts": 0.4, "auto_merge": 0.5, "raw": 0.1, "train@a-sft": 0.2},
        "test": {"routed_experts": 0.6, "auto_merge": 0.55, "raw": 0.1, "train@a-sft": 0.3},
        "router": {"accuracy": 0.9, "n": 10, "routed": {"a-sft": 10}},
        "promoted": True,
    }
    result["promotion"] = promotion_choice(result["test"]) or {}
    assert ordered_rows(result["rows"]) == ["raw", "train@a-sft", "auto_merge", "routed_experts"]
    assert "| routed_experts | 0.400 | 0.600 |" in results_table(result)
    router, choice = routing_lines(result)
    assert router == "Router (10 test prompts): accuracy 0.900; routed to a-sft 10."
    assert choice.startswith("promoted: routed_experts 0.600 vs auto_merge 0.550 (+0.050); the next round trains")
    assert routing_lines({"round": 1, "rows": {}, "routed_skipped": "no extra"}) == ["No routed_experts row: no extra."]
