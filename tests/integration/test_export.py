"""``evoforge export``: a one-round cycle run's student, experts and dataset as folders that the Hub's loaders read
(``from_pretrained``, ``PeftModel.from_pretrained``, ``datasets.load_dataset``); the refusals; the push path up to
the Hub, which this machine cannot reach (a real ``HfApi`` pointed at a local port that refuses, and a recording
``HfApi`` subclass for the calls made)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import HfApi
from small_runs import SMALL_CYCLE

from evoforge.cycle.export import export_round, hub_uploads, push
from evoforge.errors import ConfigError, EvoforgeError, RunDirError
from evoforge.runs import RunDir

ROOT = Path(__file__).resolve().parents[2]


def evoforge(*args: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
    """``evoforge ARGS`` in a subprocess (same interpreter), with ``env_vars`` set."""
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "COLUMNS": "160", **env_vars}
    cmd = [sys.executable, "-m", "evoforge.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=900, check=False)


@pytest.fixture(scope="module")
def cycle_run(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """A finished one-round cycle run of the quickstart at the tests' reduced sizes."""
    runs = tmp_path_factory.mktemp("export-runs")
    sizes = [s for s in SMALL_CYCLE if not s.startswith("cycle.rounds")] + ["cycle.rounds=1"]
    done = evoforge("-q", "run", "--runs-dir", str(runs), "--run-id", "c", *(a for s in sizes for a in ("--set", s)))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return RunDir.open(runs, "c")


def refusing_port() -> int:
    """A local port nobody listens on: connections to it are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def fake_run(runs: Path, command: str, finished: list[int]) -> RunDir:
    """A run directory with only a manifest and the events that say which rounds finished."""
    (runs / command).mkdir(parents=True)
    (runs / command / "manifest.json").write_text(json.dumps({"run_id": command, "command": command}))
    events = [{"event": "round_finished", "round": n} for n in finished]
    (runs / command / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return RunDir.open(runs, command)


@pytest.mark.slow
def test_export_writes_folders_the_hub_loaders_read(cycle_run: RunDir, tmp_path: Path) -> None:
    import torch
    from datasets import load_dataset
    from huggingface_hub import ModelCard
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "export"
    done = evoforge("export", "c", "--runs-dir", str(cycle_run.path.parent), "--output", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    print(done.stderr)
    summary = json.loads((out / "export.json").read_text())
    assert summary["round"] == 1 and "c round 1" in done.stderr
    job = json.loads((cycle_run.path / "rounds/1/merge/job.json").read_text())
    experts = sorted([*job["adapters"], Path(job["train_all"]).name])
    assert sorted(p.name for p in (out / "experts").iterdir()) == experts
    student = AutoModelForCausalLM.from_pretrained(out / "student")
    tokenizer = AutoTokenizer.from_pretrained(out / "student")
    ids = tokenizer("Compute 2 + 3.", return_tensors="pt").input_ids
    assert student.generate(ids, max_new_tokens=1, do_sample=False).shape[1] == ids.shape[1] + 1
    base = AutoModelForCausalLM.from_pretrained(job["base"])
    for name in experts:
        peft = PeftModel.from_pretrained(base, out / "experts" / name, adapter_name=name)
        assert name in peft.peft_config
        base = peft.unload()
    card = ModelCard.load(out / "student" / "README.md")  # the run's card, or the export's (a kept student)
    assert card.data.base_model == "evoforge/tiny-student" and card.data.library_name == "transformers"
    assert str(cycle_run.path) not in card.text and "auto_merge" in card.text
    for path in (p for p in out.rglob("*") if p.suffix in {".json", ".md"}):  # cards, adapter configs, training
        assert str(ROOT) not in path.read_text() and str(cycle_run.path.parent) not in path.read_text(), path
    assert (out / "dataset" / "README.md").is_file()  # the round's dataset card, naming evolved.jsonl
    rows = load_dataset(str(out / "dataset"))["train"]
    evolved = (cycle_run.path / "rounds/1/evolved.jsonl").read_text().splitlines()
    assert len(rows) == len(evolved) > 0 and rows[0]["instruction"] == json.loads(evolved[0])["instruction"]
    # the adapter's choice, pushed to a Hub that refuses: the folders are written, the first repo is named
    adapter_out, port = tmp_path / "adapter", refusing_port()
    done = evoforge(
        "export",
        "c",
        "--runs-dir",
        str(cycle_run.path.parent),
        "--output",
        str(adapter_out),
        "--adapter",
        "--push-to-hub",
        "me/evo",
        HF_ENDPOINT=f"http://127.0.0.1:{port}",
    )
    said = " ".join(done.stderr.split())
    assert done.returncode == 1 and f"to model repo me/evo at http://127.0.0.1:{port} failed" in said, said
    merged_adapter = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(job["base"]), adapter_out / "student"
    )
    folded = merged_adapter.merge_and_unload()
    for (key, value), (_, want) in zip(folded.state_dict().items(), student.state_dict().items(), strict=True):
        assert torch.allclose(value, want, atol=1e-5), key


@pytest.mark.slow
def test_a_round_the_experts_won_exports_an_lmoe_package_serve_reads(cycle_run: RunDir, tmp_path: Path) -> None:
    from evoforge.cycle.routed import ROUTED, expert_chunks
    from evoforge.data.chunking import MIXED_FROM
    from evoforge.merging.merge_run import saved_job
    from evoforge.serve.package import package_experts

    copy = tmp_path / "runs" / "c"
    shutil.copytree(cycle_run.path, copy, ignore=shutil.ignore_patterns("checkpoints.sqlite*"))
    events = [json.loads(line) for line in (copy / "events.jsonl").read_text().splitlines()]
    for event in events:  # the round's promotion as it reads when routed_experts beat auto_merge
        if event.get("event") == "round_finished":
            event["promotion"] = {**(event.get("promotion") or {}), "kept": ROUTED}
    (copy / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    summary = export_round(RunDir.open(copy.parent, "c"), tmp_path / "out")
    assert summary["kept"] == ROUTED and "lmoe" in [f["path"] for f in summary["folders"]]
    experts = expert_chunks(saved_job(copy / "rounds" / "1"))
    served = package_experts(tmp_path / "out" / "lmoe")
    assert sorted(e.name for e in served) == sorted(experts) and "preferences-dpo" not in experts
    for expert in served:  # each expert routes on its own chunk's instructions, not the others' mixed in
        chunk = copy / "rounds/1/chunks" / f"{experts[expert.name]}.jsonl"
        rows = [json.loads(line) for line in chunk.read_text().splitlines()]
        assert len(expert.instructions) == sum(MIXED_FROM not in r for r in rows) > 0
        assert (expert.adapter is not None) and (expert.adapter / "adapter_config.json").is_file()


def test_refusals_exit_2_with_a_clear_message(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    fake_run(runs, "evolve", [])
    cycle = fake_run(runs, "cycle", [])
    with pytest.raises(RunDirError, match="not a cycle run"):
        export_round(RunDir.open(runs, "evolve"), tmp_path / "out")
    with pytest.raises(RunDirError, match="no finished round"):
        export_round(cycle, tmp_path / "out")
    (cycle.path / "events.jsonl").write_text(json.dumps({"event": "round_finished", "round": 1}) + "\n")
    with pytest.raises(RunDirError, match=r"round 2 of run cycle did not finish \(finished rounds: 1\)"):
        export_round(cycle, tmp_path / "out", round_n=2)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("kept")
    done = evoforge("export", "cycle", "--runs-dir", str(runs), "--output", str(tmp_path / "full"))
    said = " ".join(done.stderr.split())
    assert done.returncode == 2 and "is not empty" in said and "--force" in said and "Traceback" not in said
    with pytest.raises(ConfigError, match="no earlier export"):
        export_round(cycle, tmp_path / "full", force=True)
    assert (tmp_path / "full" / "x").read_text() == "kept"
    done = evoforge("export", "evolve", "--runs-dir", str(runs), "--output", str(tmp_path / "o"))
    assert done.returncode == 2 and "not a cycle run" in " ".join(done.stderr.split())


SUMMARY: dict[str, Any] = {
    "folders": [
        {"path": "student", "repo_type": "model", "suffix": ""},
        {"path": "experts/strings-sft", "repo_type": "model", "suffix": "-strings-sft"},
        {"path": "dataset", "repo_type": "dataset", "suffix": "-data"},
    ]
}


class RecordingApi(HfApi):
    """An ``HfApi`` that records the calls ``push`` makes instead of sending them."""

    def __init__(self) -> None:
        super().__init__(endpoint="http://127.0.0.1:9", token="hf_test")
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def create_repo(self, repo_id: str, **kwargs: Any) -> Any:  # type: ignore[override]
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))

    def upload_folder(self, **kwargs: Any) -> Any:  # type: ignore[override]
        self.calls.append(("upload_folder", kwargs))


def test_push_names_a_repo_per_folder_and_uploads_each(tmp_path: Path) -> None:
    uploads = hub_uploads(SUMMARY, tmp_path, "me/evo")
    assert [(u["repo_id"], u["repo_type"]) for u in uploads] == [
        ("me/evo", "model"),
        ("me/evo-strings-sft", "model"),
        ("me/evo-data", "dataset"),
    ]
    api = RecordingApi()
    assert push(uploads, api) == ["me/evo", "me/evo-strings-sft", "me/evo-data"]
    assert api.calls[4:] == [
        ("create_repo", {"repo_id": "me/evo-data", "repo_type": "dataset", "private": True, "exist_ok": True}),
        ("upload_folder", {"repo_id": "me/evo-data", "repo_type": "dataset", "folder_path": str(tmp_path / "dataset")}),
    ]
    for bad in ("evo", "me/", "a/b/c"):
        with pytest.raises(ConfigError, match="OWNER/NAME"):
            hub_uploads(SUMMARY, tmp_path, bad)


def test_push_to_an_unreachable_hub_names_the_repo(tmp_path: Path) -> None:
    port = refusing_port()
    api = HfApi(endpoint=f"http://127.0.0.1:{port}", token="hf_test")
    with pytest.raises(EvoforgeError, match=rf"me/evo at http://127.0.0.1:{port} failed"):
        push(hub_uploads(SUMMARY, tmp_path, "me/evo"), api)
