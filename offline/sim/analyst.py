"""The simulated optimizer LLM: analyses evolution trajectories and rewrites evolving methods from feedback."""

from __future__ import annotations

import re
from random import Random
from typing import Any

from evoforge.offline.sim import any_text
from evoforge.offline.sim.method_text import CLAUSES, FEEDBACK, WEAK_CLAUSES, addressed, drop_rule, insert_clauses
from evoforge.offline.world import FAILURES, complexity, has_scaffolding

_CASE = re.compile(r"^Case (?P<id>\S+?):\s*$", re.MULTILINE)
_STAGE = re.compile(r"^Stage (?P<k>\d+):[ \t]*(?P<text>.*)$", re.MULTILINE)
MISS_RATE = 0.1  # under sampling, the analyzer overlooks a failed case this often
FIX_RATE, WEAK_RATE, PREFERENCE_RATE, OVEREDIT_RATE = 0.7, 0.15, 0.2, 0.1

REASONS: dict[str, dict[str, str]] = {
    "en": {
        "loss": "Stage {k} lost key information: the input data was dropped and replaced by 'the given ...'.",
        "vague": "Stage {k} added a vague, unspecified requirement without its exact value.",
        "stagnant": "Stage {k} is a comment instead of a rewritten instruction.",
        "unchanged": "Stage {k} came back unchanged, with no complexity gain.",
        "scaffold": "Stage {k} copied the template header '#Rewritten Prompt#' into the instruction.",
    },
    "ko": {
        "loss": "Stage {k}에서 핵심 정보가 사라졌습니다: 입력 데이터가 '주어진 ...'으로 바뀌었습니다.",
        "vague": "Stage {k}에서 정확한 값이 없는 모호한 요구 사항이 추가되었습니다.",
        "stagnant": "Stage {k}는 재작성된 지시문이 아니라 설명문입니다.",
        "unchanged": "Stage {k}는 그대로이며 복잡도가 늘지 않았습니다.",
        "scaffold": "Stage {k}에 템플릿 헤더 '#Rewritten Prompt#'가 복사되었습니다.",
    },
    "zh": {
        "loss": "Stage {k} 丢失了关键信息：输入数据被“给定的……”取代。",
        "vague": "Stage {k} 添加了没有确切值的模糊要求。",
        "stagnant": "Stage {k} 是一段评论，而不是改写后的指令。",
        "unchanged": "Stage {k} 保持不变，复杂度没有提升。",
        "scaffold": "Stage {k} 把模板标题 '#Rewritten Prompt#' 复制进了指令。",
    },
}
SUMMARY: dict[str, dict[str, str]] = {
    "en": {
        "loss": "In {n} of {total} cases key information was lost: the rewrite dropped the input data.",
        "vague": "In {n} of {total} cases the rewrite added a vague, unspecified requirement.",
        "stagnant": "In {n} of {total} cases the evolver wrote a comment instead of a rewritten instruction.",
        "unchanged": "In {n} of {total} cases the instruction came back unchanged, with no complexity gain.",
        "scaffold": "In {n} of {total} cases the rewrite copied the template header '#Rewritten Prompt#'.",
        "success": "All cases evolved successfully; keep the method as it is.",
    },
    "ko": {
        "loss": "{total}개 중 {n}개 사례에서 핵심 정보가 사라졌습니다: 입력 데이터가 빠졌습니다.",
        "vague": "{total}개 중 {n}개 사례에서 모호한 요구 사항이 추가되었습니다.",
        "stagnant": "{total}개 중 {n}개 사례에서 재작성된 지시문 대신 설명문이 나왔습니다.",
        "unchanged": "{total}개 중 {n}개 사례에서 지시문이 그대로였습니다.",
        "scaffold": "{total}개 중 {n}개 사례에서 템플릿 헤더 '#Rewritten Prompt#'가 복사되었습니다.",
        "success": "모든 사례가 성공적으로 진화했습니다.",
    },
    "zh": {
        "loss": "{total} 个案例中有 {n} 个丢失了关键信息：改写丢掉了输入数据。",
        "vague": "{total} 个案例中有 {n} 个添加了模糊的要求。",
        "stagnant": "{total} 个案例中有 {n} 个输出了评论而不是改写后的指令。",
        "unchanged": "{total} 个案例中有 {n} 个指令保持不变。",
        "scaffold": "{total} 个案例中有 {n} 个复制了模板标题 '#Rewritten Prompt#'。",
        "success": "所有案例都演化成功。",
    },
}
PREFERENCES = (
    "Prefer adding constraints and increasing the reasoning steps.",
    "Prefer to deepen the task and complicate the input.",
    "Prefer to concretize the requested answer and add constraints.",
)


def classify(previous: str, current: str) -> str | None:
    """How the evolution from ``previous`` to ``current`` failed, or None when it made the task more complex.

    A skills-world task that became anything but a task failed; between texts outside the skills world, a rewrite
    that adds no constraint kind is unchanged (:func:`any_text.level`).
    """
    if current.strip() == previous.strip():
        return "unchanged"
    if has_scaffolding(current):
        return "scaffold"
    level = complexity(current)
    if level == 0:
        if any_text.missing_input(current):
            return "loss"
        if any_text.vague_requirement(current):
            return "vague"
        if complexity(previous) > 0 or any_text.is_comment(current):
            return "stagnant"
        return "unchanged" if any_text.level(current) <= any_text.level(previous) else None
    return "unchanged" if level <= complexity(previous) else None


def _cases(trajectories: str) -> dict[str, list[str]]:
    marks = list(_CASE.finditer(trajectories))
    cases = {}
    for i, m in enumerate(marks):
        body = trajectories[m.end() : marks[i + 1].start() if i + 1 < len(marks) else len(trajectories)]
        cases[m["id"]] = [s["text"].strip() for s in _STAGE.finditer(body)]
    return cases


def analyze_reply(trajectories: str, language: str, rng: Random, sampled: bool) -> dict[str, Any]:
    """Failed cases with reasons, and feedback naming each kind of failure and how often it happened."""
    lang = language if language in REASONS else "en"
    cases = _cases(trajectories)
    reasons: dict[str, str] = {}
    kinds: dict[str, int] = {}
    for case_id, stages in cases.items():
        for k in range(1, len(stages)):
            kind = classify(stages[k - 1], stages[k])
            if kind is None:
                continue
            if not (sampled and rng.random() < MISS_RATE):
                reasons[case_id] = REASONS[lang][kind].format(k=k)
                kinds[kind] = kinds.get(kind, 0) + 1
            break
    if not reasons:
        return {"result": "success", "reasons": {}, "feedback": SUMMARY[lang]["success"]}
    feedback = " ".join(
        SUMMARY[lang][kind].format(n=kinds[kind], total=len(cases)) for kind in FAILURES if kind in kinds
    )
    return {"result": "failure", "reasons": reasons, "feedback": feedback}


def optimize_reply(method: str, feedback: str, language: str, rng: Random, sampled: bool) -> str:
    """The method revised to address the failures named in ``feedback``, in a delimited block.

    At temperature 0 every named failure gets its first clause; under sampling each one gets a fitting clause
    (FIX_RATE), a clause that sounds right but does nothing (WEAK_RATE), or nothing — and now and then the
    rewrite drops one of the method's earlier rules (OVEREDIT_RATE), so a candidate can be worse than its parent.
    """
    lang = language if language in WEAK_CLAUSES else "en"
    if sampled and rng.random() < OVEREDIT_RATE:
        method = drop_rule(method, rng.randrange(64))
    done = addressed(method)
    clauses: list[str] = []
    for kind in FAILURES:
        if kind in done or not FEEDBACK[kind].search(feedback):
            continue
        if not sampled:
            clauses.append(CLAUSES[kind][lang][0])
            continue
        draw = rng.random()
        if draw < FIX_RATE:
            clauses.append(rng.choice(CLAUSES[kind][lang]))
        elif draw < FIX_RATE + WEAK_RATE:
            clauses.append(rng.choice(WEAK_CLAUSES[lang]))
    if sampled and rng.random() < PREFERENCE_RATE:
        clauses.append(rng.choice(PREFERENCES))
    return f"```Optimized Method\n{insert_clauses(method, clauses)}\n```"
