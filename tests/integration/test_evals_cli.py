"""``evoforge eval`` and ``evoforge ifd`` end to end on a tiny random-init model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evoforge.cli import app
from evoforge.errors import ConfigError
from evoforge.testing.tiny_models import build_lora_adapter, build_tiny_lm


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    model = build_tiny_lm(root / "model")
    return {"model": model, "adapter": build_lora_adapter(model, root / "arith", seed=5)}


def test_eval_writes_a_report_per_example_and_category(tiny: dict[str, Path], tmp_path: Path) -> None:
    data = tmp_path / "heldout.jsonl"
    rows = [{"prompt": f"Compute {i} + 1.", "reference": str(i + 1), "category": ["a", "b"][i % 2]} for i in range(5)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["-q", "eval", "--model", str(tiny["model"]), "--adapter", str(tiny["adapter"]), "--data", str(data)]
    args += ["--weight", "arith=0.5", "--metric", "bleu4", "--runs-dir", str(tmp_path / "runs"), "--run-id", "e1"]
    args += ["--set", "eval.max_new_tokens=4", "--set", "student.device=cpu"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "runs" / "e1" / "evals" / "heldout.json").read_text())
    assert report["metric"] == "bleu4" and set(report["per_category"]) == {"a", "b"}
    assert [e["prompt"] for e in report["per_example"]] == [r["prompt"] for r in rows]
    assert list(report["per_example"][0]) == ["prompt", "reference", "category", "prediction", "score"]
    assert report["score"] == pytest.approx(sum(e["score"] for e in report["per_example"]) / 5)
    manifest = json.loads((tmp_path / "runs" / "e1" / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["eval_score"] == pytest.approx(report["score"])
    predict = json.loads((tmp_path / "runs" / "e1" / "evals" / "predict_results.json").read_text())
    assert predict == report["predict_results"]
    assert predict["predict_bleu-4"] == pytest.approx(report["score"])  # the same predictions, the same mean
    assert predict["predict_runtime"] > 0 and predict["predict_samples_per_second"] > 0


def test_eval_with_a_user_scorer_named_module_function(
    tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "house_metrics.py").write_text(
        "def nonempty(prediction, reference):\n    return float(bool(prediction))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    data = tmp_path / "e.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"Say {w}.", "reference": w}) + "\n" for w in ("yes", "no")))
    args = ["-q", "eval", "--model", str(tiny["model"]), "--data", str(data), "--runs-dir", str(tmp_path / "runs")]
    args += ["--set", "eval.max_new_tokens=4", "--set", "student.device=cpu", "--run-id", "u1"]
    result = CliRunner().invoke(app, [*args, "--metric", "house_metrics:nonempty"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "runs" / "u1" / "evals" / "e.json").read_text())
    assert report["metric"] == "house_metrics:nonempty"
    assert [e["score"] for e in report["per_example"]] == [float(bool(e["prediction"])) for e in report["per_example"]]
    missing = CliRunner().invoke(app, [*args, "--run-id", "u2", "--metric", "house_metrics:absent"])
    assert isinstance(missing.exception, ConfigError) and "metric 'house_metrics:absent'" in str(missing.exception)
    assert not (tmp_path / "runs" / "u2").exists()  # refused before a model is loaded or a run is made


def test_eval_rejects_a_weight_for_an_unknown_adapter(tiny: dict[str, Path], tmp_path: Path) -> None:
    data = tmp_path / "e.jsonl"
    data.write_text('{"prompt": "p", "reference": "r"}\n')
    args = ["-q", "eval", "--model", str(tiny["model"]), "--data", str(data), "--weight", "nope=1"]
    result = CliRunner().invoke(app, [*args, "--runs-dir", str(tmp_path / "runs")])
    assert isinstance(result.exception, ConfigError) and "NAME=W" in str(result.exception)


def test_ifd_scores_and_selects(tiny: dict[str, Path], tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    rows = [{"instruction": f"Repeat {w}.", "input": "", "output": w * (i + 1)} for i, w in enumerate("abcdef")]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["-q", "ifd", "--model", str(tiny["model"]), "--data", str(data), "--mode", "hard", "--k", "2"]
    args += ["--runs-dir", str(tmp_path / "runs"), "--run-id", "i1", "--set", "student.device=cpu"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = tmp_path / "runs" / "i1" / "ifd"
    scored = [json.loads(line) for line in (out / "scored.jsonl").read_text().splitlines()]
    selected = [json.loads(line) for line in (out / "selected.jsonl").read_text().splitlines()]
    assert [r["output"] for r in scored] == [r["output"] for r in rows]
    assert all(r["ifd"] > 0 for r in scored)
    assert [r["ifd"] for r in selected] == sorted((r["ifd"] for r in scored), reverse=True)[:2]


def test_ifd_needs_k_or_fraction(tiny: dict[str, Path], tmp_path: Path) -> None:
    data = tmp_path / "t.jsonl"
    data.write_text('{"instruction": "i", "output": "o"}\n')
    args = ["-q", "ifd", "--model", str(tiny["model"]), "--data", str(data), "--runs-dir", str(tmp_path / "r")]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, ConfigError) and "--k" in str(result.exception)


def test_eval_with_the_judge_metric_grades_through_the_simulated_llm(tiny: dict[str, Path], tmp_path: Path) -> None:
    from evoforge.offline.world import eval_records

    data = tmp_path / "world.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in eval_records(3, seed=1)))
    args = ["-q", "eval", "--model", str(tiny["model"]), "--data", str(data), "--metric", "judge"]
    args += ["--runs-dir", str(tmp_path / "runs"), "--run-id", "j1", "--set", "eval.max_new_tokens=4"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "runs" / "j1" / "evals" / "world.json").read_text())
    assert report["metric"] == "judge" and all(1 <= e["grade"] <= 10 and e["reason"] for e in report["per_example"])
    assert all(e["score"] == float(e["grade"] >= 7) for e in report["per_example"])
    assert report["score"] == pytest.approx(sum(e["score"] for e in report["per_example"]) / 3)  # the pass rate
    assert list(report["per_example"][0]) == [
        *("prompt", "reference", "category", "prediction", "score", "grade", "reason")
    ]
    assert (tmp_path / "runs" / "j1" / "evals" / "predict_results.json").is_file()
    manifest = json.loads((tmp_path / "runs" / "j1" / "manifest.json").read_text())
    assert manifest["llm_usage"]["total"]["calls"] == 3
