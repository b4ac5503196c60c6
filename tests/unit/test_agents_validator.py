"""Validator rules: Auto Evol-Instruct's failure rules and Evol-Instruct's elimination rules."""

from __future__ import annotations

import pytest

from evoforge.agents.validator import INSUFFICIENT, LOSS, STAGNANT, eliminate, failure_reason


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        ("Understood. What would you like me to do?", STAGNANT),
        ("Thank you for the instruction. Shall I start?", STAGNANT),
        ("Sure! Which precision do you mean?", INSUFFICIENT),
        ("Sure, could you please provide the numbers?", LOSS),
        ("Could you please provide the list", LOSS),
        ("IDK", "the model does not know (IDK)"),
        ("The answer is \ufffd", "broken characters (U+FFFD)"),
        ("42", None),
        ("Understood, the answer is 42.", None),
        ("Sure. The answer is 42.", None),
        ("I'm sorry, could you rephrase it?", None),  # only with the official code's extra rules
    ],
)
def test_paper_rules(response: str, reason: str | None) -> None:
    assert failure_reason(response) == reason


def test_extra_rules_are_optional() -> None:
    assert failure_reason("I'm sorry, could you rephrase it?", extra_rules=True) == "apology with a question"
    assert failure_reason("That is not possible with these inputs.", extra_rules=True) is not None
    assert failure_reason("That is not possible with these inputs.") is None
    assert failure_reason("12 apples", extra_rules=True) is None


def test_elimination_rules() -> None:
    original = "Compute 7 + 5."
    assert eliminate(original, "Compute 7 + 5, then multiply by 3.", "36") is None
    assert eliminate(original, "compute 7 + 5", "12") == "no information gain"
    assert eliminate(original, "#Rewritten Prompt#:\nCompute 7 + 5, then add 1.", "13") is not None
    assert eliminate(original, "Rewrite the given prompt: Compute 7 + 5 + 1.", "13") is not None
    assert eliminate(original, "Compute 7 + 5 + 1.", "Sorry, I cannot do that.") is not None
    assert eliminate(original, "Compute 7 + 5 + 1.", "Sorry " + "word " * 90) is None
    assert eliminate(original, "Compute 7 + 5 + 1.", "... the, and!") is not None
