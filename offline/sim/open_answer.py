"""The simulated model's answers to, and grades of, instructions outside the skills world (any text).

An answer restates the request in a heading and gives one point per content word of the task (its topic), in the
task's language, following the constraints it recognises: a word limit, bullets instead of numbers, an audience, an
example, one more requirement. A task that asks for one word, a title, a label or a yes/no gets a one-line answer.
It has no knowledge: its points are about the request, not a real solution.

Grading on any text (:func:`open_grade`): with a reference of free text, the share of the reference's content
words the answer holds; without one, the share of the instruction's content words it covers, plus whether it has
a reasonable length (a word limit it breaks counts as too long).
"""

from __future__ import annotations

import re

from evoforge.offline.sim.any_text import AUDIENCES, KIND_PATTERNS, constraint_kinds, split_input
from evoforge.offline.sim.reader import language_of

_WORD = re.compile(r"[^\W\d_][\w'-]*|[\u4e00-\u9fff]{1,2}")
_STOP_TEXT = (
    "a an the and or but if of to in on at by for with from as is are was were be been it its this that these "
    "those i you he she we they me my your our their there here so not no yes do does can could would should will "
    "what which who whom how why when where about into than then also some any each every all more most other such "
    "write generate give make explain describe list answer keep present include use tell create provide suggest "
    "following given words word under least one two three it's don't doesn't please between anything something "
    "there's way ways like just very much many get got has have had"
)
_STOP = frozenset(_STOP_TEXT.split())
_TERSE = re.compile(
    r"\b(one|single) word\b|\btitle\b|\byes or no\b|\btrue or false\b|\bclassify\b|\blabel\b|한 단어|제목|标题|一个词",
    re.IGNORECASE,
)
_SENTENCES = re.compile(r"(?<=[.!?])\s+|(?<=[。？！])\s*")
_LIMIT = re.compile(r"(?:under|at most|no more than|fewer than|within)\s+(\d+)\s+words|(\d+)\s*단어|不超过\s*(\d+)")
_FRAMES: dict[str, dict[str, str]] = {
    "en": {
        "head": "Answer to: {request}",
        "input": "Working from the input: {given}",
        "audience": "Written for {audience}.",
        "example": "Example: {word} in a typical case, shown step by step.",
        "requirement": "Reasoning: each point follows from what the request asks about {word}.",
        "summary": "In short, the answer covers {words}.",
    },
    "ko": {
        "head": "요청에 대한 답변: {request}",
        "input": "입력을 바탕으로: {given}",
        "audience": "{audience}을(를) 위한 설명입니다.",
        "example": "예시: 일반적인 경우의 {word}.",
        "requirement": "근거: 각 항목은 {word}에 대한 요청에서 나옵니다.",
        "summary": "요약하면, 답변은 {words}을(를) 다룹니다.",
    },
    "zh": {
        "head": "回答：{request}",
        "input": "根据输入：{given}",
        "audience": "面向{audience}。",
        "example": "例子：典型情况下的{word}。",
        "requirement": "理由：每一点都来自对{word}的要求。",
        "summary": "总之，回答涵盖了{words}。",
    },
}
_POINTS: dict[str, tuple[str, ...]] = {
    "en": (
        "{word}: the first thing to settle, since the rest builds on it.",
        "{word}: covered with the concrete details the request asks for.",
        "{word}: weighed against the other points, with its trade-offs.",
        "{word}: closed with a practical next step.",
    ),
    "ko": (
        "{word}: 나머지 내용의 바탕이 되므로 먼저 정리합니다.",
        "{word}: 요청이 요구하는 구체적인 내용을 담았습니다.",
        "{word}: 다른 항목과 비교해 장단점을 따집니다.",
        "{word}: 실천할 수 있는 다음 단계로 마무리합니다.",
    ),
    "zh": (
        "{word}：其余内容都以此为基础，先说明这一点。",
        "{word}：按请求给出具体细节。",
        "{word}：与其他要点比较，说明利弊。",
        "{word}：最后给出可行的下一步。",
    ),
}
TOPIC_POINTS = 4  # as many as each language has points
FREE_TEXT_WORDS = 8  # a reference longer than this is free text, graded by overlap (shorter ones must match)


def content_words(text: str) -> list[str]:
    """The text's content words in order, lower-cased and without repeats or stop words."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word not in _STOP and len(word) > 1:
            seen.setdefault(word, None)
    return list(seen)


def word_limit(task: str) -> int | None:
    """The word limit the task sets, if any."""
    m = _LIMIT.search(task)
    return int(next(g for g in m.groups() if g)) if m else None


def _audience(task: str, lang: str) -> str | None:
    return next((a for a in AUDIENCES[lang] if a in task), None)


def compose_answer(text: str) -> str:
    """A coherent answer to an instruction outside the skills world (deterministic in its text)."""
    task, given = split_input(text)
    lang = language_of(task)
    frame = _FRAMES[lang]
    sentences = _SENTENCES.split(task)
    core = [s for s in sentences if not any(p.search(s) for p in KIND_PATTERNS.values())] or sentences
    topic = content_words(" ".join(core)) or ["request"]
    if _TERSE.search(task):
        return " ".join(content_words(given)[:4] or topic[:4]).capitalize()
    kinds = constraint_kinds(task)
    lines = [frame["head"].format(request=core[0])]
    if given:
        lines.append(frame["input"].format(given=given.splitlines()[0][:80]))
    if audience := _audience(task, lang):
        lines.append(frame["audience"].format(audience=audience))
    bullet = "bullet" in task.lower()
    points = [point.format(word=w.capitalize()) for point, w in zip(_POINTS[lang], topic, strict=False)]
    lines += [f"- {p}" if bullet else f"{i}. {p}" for i, p in enumerate(points, 1)]
    if "example" in kinds:
        lines.append(frame["example"].format(word=topic[0]))
    if "requirement" in kinds:
        lines.append(frame["requirement"].format(word=topic[0]))
    lines.append(frame["summary"].format(words=", ".join(topic[:TOPIC_POINTS])))
    limit = word_limit(task)
    while limit is not None and len(lines) > 2 and len(" ".join(lines).split()) > limit:
        del lines[-2]  # drop points from the end, keeping the heading and the summary
    return "\n".join(lines)


def _share(wanted: list[str], answer: str) -> float:
    have = set(content_words(answer))
    return sum(w in have for w in wanted) / len(wanted) if wanted else 0.0


def open_grade(question: str, reference: str | None, answer: str) -> tuple[int, str]:
    """A 1-10 grade of an answer to any text, with its reason (see the module docstring for the rule)."""
    if reference:
        share = _share(content_words(reference), answer)
        return 2 + round(8 * share), f"The answer holds {share:.0%} of the reference answer's content words."
    task, given = split_input(question)
    share = _share(content_words(f"{task} {given}"), answer)
    words, limit = len(answer.split()), word_limit(task)
    sized = words >= 1 if _TERSE.search(task) else words >= 10 and (limit is None or words <= limit)
    reason = f"The answer covers {share:.0%} of the request's content words"
    return 1 + round(7 * share) + 2 * sized, reason + (
        " at a fitting length." if sized else ", at an unfitting length."
    )
