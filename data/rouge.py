"""ROUGE-L for near-duplicate rules and metrics: tokens, the LCS, the F1, and a cheap exact upper bound of it.

Tokens are lower-cased runs of letters and digits (Unicode-aware, unlike rouge-score's ASCII-only tokenizer, which
drops Chinese and Korean), and each CJK character is a token of its own.
"""

from __future__ import annotations

import re
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


def token_bag(toks: Sequence[str]) -> frozenset[tuple[str, int]]:
    """The tokens as a set of (token, occurrence) pairs: the k-th ``the`` is ``("the", k)``, so the size of two bags'
    intersection is their shared tokens with multiplicity (computed by a C set intersection)."""
    seen: dict[str, int] = {}
    bag = []
    for token in toks:
        seen[token] = seen.get(token, 0) + 1
        bag.append((token, seen[token]))
    return frozenset(bag)


def rouge_l_bound(a: frozenset[tuple[str, int]], b: frozenset[tuple[str, int]]) -> float:
    """An upper bound of ROUGE-L F1 from two :func:`token_bag`s alone: the LCS is at most the shared tokens (with
    multiplicity), so a pair whose bound is not above a threshold never needs its LCS (exact; a set intersection,
    far cheaper than the LCS). A bag's size is its text's token count."""
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))
