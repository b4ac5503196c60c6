"""The self_evolve graph end to end through the CLI: the seed's toy data (Chinese) for two rounds, the second one
continued with --start-id; the predict files per generation, the chart and the redraw command; a run killed with
SIGKILL mid-round and resumed equals an uninterrupted one; bad data files get a clear error and leave no run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from datasets import load_dataset
from huggingface_hub import DatasetCard, ModelCard

EVOFORGE = str(Path(sys.executable).parent / "evoforge")
SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "self-evolution"
GENERATION_KEYS = ("predict_bleu-4", "predict_rouge-1", "predict_rouge-2", "predict_rouge-l", "predict_exact_match")


def evoforge(*args: str | Path, check: bool = True, quiet: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "400"}  # messages unwrapped, whatever the temporary paths' length
    argv = [EVOFORGE, *(["-q"] if quiet else []), *map(str, args)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def scores(folder: Path) -> dict[str, float]:
    results = json.loads((folder / "predict_results.json").read_text())
    return {key: results[key] for key in GENERATION_KEYS}


@pytest.mark.slow
def test_toy_data_two_rounds_the_second_continued_write_each_generation_and_the_chart(tmp_path: Path) -> None:
    if not (SHARED / "toy_data.json").is_file():
        pytest.skip(f"the seed's toy data is not at {SHARED}")
    runs = tmp_path / "runs"
    common = ("--source-data-file", SHARED / "toy_data.json", "--eval-data", SHARED / "toy_eval_data.json")
    flags = (*common, "--identify", "toy", "--runs-dir", runs, "--ifd-k", "3", "--batch-size", "5")
    evoforge("self-evolve", *flags, "--mode", "hard", "--end-id", "1")
    generations = runs / "toy" / "eval" / "toy_generations"
    assert sorted(p.name for p in generations.iterdir()) == ["generation_0"]
    evoforge("self-evolve", *flags, "--mode", "hard", "--start-id", "1", "--end-id", "2")
    assert sorted(p.name for p in generations.iterdir()) == ["generation_0", "generation_1"]
    for name in ("generation_0", "generation_1"):
        rows = (generations / name / "generated_predictions.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(rows) == 10 and set(json.loads(rows[0])) == {"prompt", "label", "predict"}
        assert all(0 <= value <= 100 for value in scores(generations / name).values())
    qa = [json.loads(line) for line in (runs / "toy" / "rounds" / "1" / "qa.jsonl").read_text().splitlines()]
    trained = (runs / "toy" / "rounds" / "1" / "train.jsonl").read_text().splitlines()
    assert len(trained) == len(qa) + 3  # round 1 replays 3 of round 0's Q&A
    assert all(r["instruction"] and r["round"] == 1 and "ifd" in r for r in qa)
    card = DatasetCard.load(runs / "toy" / "rounds" / "1" / "README.md")  # each round's Q&A has a dataset card
    adapter = ModelCard.load(runs / "toy" / "rounds" / "1" / "adapter" / "README.md")  # not PEFT's template
    assert adapter.data.base_model == "evoforge/tiny-reader" and adapter.data.library_name == "peft"
    assert {r.metric_type for r in adapter.data.eval_results} >= {"predict_bleu-4", "predict_exact_match"}
    assert str(tmp_path) not in str(adapter)
    assert str(tmp_path) not in str(card) and "Self-Evolution" in card.text
    cached = str(tmp_path / "datasets-cache")
    assert load_dataset(str(runs / "toy" / "rounds" / "1"), cache_dir=cached)["train"].num_rows == len(qa)
    report = (runs / "toy" / "report.md").read_text(encoding="utf-8")
    assert "## Self-Evolution" in report and "| 1 |" in report
    assert (runs / "toy" / "self_evolution_scores.png").read_bytes()[:4] == b"\x89PNG"
    redrawn = tmp_path / "redrawn.png"
    evoforge("draw-scores", "--father-dir", generations, "--output", redrawn)
    assert redrawn.read_bytes()[:4] == b"\x89PNG"
    # a continued run keeps its settings, and cannot skip a round it never reached
    changed = evoforge("self-evolve", *flags, "--start-id", "2", "--end-id", "3", "--mode", "easy", check=False)
    assert changed.returncode != 0 and "mode ('hard' there, 'easy' here)" in " ".join(changed.stderr.split())
    skipped = evoforge("self-evolve", *flags, "--mode", "hard", "--start-id", "4", "--end-id", "5", check=False)
    assert skipped.returncode != 0 and "rounds [2, 3]" in " ".join(skipped.stderr.split())
    assert "Traceback" not in skipped.stderr


SEED_003_COMMAND = """
    --start_id 0 --end_id 3 --source_data_file data/toy_data.json --identify test --model_path tiny-reader
    --eval_data data/toy_eval_data.json --eval_to_path eval_result/qas_train --mode hard --train_epoch 1 --ifd_k 5
    --batch_size 5 --worker_number 1 --infer_gpu 1 --cuda_device 0 --use_vllm
"""  # the seed README's Getting Started command; only the model is a local stand-in (and 2 rounds, not 3, for time)


@pytest.mark.slow
def test_the_seeds_getting_started_command_writes_its_generations_where_it_ran(tmp_path: Path) -> None:
    """Seed 003's command verbatim (run where its data/ is), with --export-merged: predict files per generation in
    ./eval_result/qas_train/test_generations, the seed's draw_scores.py line, and each round's merged model that
    answers as base + adapter does."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from evoforge.training.student import resolve_student

    if not (SHARED / "toy_data.json").is_file():
        pytest.skip(f"the seed's toy data is not at {SHARED}")
    (tmp_path / "data").mkdir()
    for name in ("toy_data.json", "toy_eval_data.json"):
        (tmp_path / "data" / name).write_bytes((SHARED / name).read_bytes())
    proc = subprocess.run(
        [EVOFORGE, "self-evolve", *SEED_003_COMMAND.split(), "--end_id", "2", "--export-merged"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "400"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    if not torch.cuda.is_available():
        assert "--use_vllm: no CUDA GPU is visible; generating the Q&A and the evaluation with transformers" in (
            proc.stdout + proc.stderr
        )
    generations = tmp_path / "eval_result" / "qas_train" / "test_generations"
    assert sorted(p.name for p in generations.iterdir()) == ["generation_0", "generation_1"]
    for folder in generations.iterdir():
        assert len((folder / "generated_predictions.jsonl").read_text(encoding="utf-8").splitlines()) == 10
        assert all(0 <= value <= 100 for value in scores(folder).values())
    run = tmp_path / "runs" / "test"
    settings = yaml.safe_load((run / "config.yaml").read_text())["self_evolve"]
    given = {"end_id": 2, "mode": "hard", "train_epoch": 1.0, "ifd_k": 5, "batch_size": 5, "infer_gpu": 1}
    assert {key: settings[key] for key in given} == given and settings["cuda_device"] == 0
    assert settings["eval_to_path"] == str(tmp_path / "eval_result" / "qas_train")
    drawn = subprocess.run(
        [EVOFORGE, "-q", "draw-scores", "--father_dir", "./eval_result/qas_train/test_generations"], cwd=tmp_path
    )
    assert drawn.returncode == 0 and (generations / "scores.png").read_bytes()[:4] == b"\x89PNG"
    base = resolve_student("tiny-reader")
    ids = torch.tensor([[5, 17, 42, 9, 3]])
    for i in range(2):
        rounds = run / "rounds" / str(i)
        merged = AutoModelForCausalLM.from_pretrained(rounds / "merged")
        adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), rounds / "adapter")
        with torch.no_grad(), adapted.disable_adapter():
            plain = adapted(ids).logits
        with torch.no_grad():
            logits = merged(ids).logits
            assert torch.allclose(logits, adapted(ids).logits, atol=1e-4)
        assert not torch.allclose(logits, plain, atol=1e-4)  # the round's training is in it


@pytest.mark.slow
def test_kill_9_mid_round_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    common = ("--runs-dir", runs, "--end-id", "3", "--set", "self_evolve.n_fragments=12", "--ifd-k", "4")
    evoforge("self-evolve", *common, "--identify", "whole")
    proc = subprocess.Popen(
        [EVOFORGE, "-q", "self-evolve", *map(str, common), "--identify", "killed"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    marker = runs / "killed" / "rounds" / "1" / "qa.jsonl"
    deadline = time.monotonic() + 300
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = runs / "killed"
    assert not (killed / "eval" / "killed_generations" / "generation_1").exists()
    resumed = evoforge("resume", "killed", "--runs-dir", runs, quiet=False)
    for i in range(3):
        ours = killed / "eval" / "killed_generations" / f"generation_{i}"
        theirs = runs / "whole" / "eval" / "whole_generations" / f"generation_{i}"
        assert (ours / "predict_results.json").is_file(), (
            f"round {i} has no evaluation after the resume; it printed:\n{resumed.stdout[-2000:]}\n"
            f"{resumed.stderr[-2000:]}\nevents:\n{(killed / 'events.jsonl').read_text()[-3000:]}\nrounds: "
            f"{sorted(str(p.relative_to(killed)) for p in (killed / 'rounds').rglob('*'))}"
        )
        assert scores(ours) == scores(theirs)
        predictions = [folder / "generated_predictions.jsonl" for folder in (ours, theirs)]
        assert predictions[0].read_text() == predictions[1].read_text()
        weights = [r / "rounds" / str(i) / "adapter" / "adapter_model.safetensors" for r in (killed, runs / "whole")]
        assert weights[0].read_bytes() == weights[1].read_bytes()
    assert json.loads((killed / "manifest.json").read_text())["status"] == "completed"


def test_bad_data_files_are_named_and_leave_no_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    not_a_list = tmp_path / "fragments.json"
    not_a_list.write_text('{"instruction": "a fragment"}', encoding="utf-8")
    proc = evoforge("self-evolve", "--source-data-file", not_a_list, "--runs-dir", runs, check=False)
    assert proc.returncode != 0 and str(not_a_list) in proc.stderr and "expected a JSON list" in proc.stderr
    no_input = tmp_path / "eval.json"
    no_input.write_text('[{"instruction": "f", "output": "a"}]', encoding="utf-8")
    proc = evoforge("self-evolve", "--eval-data", no_input, "--runs-dir", runs, check=False)
    assert proc.returncode != 0 and f"{no_input}[0]" in proc.stderr and "'input'" in proc.stderr
    binary = tmp_path / "eval.jsonl"
    binary.write_bytes(b"\xff\xfe\x00binary\x00")
    proc = evoforge("self-evolve", "--eval-data", binary, "--runs-dir", runs, check=False)
    assert proc.returncode != 0 and str(binary) in proc.stderr
    assert "Traceback" not in proc.stderr and not runs.exists()
