"""ROUGE-L for near-duplicate rules and metrics: tokens, the LCS, the F1, and a cheap exact upper bound of it.

Tokens are lower-cased runs of letters and digits (Unicode-aware, unlike rouge-score's ASCII-only tokenizer, which
drops Chinese and Korean), and each CJK character is a token of its own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

_TOKEN = re.compile(r"[\u4e00-\u9fff\u3040-\u30ff]|[^\W_]+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """The ROUGE tokens of ``text``."""
    return _TOKEN.findall(text.lower())


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """The length of the longest common subsequence of two token lists."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(a: Sequence[str], b: Sequence[str]) -> float:
    """ROUGE-L F1 of two token lists (0 when either is empty)."""
    if not a or not b:
        return 0.0
    common = lcs_length(a, b)
    return 0.0 if common == 0 else 2 * common / (len(a) + len(b))


def rouge_l_bound(a: Counter[str], len_a: int, b: Counter[str], len_b: int) -> float:
    """An upper bound of ROUGE-L F1 from token counts alone: the LCS is at most the shared tokens (with multiplicity),
    so a pair whose bound is not above a threshold never needs its LCS (exact; ~10x cheaper than the LCS)."""
    if not len_a or not len_b:
        return 0.0
    small, big = (a, b) if len(a) < len(b) else (b, a)
    shared = sum(min(count, big.get(token, 0)) for token, count in small.items())
    return 2 * shared / (len_a + len_b)
