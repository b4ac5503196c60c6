"""``evoforge eval --route RUN_ID``: a cycle round's category deltas + the LMoE router scored on an eval set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evoforge.cli import app
from evoforge.errors import ConfigError
from evoforge.merging.job import MergeJob
from evoforge.offline.world import eval_records, seed_records
from evoforge.runs import RunDir
from evoforge.settings import Config
from evoforge.testing.tiny_models import build_lora_adapter, build_tiny_lm

CATEGORIES = ("arithmetic", "strings")


def _cycle_round(runs: Path) -> Path:
    """A cycle run whose round 1 has a delta per category (and a preferences one), chunks and a merge job."""
    config = Config()
    config.run.runs_dir = runs
    run = RunDir.create(config, "cycle", "c")
    root = run.path / "rounds" / "1"
    model = build_tiny_lm(run.path / "base")
    adapters = {}
    for seed, chunk in enumerate((*CATEGORIES, "preferences"), 1):
        name = f"{chunk}-{'dpo' if chunk == 'preferences' else 'sft'}"
        adapters[name] = build_lora_adapter(model, root / "adapters" / name, seed=seed)
        (adapters[name] / "training.json").write_text(json.dumps({"chunk": chunk}))
        rows = seed_records(12, seed, categories=[chunk if chunk != "preferences" else "strings"])
        (root / "chunks").mkdir(exist_ok=True)
        (root / "chunks" / f"{chunk}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    job = MergeJob(base=model, adapters=adapters, eval_path=root / "eval.jsonl", storage="", max_new_tokens=4)
    (root / "merge").mkdir()
    (root / "merge" / "job.json").write_text(job.model_dump_json())
    return run.path


def test_eval_route_answers_each_prompt_with_the_delta_the_router_picks(tmp_path: Path) -> None:
    _cycle_round(tmp_path / "runs")
    data = tmp_path / "test.jsonl"
    rows = eval_records(8, seed=4, categories=list(CATEGORIES))
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["-q", "eval", "--route", "c", "--data", str(data), "--runs-dir", str(tmp_path / "runs")]
    result = CliRunner().invoke(app, [*args, "--run-id", "r1", "--set", "student.device=cpu"])
    assert result.exit_code == 0, result.output
    evals = tmp_path / "runs" / "r1" / "evals"
    report = json.loads((evals / "test.json").read_text())
    assert [e["prompt"] for e in report["per_example"]] == [r["prompt"] for r in rows]
    experts = [e["expert"] for e in report["per_example"]]
    assert set(experts) <= {"arithmetic-sft", "strings-sft"}  # the preferences delta is no expert
    router = json.loads((evals / "router.json").read_text())
    assert router["n"] == 8 and sum(router["routed"].values()) == 8
    assert set(router["routed"]) == {"arithmetic-sft", "strings-sft"}
    right = sum(e["expert"] == f"{e['category']}-sft" for e in report["per_example"])
    assert router["accuracy"] == pytest.approx(right / 8)
    assert report["score"] == pytest.approx(sum(e["score"] for e in report["per_example"]) / 8)


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ([], "give --model"),
        (["--route", "c", "--model", "tiny"], "no --model"),
        (["--model", "tiny", "--round", "1"], "--round applies"),
    ],
)
def test_eval_takes_a_model_or_a_route(tmp_path: Path, extra: list[str], says: str) -> None:
    data = tmp_path / "test.jsonl"
    data.write_text(json.dumps({"prompt": "Say yes.", "reference": "yes"}) + "\n")
    result = CliRunner().invoke(app, ["-q", "eval", "--data", str(data), "--runs-dir", str(tmp_path), *extra])
    assert isinstance(result.exception, ConfigError) and says in str(result.exception), result.output
