"""Per-example metrics: exact match, verifiable (numeric / GSM8K ``#### answer``) match, BLEU-4, ROUGE-1/2/L, and
LLaMA-Factory's ``predict_*`` summary of a set of predictions (:func:`predict_results`).

BLEU-4 and ROUGE follow LLaMA-Factory's ``ComputeSimilarity`` (the scores Self-Evolution reports):

- BLEU-4: nltk ``sentence_bleu([list(ref)], list(pred), smoothing_function=SmoothingFunction().method3)``,
  i.e. over **characters**, ×100. ``bleu4_word`` is the same over the ROUGE words below.
- ROUGE-1/2/L: F-measure ×100 over words, computed as the ``rouge_chinese`` package does (LLaMA-Factory calls
  ``Rouge().get_scores(" ".join(hyp_words), " ".join(ref_words))``): n-grams are counted as **sets** (each distinct
  n-gram once), ROUGE-L is the LCS of the flattened word sequences, F = 2PR / (P + R + 1e-8). Words come from
  jieba for text with CJK characters and from whitespace splitting otherwise (``tokenize="auto"``); LLaMA-Factory
  itself runs jieba on every language (``tokenize="jieba"``). Pass ``unique_ngrams=False`` for the standard
  clipped-count ROUGE-N that Google's ``rouge-score`` computes.

Empty predictions or references score 0, as in LLaMA-Factory. Every scorer returns a float per example. A metric
is named by its key in :data:`METRICS` or, for a scorer of the user's, as ``module:function`` (a callable
``(prediction, reference) -> float``, imported by :func:`get_metric`; taken to score 0..1).
"""

from __future__ import annotations

import importlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Literal

from evoforge.data.rouge import lcs_length  # the one LCS (ROUGE-L here, Self-Instruct's de-duplication there)

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
def _bleu4(hyp: Sequence[str], ref: Sequence[str]) -> float:
    """nltk sentence BLEU-4 of two token sequences with smoothing method 3, ×100 (0 when either is empty)."""
    if not hyp or not ref:
        return 0.0
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    return float(sentence_bleu([list(ref)], list(hyp), smoothing_function=SmoothingFunction().method3)) * 100


def bleu4(pred: str, ref: str) -> float:
    """Character-level sentence BLEU-4 with smoothing method 3, ×100 (LLaMA-Factory's ``bleu-4``)."""
    return _bleu4(list(pred), list(ref))


def bleu4_word(pred: str, ref: str) -> float:
    """Word-level sentence BLEU-4 with smoothing method 3, ×100, over :func:`words` (jieba for CJK text)."""
    return _bleu4([w for w in words(pred) if w], [w for w in words(ref) if w])


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


# -- LLaMA-Factory's predict_results.json ---------------------------------------------------------------------
def predict_results(predictions: Sequence[str], references: Sequence[str], runtime_s: float) -> dict[str, float]:
    """LLaMA-Factory's ``predict_results.json`` of paired predictions and references, plus exact match.

    ``predict_bleu-4`` and ``predict_rouge-1/2/l`` are the means of the per-example scores of :func:`similarity`
    (×100; LLaMA-Factory rounds each example to 4 decimals first, this does not); ``predict_exact_match`` is the
    share of :func:`exact_match` hits (0..1, like LLaMA-Factory's ``predict_accuracy``); ``predict_runtime`` is
    ``runtime_s`` (seconds) and ``predict_samples_per_second`` the predictions per second, rounded to 4 and 3
    decimals as Hugging Face's ``speed_metrics`` does. An empty set scores 0.
    """
    pairs = list(zip(predictions, references, strict=True))
    n = max(len(pairs), 1)
    rows = [similarity(pred, ref) for pred, ref in pairs]
    out = {f"predict_{key}": sum(row[key] for row in rows) / n for key in ("bleu-4", "rouge-1", "rouge-2", "rouge-l")}
    out["predict_exact_match"] = sum(exact_match(pred, ref) for pred, ref in pairs) / n
    out["predict_runtime"] = round(runtime_s, 4)
    out["predict_samples_per_second"] = round(len(pairs) / runtime_s, 3) if runtime_s > 0 else 0.0
    return out


# -- registry ---------------------------------------------------------------------------------------------------
Metric = Callable[[str, str], float]

METRICS: dict[str, Metric] = {
    "exact_match": exact_match,
    "numeric": numeric_match,
    "bleu4": bleu4,
    "bleu4_word": bleu4_word,
    "rouge_1": lambda pred, ref: rouge(pred, ref)["rouge-1"],
    "rouge_2": lambda pred, ref: rouge(pred, ref)["rouge-2"],
    "rouge_l": lambda pred, ref: rouge(pred, ref)["rouge-l"],
}
"""Per-example scorers by name (exact_match/numeric in {0, 1}; bleu4* and rouge_* in 0..100). The metric ``judge``
(an LLM's pass rate) is not one: the eval harness grades a whole set with it."""


def metric_ceiling(name: str) -> float:
    """The best score of metric ``name``: 100 for BLEU-4 and ROUGE, else 1 (exact match, numeric, the judge's pass
    rate, a user scorer)."""
    return 100.0 if name.startswith(("bleu4", "rouge")) else 1.0


def check_metric(name: str) -> None:
    """Fail now, before any model loads, on a metric ``name`` that cannot be scored (:func:`get_metric`'s
    ConfigError); ``judge`` is the LLM judge's pass rate, which needs no scorer."""
    if name != "judge":
        get_metric(name)


def get_metric(name: str) -> Metric:
    """The scorer registered as ``name``, or the user's scorer named ``module:function`` (imported now).

    Raises:
        ConfigError: an unknown name, a module that does not import, or a function it lacks or that is not callable;
            the message names the metric.
    """
    from evoforge.errors import ConfigError

    if name in METRICS:
        return METRICS[name]
    module_name, sep, attr = name.partition(":")
    if not sep:
        known = ", ".join(sorted(METRICS))
        raise ConfigError(f"unknown metric '{name}'; known: {known}, judge, or a scorer 'module:function'")
    try:
        module = importlib.import_module(module_name)
    except (ImportError, ValueError) as exc:  # ValueError: an empty module name
        raise ConfigError(f"metric '{name}': cannot import module '{module_name}' ({exc})") from None
    scorer = getattr(module, attr, None)
    if scorer is None:
        raise ConfigError(f"metric '{name}': module '{module_name}' has no '{attr}'")
    if not callable(scorer):
        raise ConfigError(f"metric '{name}': '{attr}' in '{module_name}' is not callable")
    found: Metric = scorer
    return found
