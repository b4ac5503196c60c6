"""The simulated model answering instructions and judging answers.

A skills-world instruction gets its oracle answer (a near miss at the configured error rate). An instruction
that cannot be answered gets the reply a chat model gives — asking for what is missing ("Sure, could you please
provide the numbers?"), asking what a vague requirement means, or acknowledging a comment ("Understood. ...?") —
so the Auto Evol-Instruct failure rules fire on them naturally. Any other text gets a structured answer
(:func:`open_answer.compose_answer`) and is judged by :func:`open_answer.open_grade`.
"""

from __future__ import annotations

import difflib
from random import Random
from typing import Any

from evoforge.offline.sim.any_text import is_comment, missing_input, vague_requirement
from evoforge.offline.sim.open_answer import FREE_TEXT_WORDS, compose_answer, open_grade
from evoforge.offline.sim.reader import language_of
from evoforge.offline.world import check_answer, near_miss, parse_instruction, strip_scaffolding
from evoforge.offline.world.fragments import answer_from_fragments, question_about_fragment
from evoforge.offline.world.tasks import Task

ASKS: dict[str, tuple[str, str, str]] = {  # asking for a missing input, for a vague requirement, after a comment
    "en": (
        "Sure, could you please provide the {x}?",
        "Sure! Which {x} do you mean?",
        "Understood. Is there a specific instruction you would like me to follow?",
    ),
    "ko": (
        "네, {x} 내용을 먼저 알려 주시겠어요?",
        "네! 어떤 {x}을(를) 말씀하시는 건가요?",
        "알겠습니다. 따라야 할 구체적인 지시가 있을까요?",
    ),
    "zh": ("好的，请提供{x}好吗？", "好的！您指的是哪种{x}？", "明白了。您有具体的指令需要我执行吗？"),
}


def answer_reply(instruction: str, rng: Random, error_rate: float) -> str:
    """The answer to ``instruction``."""
    text = strip_scaffolding(instruction)
    task = parse_instruction(text)
    if task is not None:
        return near_miss(task, rng) if rng.random() < error_rate else task.answer
    if (question := question_about_fragment(text, rng)) is not None:
        return question
    if (fact := answer_from_fragments(text)) is not None:
        return fact
    asks = ASKS[language_of(text)]
    if noun := missing_input(text):
        return asks[0].format(x=noun)
    if thing := vague_requirement(text):
        return asks[1].format(x=thing)
    if not text or is_comment(text):
        return asks[2]
    return compose_answer(text)


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


def _asks_back(answer: str) -> bool:
    return answer.strip().endswith("?") or "sorry" in answer.lower()


def _open(task: Task | None, reference: str | None) -> bool:
    """Whether the question is judged as any text: no oracle, and no reference or one of free text."""
    return task is None and (reference is None or len(reference.split()) > FREE_TEXT_WORDS)


def grade_reply(question: str, reference: str, answer: str) -> dict[str, Any]:
    """A 1-10 grade with a one-sentence reason."""
    task, ref = _oracle(question, reference)
    if _asks_back(answer) and (ref is None or not _correct(task, ref, answer)):
        return {"score": 1, "reason": "The answer does not answer the question."}
    if _open(task, ref):
        score, reason = open_grade(question, ref, answer)
        return {"score": score, "reason": reason}
    assert ref is not None  # a question with an oracle has a reference
    if _correct(task, ref, answer):
        return {"score": 10, "reason": "The answer is exactly right."}
    score = 2 + round(4 * _closeness(ref, answer))
    return {"score": score, "reason": f"The answer is wrong; the correct answer is {ref}."}


def compare_reply(question: str, reference: str, a: str, b: str) -> dict[str, Any]:
    """The better of two answers ("A", "B" or "tie")."""
    task, ref = _oracle(question, reference)
    if _open(task, ref):
        grade_a, grade_b = (grade_reply(question, reference, x)["score"] for x in (a, b))
        if abs(grade_a - grade_b) < 2:
            return {"winner": "tie", "reason": "Both answers are about as good."}
        return {"winner": "A" if grade_a > grade_b else "B", "reason": "One answer covers the question much better."}
    assert ref is not None
    ok_a, ok_b = _correct(task, ref, a), _correct(task, ref, b)
    if ok_a != ok_b:
        return {"winner": "A" if ok_a else "B", "reason": "Only one answer is right."}
    if ok_a:
        return {"winner": "tie", "reason": "Both answers are right."}
    near_a, near_b = _closeness(ref, a), _closeness(ref, b)
    if abs(near_a - near_b) < 0.2:
        return {"winner": "tie", "reason": "Both answers are equally wrong."}
    return {"winner": "A" if near_a > near_b else "B", "reason": "Both are wrong, but one is much closer."}
