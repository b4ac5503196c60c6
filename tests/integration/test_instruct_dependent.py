"""The second pass offline: character cards, then rp, gtkm, stylized_response and editor on what the first pass
wrote, in one ``evoforge instruct generate-instructions`` run; a run stopped in the second pass resumes without
writing anything twice."""

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

from evoforge.data.formats import load_examples
from evoforge.graphs.driver import drive
from evoforge.graphs.review import policy_decision
from evoforge.instruct.output import read_records
from evoforge.runs import RunDir
from evoforge.settings import load_config

FIRST = {"writing": 3, "general": 3, "trivia": 3, "wordgame": 2}
SECOND = {
    "character": {"count": 4, "batch_size": 2, "output_dir": "characters"},
    "rp": {"count": 2, "turn_count": 6},
    "stylized_response": {"count": 4, "batch_size": 3, "categories": ["general", "trivia", "wordgame"]},
    "gtkm": {"count": 2, "question_count": 4},
    "editor": {"count": 2},
}


def _config(tmp_path: Path, **instructors: Any) -> Path:
    first = {name: {"count": n} for name, n in FIRST.items()}
    return instruct_config(
        tmp_path,
        "runs",
        dedup="exact",
        topic_request_count=2,
        default_batch_size=3,
        instructors={**first, **SECOND, **instructors},
    )


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _conversations(records: list[dict[str, Any]], name: str) -> int:
    return sum(1 for r in records if r["category"] == name and not r.get("skip_counting"))


def test_every_dependent_instructor_writes_in_one_generate_instructions_run(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "evoforge.cli", "-q", "instruct", "generate-instructions", "--config"]
    done = subprocess.run([*command, str(_config(tmp_path))], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = _records(tmp_path / "instructions.jsonl")
    counts = Counter(r["category"] for r in records)
    assert {name: counts[name] for name in FIRST} == FIRST
    cards = sorted((tmp_path / "characters").glob("*.json"))  # airoboros' output_dir, from the working directory
    assert len(cards) == 4 and len({json.loads(p.read_text())["name"] for p in cards}) == 4
    for name in ("rp", "gtkm"):  # count is of conversations; each has several rows
        assert _conversations(records, name) == 2 and counts[name] > 2
    rp = [r for r in records if r["category"] == "rp"]
    assert all(r["skip_prompt_formatting"] and r["messages"][-1]["content"] == r["response"] for r in rp)
    assert all(len(r["messages"]) <= 6 and r["instruction"].startswith("This is a chat between") for r in rp)
    gtkm = [r for r in records if r["category"] == "gtkm"]
    assert all(r["instruction"].startswith("A chat between ") and ": " in r["response"] for r in gtkm)
    stylized = [r for r in records if r["category"] == "stylized_response"]
    sources = {r["instruction"] for r in records if r["category"] in ("general", "trivia", "wordgame")}
    assert len(stylized) == 4 and all(r["system"].startswith("Take on the role of") for r in stylized)
    assert {r["instruction"] for r in stylized} <= sources and len({r["instruction"] for r in stylized}) == 4
    editor = [r for r in records if r["category"] == "editor"]
    writing = {r["response"] for r in records if r["category"] == "writing"}
    assert len(editor) == 2 and all(r["response"] in writing and r["response"] not in r["instruction"] for r in editor)
    examples = load_examples(tmp_path / "instructions.jsonl")  # what training reads: the chats as conversations
    chats = [e for e in examples if e.category == "rp" and e.history]
    assert chats and all(e.system and e.history[0].role == "user" for e in chats)
    [run] = (tmp_path / "runs").iterdir()
    sharegpt = _records(run / "sharegpt.jsonl")
    assert max(len(row["conversations"]) for row in sharegpt if row["category"] == "gtkm") > 3
    report = (run / "report.md").read_text()
    assert "| character | 4 | 0 | 4 | 4 |" in report and "| rp | 2 | 0 | 2 | 2 |" in report


def _run(config: Path, *overrides: str) -> dict[str, Any]:
    run = RunDir.create(load_config(config, list(overrides)), "instruct")
    result = asyncio.run(drive(run, policy_decision, start={"mode": "instructions"}))
    assert result.outcome == "completed"
    return result.values


def test_a_second_pass_stopped_by_the_budget_resumes_without_writing_anything_twice(tmp_path: Path) -> None:
    cards = str(tmp_path / "characters")  # a run started here (not by the CLI) keeps relative paths in its folder
    config = _config(tmp_path, character={"count": 6, "batch_size": 1, "output_dir": cards})
    stopped = _run(config, "llm.max_tokens_total=9000")
    assert stopped["stop_reason"] == "budget", stopped["progress"]
    first = _records(tmp_path / "instructions.jsonl")
    cards_before = set((tmp_path / "characters").glob("*.json"))
    assert {name: stopped["progress"][name]["total"] for name in FIRST} == FIRST  # it stopped in the second pass
    resumed = _run(config)  # a new run over the same files (append: true), no budget
    records = _records(tmp_path / "instructions.jsonl")
    assert records[: len(first)] == first  # nothing written before is lost or rewritten
    assert len({(r["category"], r["instruction"]) for r in records}) == len(records)
    assert cards_before <= set((tmp_path / "characters").glob("*.json"))
    assert len(list((tmp_path / "characters").glob("*.json"))) == 6
    for name, settings in SECOND.items():
        if name != "character":
            assert resumed["progress"][name]["total"] == settings["count"], resumed["progress"][name]
    assert _conversations(records, "rp") == 2 and _conversations(records, "gtkm") == 2


def test_editor_without_writing_records_writes_nothing_and_says_why(tmp_path: Path) -> None:
    config = tmp_path / "editor.yaml"
    instruct = {"dedup": "exact", "topic_request_count": 1, "instructors": {"general": {"count": 2}, "editor": {}}}
    config.write_text(yaml.safe_dump({"run": {"runs_dir": "runs"}, "instruct": instruct}))
    values = _run(config)
    assert values["progress"]["editor"]["stopped"] == "no writing records"
    assert values["counts"] == {"general": 2}


@pytest.mark.slow
def test_kill_9_in_the_second_pass_then_resume_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    slow = ["--set", "llm.models.sim={model: sim/skills, params: {latency: 0.1}}", "--run-id", "killed"]
    command = [sys.executable, "-m", "evoforge.cli", "-q", "instruct", "generate-instructions", *slow, "--config"]
    log = (tmp_path / "evoforge.log").open("a")
    process = subprocess.Popen([*command, str(_config(tmp_path))], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    output, deadline = tmp_path / "instructions.jsonl", time.monotonic() + 120
    while time.monotonic() < deadline and not any(
        r["category"] in ("gtkm", "stylized_response", "editor") for r in _records_if_any(output)
    ):
        assert process.poll() is None, (tmp_path / "evoforge.log").read_text()[-3000:]
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = read_records(output)  # a record cut short by the kill is dropped, as the resumed run drops it
    assert _conversations(before, "rp") < 2  # killed inside the second pass, before the chats were all written
    resume = [sys.executable, "-m", "evoforge.cli", "-q", "resume", "killed", "--runs-dir", str(tmp_path / "runs")]
    done = subprocess.run(resume, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, timeout=150)
    assert done.returncode == 0, (tmp_path / "evoforge.log").read_text()[-3000:]
    records = _records(output)
    assert records[: len(before)] == before
    assert len({(r["category"], r["instruction"]) for r in records}) == len(records)
    assert len(list((tmp_path / "characters").glob("*.json"))) == 4
    assert _conversations(records, "rp") == 2 and _conversations(records, "gtkm") == 2
    counts = Counter(r["category"] for r in records)
    assert counts["stylized_response"] == 4 and counts["editor"] == 2


def _records_if_any(path: Path) -> list[dict[str, Any]]:
    try:
        return _records(path) if path.is_file() else []
    except json.JSONDecodeError:  # a line being written
        return []
