"""How the simulated LLM reads and rewrites an instruction that is not a skills-world task (any text).

An instruction is its task text, then optionally an input after the first blank line (the self-instruct layout the
seed reader produces). Its complexity :func:`level` is one plus the number of constraint kinds (:data:`KINDS`) the
task already carries. Evolving adds one constraint of a kind it lacks (:func:`add_constraint`), written in the
task's language (en, ko, zh). The failed rewrites (:func:`failed_rewrite`) mirror the skills world's: the input
lost behind "the given ...", an unspecified requirement, a comment instead of an instruction, the text unchanged,
or the template header copied. An instruction that refers to an input it does not hold, carries an unspecified
requirement or is a comment cannot be answered (:func:`unanswerable`); the model hands such a text back as it is.
"""

from __future__ import annotations

import re
from random import Random

from evoforge.offline.sim.reader import language_of
from evoforge.offline.world import strip_scaffolding
from evoforge.offline.world.evolution import SCAFFOLD_HEADERS, STAGNANT_TEXTS, VAGUE_CLAUSES

KINDS: tuple[str, ...] = ("length", "format", "audience", "requirement", "example")
WORD_LIMITS = (50, 80, 120)
AUDIENCES: dict[str, tuple[str, ...]] = {
    "en": ("a ten-year-old", "a busy manager", "someone new to the topic"),
    "ko": ("초등학생", "바쁜 관리자", "이 주제를 처음 접하는 사람"),
    "zh": ("十岁的孩子", "忙碌的经理", "初次接触这个话题的人"),
}
CONSTRAINTS: dict[str, dict[str, tuple[str, ...]]] = {
    "length": {
        "en": ("Keep the answer under {n} words.", "Answer in at most {n} words."),
        "ko": ("답변은 {n}단어 이내로 작성하세요.",),
        "zh": ("回答不超过{n}个字。",),
    },
    "format": {
        "en": ("Present the answer as a numbered list.", "Use bullet points for the main ideas."),
        "ko": ("답변을 번호 목록으로 제시하세요.",),
        "zh": ("请用编号列表给出答案。",),
    },
    "audience": {
        "en": ("Write it for {audience}.", "Make it easy to follow for {audience}."),
        "ko": ("{audience}을(를) 대상으로 작성하세요.",),
        "zh": ("请面向{audience}来写。",),
    },
    "requirement": {
        "en": ("Also explain the reasoning behind the answer.", "Also mention one common mistake to avoid."),
        "ko": ("또한 답변의 근거를 설명하세요.",),
        "zh": ("此外，请说明答案的理由。",),
    },
    "example": {
        "en": ("Include one concrete example.", "Give an example for the main point."),
        "ko": ("구체적인 예시를 하나 포함하세요.",),
        "zh": ("请举一个具体的例子。",),
    },
}
# how a constraint of each kind reads, in our own phrasing and in the usual phrasings of instructions
KIND_PATTERNS: dict[str, re.Pattern[str]] = {
    "length": re.compile(
        r"\b(under|at most|no more than|fewer than|within)\s+\d+\s+words|\bin (one|a single|two|three) sentences?"
        r"|\d+\s*단어\s*이내|不超过\s*\d+\s*个字",
        re.IGNORECASE,
    ),
    "format": re.compile(r"numbered list|bullet points?|as a table|in json|번호 목록|编号列表", re.IGNORECASE),
    "audience": re.compile(
        r"\b(write it|easy to follow) for\b|\bfor (a|an) (ten-year-old|child|beginner|expert)|대상으로|面向",
        re.IGNORECASE,
    ),
    "requirement": re.compile(r"\balso (explain|mention|describe|list|give)\b|또한|此外", re.IGNORECASE),
    "example": re.compile(r"\b(include|give|provide)\b(\s+\w+){0,3}\s+examples?\b|예시|例子", re.IGNORECASE),
}
OP_KINDS: dict[str, tuple[str, ...]] = {  # the kinds of constraint each in-depth operation prefers
    "add_constraints": ("length", "format", "audience"),
    "deepen": ("requirement",),
    "concretize": ("example", "audience"),
    "reasoning": ("requirement",),
    "complicate_input": ("example", "format"),
}
_GIVEN: dict[str, re.Pattern[str]] = {
    "en": re.compile(r"\bthe given (\w+)"),
    "ko": re.compile(r"주어진\s*(\S+)"),
    "zh": re.compile(r"给定的\s*(\w{1,4})"),
}
_FOLLOWING: dict[str, tuple[re.Pattern[str], str]] = {
    "en": (re.compile(r"\bthe following\b", re.IGNORECASE), "the given"),
    "ko": (re.compile(r"다음(의)?\s*"), "주어진 "),
    "zh": (re.compile(r"以下(的)?"), "给定的"),
}
_LOST: dict[str, tuple[str, str]] = {  # (a question, a task) whose content was replaced by a reference
    "en": ("Answer the given question.", "Complete the given task."),
    "ko": ("주어진 질문에 답하세요.", "주어진 과제를 수행하세요."),
    "zh": ("回答给定的问题。", "完成给定的任务。"),
}
_VAGUE: dict[str, re.Pattern[str]] = {  # a definite requirement whose value is never said
    "en": re.compile(r"\bthe (?:required|appropriate|usual) (\w+(?: guide)?)"),
    "ko": re.compile(r"(?:필요한|적절한|일반적인)\s+(\S+?)(?:을|를|에)?\s"),
    "zh": re.compile(r"(?:所需的|适当的|通常的)(\w{1,4}?)(?:[。，]|$)"),
}
VAGUE_TEXTS: dict[str, str] = {
    "en": VAGUE_CLAUSES["instruct"],
    "ko": "일반적인 관례를 따르세요.",
    "zh": "遵循通常的惯例。",
}
COMMENTS: dict[str, tuple[str, ...]] = {
    "en": STAGNANT_TEXTS,
    "ko": ("이 지시문은 이미 충분히 명확하므로 다시 쓸 필요가 없습니다.",),
    "zh": ("该指令已经足够清楚，无需改写。",),
}
_COMMENT = re.compile(
    r"^(?:(?:The|This) (?:instruction|prompt|request)\b[^?]*\.|이 지시문은.*|(?:该|这条)指令.*)$", re.DOTALL
)
_SENTENCE_END = re.compile(r"[.!?。！？]$")


def split_input(text: str) -> tuple[str, str]:
    """The task text and the input after its first blank line ("" when there is none)."""
    task, _, given = text.strip().partition("\n\n")
    return task.strip(), given.strip()


def constraint_kinds(task: str) -> set[str]:
    """The constraint kinds ``task`` already carries."""
    return {kind for kind, pattern in KIND_PATTERNS.items() if pattern.search(task)}


def level(text: str) -> int:
    """The complexity of an instruction outside the skills world: one plus its constraint kinds."""
    return 1 + len(constraint_kinds(split_input(strip_scaffolding(text))[0]))


def missing_input(text: str) -> str | None:
    """What the instruction refers to as "the given ..." without holding an input, or None."""
    task, given = split_input(text)
    m = _GIVEN[language_of(task)].search(task)
    return m.group(1) if m and not given else None


def vague_requirement(text: str) -> str | None:
    """The unspecified thing a requirement of the instruction asks for ("the required precision"), or None."""
    task = split_input(text)[0]
    m = _VAGUE[language_of(task)].search(task + " ")
    return m.group(1) if m else None


def is_comment(text: str) -> bool:
    """Whether the text is a comment about an instruction rather than an instruction."""
    return bool(_COMMENT.match(text.strip()))


def unanswerable(text: str) -> bool:
    """Whether an answer must ask back: a missing input, an unspecified requirement, or a comment."""
    return missing_input(text) is not None or vague_requirement(text) is not None or is_comment(text)


def _join(task: str, given: str) -> str:
    return f"{task}\n\n{given}" if given else task


def _add_sentence(task: str, sentence: str) -> str:
    if task.endswith((":", "：")):  # a task that introduces its input keeps that role: the constraint goes first
        return f"{sentence} {task}"
    separator = " " if _SENTENCE_END.search(task) else ". "
    return f"{task}{separator}{sentence}"


def add_constraint(text: str, op: str, rng: Random) -> str | None:
    """``text`` with one more constraint of a kind it lacks (the kinds ``op`` prefers first); None when it has all."""
    task, given = split_input(text)
    lang = language_of(task)
    present = constraint_kinds(task)
    choices = [k for k in OP_KINDS[op] if k not in present] or [k for k in KINDS if k not in present]
    if not choices:
        return None
    kind = rng.choice(choices)
    sentence = rng.choice(CONSTRAINTS[kind][lang]).format(
        n=rng.choice(WORD_LIMITS), audience=rng.choice(AUDIENCES[lang])
    )
    return _join(_add_sentence(task, sentence), given)


def _lose_input(task: str, lang: str) -> str:
    pattern, given = _FOLLOWING[lang]
    if pattern.search(task):
        lost = pattern.sub(given, task, count=1).rstrip(":： ")
        return lost if _SENTENCE_END.search(lost) else lost + ("。" if lang == "zh" else ".")
    question, other = _LOST[lang]
    return question if "?" in task or "？" in task else other


def failed_rewrite(text: str, failure: str, rng: Random, op: str) -> str:
    """A rewrite of ``text`` that failed in the way ``failure`` names (the skills world's failure kinds)."""
    evolved = add_constraint(text, op, rng) or text
    task, given = split_input(evolved)
    lang = language_of(task)
    if failure == "loss":
        return _lose_input(task, lang)
    if failure == "vague":
        return _join(_add_sentence(task, VAGUE_TEXTS[lang]), given)
    if failure == "stagnant":
        return rng.choice(COMMENTS[lang])
    if failure == "unchanged":
        return text
    if failure == "scaffold":
        return f"{rng.choice(SCAFFOLD_HEADERS)}\n{evolved}"
    raise ValueError(f"unknown failure {failure!r}")
