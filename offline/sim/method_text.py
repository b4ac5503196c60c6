"""What the simulated LLM knows about evolving methods: how a method's wording changes the way evolution fails.

A naive method lets evolutions fail at the :data:`BASE_FAILURE` rates. A method that addresses a failure (its
text matches the failure's :data:`FIXES` pattern, e.g. "keep all the numbers and inputs") cuts that failure's
rate to :data:`RESIDUAL` of its base. The optimizer writes such clauses (:data:`CLAUSES`) when the analyzer's
feedback names the failure (:data:`FEEDBACK`), so Auto Evol-Instruct can lower the failure rate step by step.
"""

from __future__ import annotations

import re

from evoforge.offline.world import DEPTH_OPS

BASE_FAILURE: dict[str, float] = {"loss": 0.16, "vague": 0.10, "stagnant": 0.07, "unchanged": 0.05, "scaffold": 0.05}
RESIDUAL = 0.15
LEVEL_SLOPE = 0.1  # info loss and vagueness grow by this share per level above 1 (harder tasks break more)

FIXES: dict[str, re.Pattern[str]] = {
    "loss": re.compile(
        r"(keep|preserve|retain)\s+(all|every)[^.]{0,40}(number|input|value|word|information|data)"
        r"|모든\s*(숫자|입력|정보)[^.]{0,20}(유지|보존)|保留所有",
        re.IGNORECASE,
    ),
    "vague": re.compile(
        r"(state|give|specify)\s+(its|their|the)\s+exact\s+value|no\s+vague|never\s+(add|use)\s+(a\s+)?vague"
        r"|정확한\s*값|模糊",
        re.IGNORECASE,
    ),
    "stagnant": re.compile(
        r"(always|must)\s+(output|return|write)\s+a\s+rewritten\s+instruction|never\s+(reply|answer)\s+with\s+a\s+comment"
        r"|반드시\s*재작성된|必须输出改写",
        re.IGNORECASE,
    ),
    "unchanged": re.compile(
        r"make\s+a\s+real\s+change|must\s+differ\s+from\s+the\s+original|never\s+return\s+the\s+instruction\s+unchanged"
        r"|실제로\s*바꾸|必须做出实际改动",
        re.IGNORECASE,
    ),
    "scaffold": re.compile(
        r"(do\s+not|never)\s+(copy|include|repeat)[^.]{0,40}(header|template|#)|헤더를\s*복사하지|不要复制",
        re.IGNORECASE,
    ),
}

CLAUSES: dict[str, dict[str, tuple[str, ...]]] = {
    "loss": {
        "en": (
            "Keep all the numbers, words and inputs of the #Instruction# in the rewrite; never replace them with "
            "references such as 'the given numbers'.",
            "Preserve every input value of the #Instruction# exactly: keep all the numbers and inputs.",
        ),
        "ko": ("#Instruction#의 모든 숫자와 입력을 그대로 유지하고, '주어진 숫자' 같은 표현으로 바꾸지 마세요.",),
        "zh": ("保留所有数字和输入，不要用“给定的数字”之类的说法代替它们。",),
    },
    "vague": {
        "en": (
            "Every requirement you add must state its exact value; never add a vague requirement such as "
            "'the required precision'.",
            "Add no vague constraints: specify the exact value of each new requirement.",
        ),
        "ko": ("추가하는 모든 요구 사항에는 정확한 값을 명시하세요.",),
        "zh": ("每个新增要求都必须给出确切的值，不要添加模糊的要求。",),
    },
    "stagnant": {
        "en": (
            "You must output a rewritten instruction, even when the instruction already looks complex; never reply "
            "with a comment about it.",
        ),
        "ko": ("지시문이 이미 복잡해 보여도 반드시 재작성된 지시문을 출력하세요.",),
        "zh": ("即使指令看起来已经很复杂，也必须输出改写后的指令。",),
    },
    "unchanged": {
        "en": (
            "Make a real change: the rewritten instruction must differ from the original and ask for more.",
            "Never return the instruction unchanged.",
        ),
        "ko": ("실제로 바꾸세요: 재작성된 지시문은 원래 지시문과 달라야 합니다.",),
        "zh": ("必须做出实际改动：改写后的指令必须与原指令不同。",),
    },
    "scaffold": {
        "en": (
            "Do not copy template headers such as '#Rewritten Prompt#' into the rewritten instruction.",
            "Never include the # headers of this template in the instruction itself.",
        ),
        "ko": ("'#Rewritten Prompt#' 같은 템플릿 헤더를 복사하지 마세요.",),
        "zh": ("不要复制 '#Rewritten Prompt#' 之类的模板标题到指令中。",),
    },
}

# clauses that sound helpful but change nothing (optimizers write those too)
WEAK_CLAUSES: dict[str, tuple[str, ...]] = {
    "en": ("Be careful with the details of the instruction.", "Make sure the rewrite reads naturally."),
    "ko": ("지시문의 세부 사항에 주의하세요.",),
    "zh": ("注意指令的细节。",),
}

# how the analyzer names each failure in its feedback, and how the optimizer recognises it
FEEDBACK: dict[str, re.Pattern[str]] = {
    "loss": re.compile(r"key information|information was lost|dropped the input|핵심 정보|关键信息", re.IGNORECASE),
    "vague": re.compile(r"vague|unspecified|모호|模糊", re.IGNORECASE),
    "stagnant": re.compile(r"comment instead|instead of a rewritten|설명문|评论", re.IGNORECASE),
    "unchanged": re.compile(r"unchanged|no complexity gain|그대로|没有变化|保持不变", re.IGNORECASE),
    "scaffold": re.compile(r"template header|copied the template|#Rewritten Prompt#|템플릿|模板", re.IGNORECASE),
}

OP_NAMES: dict[str, re.Pattern[str]] = {
    "add_constraints": re.compile(
        r"add(ing)?\s+(a\s+|more\s+|one\s+more\s+|new\s+)?constraints?|제약\s*조건을\s*추가|添加约束"
    ),
    "deepen": re.compile(r"deepen|depth\s+of|깊이|加深"),
    "concretize": re.compile(r"concreti|구체화|具体化"),
    "reasoning": re.compile(r"reasoning\s+steps?|추론\s*단계|推理步骤"),
    "complicate_input": re.compile(r"complicate\s+the\s+input|more\s+complex\s+input|입력을\s*복잡|复杂化输入"),
}

_FORMAT_LINE = re.compile(
    r"^.*(reply strictly in the following format|다음 형식을 엄격히|请严格按照以下格式).*$",
    re.IGNORECASE | re.MULTILINE,
)


def addressed(method: str) -> set[str]:
    """The failures that ``method`` addresses."""
    return {kind for kind, pattern in FIXES.items() if pattern.search(method)}


def failure_rates(method: str, level: int = 1) -> dict[str, float]:
    """The probability of each failure when ``method`` evolves an instruction of complexity ``level``."""
    fixed = addressed(method)
    rates = {}
    for kind, base in BASE_FAILURE.items():
        rate = base * (RESIDUAL if kind in fixed else 1.0)
        if kind in ("loss", "vague"):
            rate *= 1 + LEVEL_SLOPE * max(0, level - 1)
        rates[kind] = rate
    return rates


def named_operations(method: str) -> tuple[str, ...]:
    """The in-depth operations ``method`` names (all of them when it names none)."""
    named = tuple(op for op in DEPTH_OPS if OP_NAMES[op].search(method.lower()))
    return named or DEPTH_OPS


def insert_clauses(method: str, clauses: list[str]) -> str:
    """``method`` with ``clauses`` added to its ``Rules:`` list (made before its reply-format section if absent)."""
    if not clauses:
        return method
    items = [f"- {c}" for c in clauses]
    lines = method.split("\n")
    if "Rules:" in lines:
        end = lines.index("Rules:") + 1
        while end < len(lines) and lines[end].startswith("- "):
            end += 1
        lines[end:end] = items
        return "\n".join(lines)
    block = "Rules:\n" + "\n".join(items)
    fmt = _FORMAT_LINE.search(method)
    if fmt:
        return method[: fmt.start()] + f"{block}\n\n" + method[fmt.start() :]
    return method.rstrip() + f"\n\n{block}"


def drop_rule(method: str, index: int) -> str:
    """``method`` without the ``index``-th line of its ``Rules:`` list (modulo its length; unchanged if none)."""
    lines = method.split("\n")
    if "Rules:" not in lines:
        return method
    start = lines.index("Rules:") + 1
    end = start
    while end < len(lines) and lines[end].startswith("- "):
        end += 1
    if end == start:
        return method
    del lines[start + index % (end - start)]
    return "\n".join(lines)
