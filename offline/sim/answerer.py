"""The simulated model answering instructions and judging answers.

A skills-world instruction gets its oracle answer (a near miss at the configured error rate). An instruction
that cannot be answered gets the reply a chat model gives — asking for what is missing ("Sure, could you please
provide the numbers?"), asking what a vague requirement means, or acknowledging a comment ("Understood. ...?") —
so the Auto Evol-Instruct failure rules fire on them naturally.
"""

from __future__ import annotations

import difflib
import re
from random import Random
from typing import Any

from evoforge.offline.world import check_answer, near_miss, parse_instruction, strip_scaffolding
from evoforge.offline.world.fragments import answer_from_fragments
from evoforge.offline.world.tasks import Task

_GIVEN = re.compile(r"\bthe given (\w+)")
_VAGUE = re.compile(r"\b(?:required|appropriate|usual) (\w+(?: guide)?)")
_TASK_START = re.compile(r"^(Compute|Take|Write)\b")


def answer_reply(instruction: str, rng: Random, error_rate: float) -> str:
    """The answer to ``instruction``."""
    text = strip_scaffolding(instruction)
    task = parse_instruction(text)
    if task is not None:
        return near_miss(task, rng) if rng.random() < error_rate else task.answer
    if (fact := answer_from_fragments(text)) is not None:
        return fact
    if m := _GIVEN.search(text):
        return f"Sure, could you please provide the {m.group(1)}?"
    if m := _VAGUE.search(text):
        return f"Sure! Which {m.group(1)} do you mean?"
    if not _TASK_START.match(text):
        return "Understood. Is there a specific instruction you would like me to follow?"
    return "I'm sorry, I don't understand this request. Could you rephrase it?"


def _oracle(question: str, reference: str) -> tuple[Task | None, str | None]:
    task = parse_instruction(strip_scaffolding(question))
    ref = reference.strip()
    if ref and ref.lower() not in ("(none)", "none", "n/a"):
        return task, ref
    return task, task.answer if task is not None else None


def _correct(task: Task | None, reference: str | None, answer: str) -> bool:
    if reference is not None and answer.strip().rstrip(".") == reference.strip().rstrip("."):
        return True
    return task is not None and (reference is None or reference == task.answer) and check_answer(task, answer)


def _closeness(reference: str, answer: str) -> float:
    return difflib.SequenceMatcher(None, reference.strip(), answer.strip()).ratio()


def grade_reply(question: str, reference: str, answer: str) -> dict[str, Any]:
    """A 1-10 grade with a one-sentence reason."""
    task, ref = _oracle(question, reference)
    if ref is None:
        return {"score": 5, "reason": "The question cannot be checked, so the answer is neither right nor wrong."}
    if _correct(task, ref, answer):
        return {"score": 10, "reason": "The answer is exactly right."}
    if answer.strip().endswith("?") or "sorry" in answer.lower():
        return {"score": 1, "reason": "The answer does not answer the question."}
    score = 2 + round(4 * _closeness(ref, answer))
    return {"score": score, "reason": f"The answer is wrong; the correct answer is {ref}."}


def compare_reply(question: str, reference: str, a: str, b: str) -> dict[str, Any]:
    """The better of two answers ("A", "B" or "tie")."""
    task, ref = _oracle(question, reference)
    if ref is None:
        return {"winner": "tie", "reason": "The question cannot be checked."}
    ok_a, ok_b = _correct(task, ref, a), _correct(task, ref, b)
    if ok_a != ok_b:
        return {"winner": "A" if ok_a else "B", "reason": "Only one answer is right."}
    if ok_a:
        return {"winner": "tie", "reason": "Both answers are right."}
    near_a, near_b = _closeness(ref, a), _closeness(ref, b)
    if abs(near_a - near_b) < 0.2:
        return {"winner": "tie", "reason": "Both answers are equally wrong."}
    return {"winner": "A" if near_a > near_b else "B", "reason": "Both are wrong, but one is much closer."}
