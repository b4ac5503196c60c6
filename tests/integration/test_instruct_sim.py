"""The instruct graph offline: the simulated LLM writes topics, every instructor's tasks and the responses."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from config_files import instruct_config

from evoforge.agents.instructors import REGISTRY, dedup_key
from evoforge.agents.instructors.characters import Dependent
from evoforge.data.dedup import EmbeddingIndex
from evoforge.graphs.driver import drive
from evoforge.graphs.review import policy_decision
from evoforge.runs import RunDir
from evoforge.settings import load_config
from evoforge.settings.airoboros import ALIASES, NOT_APPLICABLE

INSTRUCTORS = ["general", "contextual", "coding", "multiple_choice", "agent", "orca", "awareness", "card"]
COUNT = 4


def _config(tmp_path: Path, **instruct: Any) -> Path:
    settings = {
        "dedup": "embedding",
        "topic_request_count": 4,
        "default_count": COUNT,
        "default_batch_size": 3,
        "response_filters": ["please note that"],
        "instructors": {name: {} for name in INSTRUCTORS},
    }
    return instruct_config(tmp_path, str(tmp_path / "runs"), **(settings | instruct))


def _run(config: Path, *overrides: str, **start: Any) -> dict[str, Any]:
    run = RunDir.create(load_config(config, list(overrides)), "instruct")
    result = asyncio.run(drive(run, policy_decision, start={"mode": "instructions", **start}))
    assert result.outcome == "completed"
    return result.values


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_offline_run_writes_every_category_without_near_duplicates(tmp_path: Path) -> None:
    values = _run(_config(tmp_path))
    records = _records(tmp_path / "instructions.jsonl")
    assert Counter(r["category"] for r in records) == {name: COUNT for name in INSTRUCTORS}
    assert all(r["response"].strip() for r in records)
    assert all(r.get("system") for r in records if r["category"] == "orca")
    index = EmbeddingIndex(0.35)  # no two records within the threshold (awareness repeats a question with a context)
    firsts = [r for r in records if not (r["category"] == "awareness" and r.get("system"))]
    assert all(index.add_all([dedup_key(r["category"], r["instruction"]) for r in firsts]))
    assert sum(1 for r in records if r["category"] == "awareness") == COUNT and all(
        r["response"] for r in records if r["category"] in ("awareness", "card")
    )  # written by the instructor itself, two records per awareness question
    run = Path(values["outputs"]["records"]).parent / "runs"
    [folder] = run.iterdir()
    sharegpt = _records(folder / "sharegpt.jsonl")
    assert len(sharegpt) == len(records) and sharegpt[0]["conversations"][-1]["from"] == "gpt"
    assert _records(folder / "alpaca.jsonl")[0]["output"] == records[0]["response"]
    assert "| general | 4 | 0 | 4 | 4 |" in (folder / "report.md").read_text()


def test_a_users_airoboros_prompt_files_write_the_records(tmp_path: Path) -> None:
    prompt = tmp_path / "my_general.txt"
    prompt.write_text(
        "Help me write {batch_size} varied tasks in {language}. {topic_avoidance}\n{topics}\n{flesch}\n\n"
        "Response format:\nTSK 1. [task 1]\nTSK 2. [task 2]\n...\n"
    )
    answer = tmp_path / "my_answer.txt"
    answer.write_text("Reply in {language}, briefly.\n\n{instruction}")
    own = {"coding": {"prompt_path": str(prompt), "response_prompt_path": str(answer), "count": 5}}
    values = _run(_config(tmp_path, dedup="exact", instructors=own))
    records = _records(tmp_path / "instructions.jsonl")
    topics = (tmp_path / "topics.txt").read_text().splitlines()
    assert len(records) == 5 and values["progress"]["coding"]["skipped"] == {}
    assert all(any(topic in r["instruction"] for topic in topics) for r in records)
    # the model read the user's prompts: general tasks (no coding prompt), answered after "Reply in English"
    assert not any(r["instruction"].startswith("Write a ") for r in records)
    assert all(r["response"].startswith("Answer to: Reply in English, briefly.") for r in records)


def test_an_earlier_rounds_instructions_are_not_written_again(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _run(_config(first.mkdir() or first, dedup="exact"))
    earlier = _records(first / "instructions.jsonl")
    later = _run(_config(second.mkdir() or second, dedup="exact"), earlier_datasets=[str(first / "instructions.jsonl")])
    records = _records(second / "instructions.jsonl")
    known = {dedup_key(r["category"], r["instruction"]) for r in earlier}
    assert records and not known & {dedup_key(r["category"], r["instruction"]) for r in records}
    skipped = sum(p["skipped"].get("too_similar", 0) for p in later["progress"].values())
    assert skipped > 0, later["progress"]  # the same seed writes the first run's tasks again: each one was refused


def test_budget_stop_then_append_resume_adds_exactly_the_missing_records(tmp_path: Path) -> None:
    config = _config(tmp_path)
    stopped = _run(config, "llm.max_tokens_total=6000")
    assert stopped["stop_reason"] == "budget"
    first = _records(tmp_path / "instructions.jsonl")
    assert 0 < len(first) < COUNT * len(INSTRUCTORS)
    resumed = _run(config)  # a new run, append: true (the default), no budget
    records = _records(tmp_path / "instructions.jsonl")
    assert records[: len(first)] == first  # nothing written before is lost or rewritten
    assert Counter(r["category"] for r in records) == {name: COUNT for name in INSTRUCTORS}
    assert len({(r["instruction"], r.get("system")) for r in records}) == len(records)
    added = sum(p["written"] for p in resumed["progress"].values())
    assert added == len(records) - len(first) and resumed["stop_reason"] is None


def test_an_existing_output_without_append_or_overwrite_is_refused(tmp_path: Path) -> None:
    (tmp_path / "instructions.jsonl").write_text("")
    config = _config(tmp_path, append=False)
    run = RunDir.create(load_config(config), "instruct")
    with pytest.raises(Exception, match="append are both false"):
        asyncio.run(drive(run, policy_decision, start={"mode": "instructions"}))


def _evoforge(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """``evoforge ARGS`` in a subprocess, its output to ``cwd/evoforge.log`` (never a pipe that could fill up)."""
    log = (cwd / "evoforge.log").open("a")
    command = [sys.executable, "-m", "evoforge.cli", "-q", *args]
    return subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, text=True)


def _finish(process: subprocess.Popen[str], cwd: Path, timeout: float) -> None:
    assert process.wait(timeout=timeout) == 0, (cwd / "evoforge.log").read_text()[-3000:]


@pytest.mark.slow
def test_the_shipped_example_config_runs_offline_end_to_end(tmp_path: Path) -> None:
    """generate-topics then generate-instructions with configs/airoboros-example.yaml (embedding de-duplication)."""
    for command in ("generate-topics", "generate-instructions"):
        done = _evoforge("instruct", command, "--config", "airoboros-example", "--runs-dir", "runs", cwd=tmp_path)
        _finish(done, tmp_path, timeout=170)
    cfg = load_config("airoboros-example")
    records = _records(tmp_path / "instructions.jsonl")
    counts = Counter(r["category"] for r in records)
    assert set(counts) == set(cfg.instruct.instructors) - {"character"}  # character writes cards (characters/)
    assert len(records) >= 0.95 * sum(cfg.instruct.count(name) for name in cfg.instruct.instructors)
    index = EmbeddingIndex(cfg.instruct.min_docsearch_score)  # the first pass's tasks are no near duplicates
    firsts = [r for r in records if not isinstance(REGISTRY[r["category"]], Dependent)]
    firsts = [
        r for r in firsts if not (r["category"] == "awareness" and (r.get("system") or "skip_prompt_formatting" in r))
    ]
    assert all(index.add_all([dedup_key(r["category"], r["instruction"]) for r in firsts]))


@pytest.mark.slow
def test_kill_9_then_resume_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    config = _config(tmp_path, default_count=6, dedup="exact")  # durability is tested here, not the dedup rule
    slow = ["--set", "llm.models.sim={model: sim/skills, params: {latency: 0.05}}", "--run-id", "killed"]
    slow += ["--config", str(config)]
    process = _evoforge("instruct", "generate-instructions", *slow, cwd=tmp_path)
    output = tmp_path / "instructions.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not output.is_file() or len(output.read_text().splitlines()) < 8):
        assert process.poll() is None, (tmp_path / "evoforge.log").read_text()[-3000:]
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = _records(output)
    assert 8 <= len(before) < 6 * len(INSTRUCTORS)
    _finish(_evoforge("resume", "killed", "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path), tmp_path, timeout=150)
    records = _records(output)
    assert records[: len(before)] == before
    assert Counter(r["category"] for r in records) == {name: 6 for name in INSTRUCTORS}
    assert len({(r["instruction"], r.get("system")) for r in records}) == len(records)  # awareness: a question twice


def test_cull_keeps_the_judges_best_of_each_group_of_near_duplicates(tmp_path: Path) -> None:
    poem = "Write a short poem about the sea at night"
    full = "The sea at night: a short poem, where the waves write silver lines and the night keeps the sea."
    records = [
        {"instruction": poem + ".", "response": "Waves.", "category": "writing"},
        {
            "instruction": "Name three birds that hunt at night.",
            "response": "Owls, nightjars, frogmouths.",
            "category": "trivia",
        },
        {"instruction": poem + "!", "response": full, "category": "writing"},  # the simulated judge's best
        {"instruction": poem.lower(), "response": "Night sea.", "category": "general"},  # near, in another category
    ]
    source = tmp_path / "records.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    config = tmp_path / "cull.yaml"
    config.write_text(yaml.safe_dump({"instruct": {"dedup": "rouge"}}))
    args = ["--config", str(config), "--input", str(source), "--output", "kept.jsonl", "--run-id", "culled"]
    _finish(_evoforge("instruct", "cull", *args, "--runs-dir", "runs", cwd=tmp_path), tmp_path, timeout=120)
    assert _records(tmp_path / "kept.jsonl") == [records[1], records[2]]  # the file's order kept
    run = tmp_path / "runs" / "culled"
    assert _records(run / "culled.jsonl") == [records[1], records[2]]
    [group] = _records(run / "cull_groups.jsonl")
    assert group["kept"] == 2 and [m["index"] for m in group["members"]] == [0, 2, 3]
    assert max(m["grade"] for m in group["members"]) == group["members"][1]["grade"]
    assert "Groups: 1, dropped 2, kept 2" in (run / "report.md").read_text()
    assert json.loads((run / "manifest.json").read_text())["status"] == "completed"


@pytest.mark.slow
def test_airoboros_own_example_config_runs_as_written_with_every_instructor(tmp_path: Path) -> None:
    """airoboros v2.2.2's example-config.yaml (only the model and embedding model pointed at local stand-ins) through
    airoboros' own command line; the counts are cut on the command line (the file's 100s take ~3 minutes)."""
    source = Path(__file__).parents[1] / "data" / "airoboros-v2.2.2-example.yaml"
    names = [ALIASES.get(name, name) for name in yaml.safe_load(source.read_text())["instructors"]]
    assert len(names) == 26 and {"awareness", "card", "character", "rp", "stylized_response", "gtkm"} <= set(names)
    counts = [f"--set=instruct.instructors.{name}.count=3" for name in names]
    for command, extra in (("generate-topics", []), ("generate-instructions", counts)):
        done = _evoforge("instruct", command, "--config-path", str(source), "--runs-dir", "runs", *extra, cwd=tmp_path)
        _finish(done, tmp_path, timeout=120)
    written = Counter(r["category"] for r in _records(tmp_path / "instructions.jsonl"))
    assert all(written[name] >= 3 for name in names if name != "character"), written  # rp, gtkm: 1 record a turn
    assert all(written[name] == 3 for name in names if name not in ("character", "rp", "gtkm")), written
    cards = list((tmp_path / "characters").glob("*.json"))  # character writes cards, as airoboros (output_dir)
    assert len(cards) == 3 and written["character"] == 0 and (tmp_path / "topics.txt").is_file()
    unsupported = load_config(source).instruct.unsupported
    assert all(item.split(" ", 1)[0] in NOT_APPLICABLE for item in unsupported), unsupported
    assert "warning" not in (tmp_path / "evoforge.log").read_text().lower()
