"""Per-example metrics: exact match, verifiable (numeric / GSM8K ``#### answer``) match, BLEU-4, ROUGE-1/2/L.

BLEU-4 and ROUGE follow LLaMA-Factory's ``ComputeSimilarity`` (the scores Self-Evolution reports):

- BLEU-4: nltk ``sentence_bleu([list(ref)], list(pred), smoothing_function=SmoothingFunction().method3)``,
  i.e. over **characters**, ×100.
- ROUGE-1/2/L: F-measure ×100 over words, computed as the ``rouge_chinese`` package does (LLaMA-Factory calls
  ``Rouge().get_scores(" ".join(hyp_words), " ".join(ref_words))``): n-grams are counted as **sets** (each distinct
  n-gram once), ROUGE-L is the LCS of the flattened word sequences, F = 2PR / (P + R + 1e-8). Words come from
  jieba for text with CJK characters and from whitespace splitting otherwise (``tokenize="auto"``); LLaMA-Factory
  itself runs jieba on every language (``tokenize="jieba"``). Pass ``unique_ngrams=False`` for the standard
  clipped-count ROUGE-N that Google's ``rouge-score`` computes.

Empty predictions or references score 0, as in LLaMA-Factory. Every scorer returns a float per example.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Literal

Tokenize = Literal["auto", "jieba", "whitespace"]

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")
_SENTENCE_BREAKS = (  # rouge_chinese's cut_sent: splits after these (a word may be cut in two by them)
    (re.compile(r"([。！？\?])([^”’])"), r"\1\n\2"),
    (re.compile(r"(\.{6})([^”’])"), r"\1\n\2"),
    (re.compile(r"(\…{2})([^”’])"), r"\1\n\2"),
    (re.compile(r"([。！？\?][”’])([^，。！？\?])"), r"\1\n\2"),
)


# -- exact and verifiable answers -------------------------------------------------------------------------------
def normalize(text: str) -> str:
    """Unicode NFKC, whitespace collapsed to single spaces, stripped (case and punctuation kept)."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def extract_answer(text: str) -> str:
    """The final answer of a GSM8K-style text: what follows the last ``####``, else the whole text."""
    _, sep, tail = text.rpartition("####")
    return tail.strip() if sep else text.strip()


def parse_number(text: str) -> float | None:
    """``text`` as a number when it is exactly one (``1,234``, ``$5``, ``-3.5``, ``1/2``, ``7.``), else None."""
    cleaned = normalize(text).replace(",", "").replace("$", "").rstrip(".").strip()
    if not cleaned:
        return None
    try:
        if "/" in cleaned:
            num, den = cleaned.split("/", 1)
            return float(num) / float(den)
        return float(cleaned)
    except (ValueError, ZeroDivisionError):
        return None


def _numbers_equal(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def exact_match(pred: str, ref: str) -> float:
    """1.0 when the answers match after normalisation, else 0.0.

    Both sides are reduced to their ``#### answer`` when they have one; two answers that are both numbers are
    compared as numbers (``1,000`` equals ``1000.0``), anything else as normalised text.
    """
    a, b = extract_answer(pred), extract_answer(ref)
    na, nb = parse_number(a), parse_number(b)
    if na is not None and nb is not None:
        return float(_numbers_equal(na, nb))
    return float(normalize(a) == normalize(b))


def find_numbers(text: str) -> list[float]:
    """Every number written in ``text``, in order (commas, ``$`` and simple fractions allowed)."""
    found = (parse_number(m) for m in _NUMBER.findall(text))
    return [v for v in found if v is not None]


def numeric_match(pred: str, ref: str) -> float:
    """GSM8K-style verifiable answer: the reference's ``#### answer`` (or whole text) as a number, against the first
    number after the prediction's last ``####`` when it has one, else the last number in the prediction."""
    target = parse_number(extract_answer(ref))
    if target is None:
        return exact_match(pred, ref)
    candidates = find_numbers(extract_answer(pred))
    if not candidates:
        return 0.0
    answer = candidates[0] if "####" in pred else candidates[-1]
    return float(_numbers_equal(answer, target))


# -- BLEU-4 -----------------------------------------------------------------------------------------------------
def bleu4(pred: str, ref: str) -> float:
    """Character-level sentence BLEU-4 with smoothing method 3, ×100 (LLaMA-Factory's ``bleu-4``)."""
    if not pred or not ref:
        return 0.0
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    return float(sentence_bleu([list(ref)], list(pred), smoothing_function=SmoothingFunction().method3)) * 100


# -- ROUGE ------------------------------------------------------------------------------------------------------
def has_cjk(text: str) -> bool:
    """Whether ``text`` contains Chinese, Japanese or Korean characters."""
    return _CJK.search(text) is not None


def words(text: str, tokenize: Tokenize = "auto") -> list[str]:
    """The words ROUGE compares: jieba segments (CJK text, or ``tokenize="jieba"``) or whitespace-split words,
    then re-split the way ``rouge_chinese`` does (at sentence ends, then whitespace)."""
    use_jieba = tokenize == "jieba" or (tokenize == "auto" and has_cjk(text))
    if use_jieba:
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)
        text = " ".join(jieba.cut(text))
    for pattern, repl in _SENTENCE_BREAKS:
        text = pattern.sub(repl, text)
    lines = [" ".join(line.split()) for line in text.rstrip().split("\n") if line]
    return [word for line in lines for word in line.split(" ")]


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _f_measure(overlap: float, hyp_count: float, ref_count: float) -> float:
    precision = overlap / hyp_count if hyp_count else 0.0
    recall = overlap / ref_count if ref_count else 0.0
    return 2.0 * precision * recall / (precision + recall + 1e-8)


def rouge_n(hyp: Sequence[str], ref: Sequence[str], n: int, *, unique_ngrams: bool = True) -> float:
    """ROUGE-N F-measure (0..1) of two word sequences; ``unique_ngrams`` counts each distinct n-gram once."""
    h, r = _ngrams(hyp, n), _ngrams(ref, n)
    if unique_ngrams:
        return _f_measure(len(h.keys() & r.keys()), len(h), len(r))
    return _f_measure(sum((h & r).values()), sum(h.values()), sum(r.values()))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two sequences (O(len(a)·len(b)) time, O(len(b)) memory)."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(hyp: Sequence[str], ref: Sequence[str]) -> float:
    """ROUGE-L F-measure (0..1): LCS of the two word sequences."""
    return _f_measure(lcs_length(hyp, ref), len(hyp), len(ref))


def rouge(pred: str, ref: str, *, tokenize: Tokenize = "auto", unique_ngrams: bool = True) -> dict[str, float]:
    """ROUGE-1, ROUGE-2 and ROUGE-L F ×100 of ``pred`` against ``ref`` (keys ``rouge-1``, ``rouge-2``, ``rouge-l``)."""
    hyp, target = words(pred, tokenize), words(ref, tokenize)
    if not "".join(hyp) or not "".join(target):
        return {"rouge-1": 0.0, "rouge-2": 0.0, "rouge-l": 0.0}
    return {
        "rouge-1": rouge_n(hyp, target, 1, unique_ngrams=unique_ngrams) * 100,
        "rouge-2": rouge_n(hyp, target, 2, unique_ngrams=unique_ngrams) * 100,
        "rouge-l": rouge_l(hyp, target) * 100,
    }


def similarity(pred: str, ref: str) -> dict[str, float]:
    """All of LLaMA-Factory's similarity scores at once: ``bleu-4``, ``rouge-1``, ``rouge-2``, ``rouge-l`` (×100)."""
    return {"bleu-4": bleu4(pred, ref), **rouge(pred, ref)}


# -- registry ---------------------------------------------------------------------------------------------------
Metric = Callable[[str, str], float]

METRICS: dict[str, Metric] = {
    "exact_match": exact_match,
    "numeric": numeric_match,
    "bleu4": bleu4,
    "rouge_1": lambda pred, ref: rouge(pred, ref)["rouge-1"],
    "rouge_2": lambda pred, ref: rouge(pred, ref)["rouge-2"],
    "rouge_l": lambda pred, ref: rouge(pred, ref)["rouge-l"],
}
"""Per-example scorers by name (exact_match/numeric in {0, 1}; bleu4 and rouge_* in 0..100)."""


def metric_ceiling(name: str) -> float:
    """The best score of metric ``name``: 100 for BLEU-4 and ROUGE, 1 for exact match, numeric and judge pass rate."""
    return 100.0 if name == "bleu4" or name.startswith("rouge") else 1.0


def get_metric(name: str) -> Metric:
    """The scorer registered as ``name``; raises ConfigError naming the known ones."""
    from evoforge.errors import ConfigError

    try:
        return METRICS[name]
    except KeyError:
        raise ConfigError(f"unknown metric '{name}'; known: {', '.join(sorted(METRICS))}") from None
