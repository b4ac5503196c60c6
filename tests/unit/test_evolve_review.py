"""Answers at the evolve graph's human checkpoints: parsing, policy, and the terminal review with $EDITOR."""

from __future__ import annotations

import pytest
import typer

from evoforge.errors import ConfigError
from evoforge.graphs.review import ask_terminal, parse_decision, policy_decision

METHOD_REVIEW = {
    "checkpoint": "review_method",
    "question": "Approve?",
    "actions": ["approve", "edit", "reject"],
    "method_id": "s1c0",
    "method": "Step 1: list methods.",
    "failure_rate": 0.25,
    "history": [{"step": 1, "best_candidate_rate": 0.25, "selected": "s1c0", "selected_rate": 0.25}],
}


def test_parse_decision_accepts_names_and_checks_edits() -> None:
    assert parse_decision("Approve", allow_edit=False)["action"] == "approve"
    assert parse_decision({"action": "edit", "method": " new "}, allow_edit=True)["method"] == "new"
    with pytest.raises(ConfigError, match="one of"):
        parse_decision({"action": "maybe"}, allow_edit=True)
    with pytest.raises(ConfigError, match="edited method"):
        parse_decision({"action": "edit"}, allow_edit=True)
    with pytest.raises(ConfigError, match="approved or rejected"):
        parse_decision({"action": "edit", "method": "x"}, allow_edit=False)
    assert policy_decision(METHOD_REVIEW) == {"action": "approve", "by": "policy"}


def test_terminal_edit_opens_the_editor(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["maybe", "e"])
    monkeypatch.setattr(typer, "prompt", lambda *a, **k: next(answers))
    monkeypatch.setenv("EDITOR", "sed -i s/list/rank/")
    monkeypatch.delenv("VISUAL", raising=False)
    decision = ask_terminal(METHOD_REVIEW)
    assert decision == {"action": "edit", "method": "Step 1: rank methods.", "by": "terminal"}


def test_terminal_dataset_review_rejects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(typer, "prompt", lambda *a, **k: "r")
    payload = {
        "checkpoint": "review_dataset",
        "actions": ["approve", "reject"],
        "counts": {"kept": 1},
        "sample": [{"instruction": "i", "response": "r", "category": "c", "generation": 1}],
    }
    assert ask_terminal(payload)["action"] == "reject"
