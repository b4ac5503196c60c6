"""Metrics against the reference libraries on fixed English and Chinese samples."""

from __future__ import annotations

import json

import pytest
from conftest import DATASETS

from evoforge.errors import ConfigError
from evoforge.evals import metrics
from evoforge.evals.metrics import bleu4, exact_match, get_metric, numeric_match, rouge, words

TOY = json.loads((DATASETS / "self-evolution" / "toy_eval_data.json").read_text(encoding="utf-8"))
ZH_PAIRS = [(a["output"], b["output"]) for a in TOY[:5] for b in TOY[:3]] + [(t["input"], t["output"]) for t in TOY]
EN_PAIRS = [
    ("the cat sat on the mat", "the cat is on the mat"),
    ("the the the cat", "the cat the dog the end"),
    ("a quick brown fox jumps over the lazy dog", "the quick brown fox jumped over a lazy dog."),
    ("Paris is the capital of France. It is big!", "The capital of France is Paris?yes it is"),
    ("completely different words here", "nothing in common at all"),
    ("one", "one two"),
    ("x y x y x y", "x y"),
]


def _llama_factory_rouge(pred: str, label: str) -> dict[str, float]:
    """LLaMA-Factory's ComputeSimilarity ROUGE, verbatim: jieba words, rouge_chinese, F×100."""
    import jieba
    from rouge_chinese import Rouge

    hypothesis, reference = list(jieba.cut(pred)), list(jieba.cut(label))
    if len(" ".join(hypothesis).split()) == 0 or len(" ".join(reference).split()) == 0:
        return {"rouge-1": 0.0, "rouge-2": 0.0, "rouge-l": 0.0}
    scores = Rouge().get_scores(" ".join(hypothesis), " ".join(reference))[0]
    return {k: v["f"] * 100 for k, v in scores.items()}


@pytest.mark.parametrize(("pred", "ref"), ZH_PAIRS + EN_PAIRS + [("", "abc"), ("  ", "abc")])
def test_rouge_with_jieba_equals_llama_factory(pred: str, ref: str) -> None:
    pytest.importorskip("rouge_chinese")
    ours = rouge(pred, ref, tokenize="jieba")
    assert ours == pytest.approx(_llama_factory_rouge(pred, ref), abs=1e-9)


def test_chinese_text_is_segmented_with_jieba_by_default() -> None:
    pred, ref = ZH_PAIRS[1]
    assert rouge(pred, ref) == rouge(pred, ref, tokenize="jieba")
    assert len(words("5G网络相对于4G LTE在性能上有哪些主要提升")) > 5
    assert rouge(pred, ref)["rouge-1"] > 0  # Google's rouge-score gives 0 on Chinese


@pytest.mark.parametrize(("pred", "ref"), EN_PAIRS)
def test_rouge_clipped_counts_equal_google_rouge_score_on_whitespace_words(pred: str, ref: str) -> None:
    from rouge_score import rouge_scorer

    class Whitespace:
        def tokenize(self, text: str) -> list[str]:
            return text.split()

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=Whitespace())
    google = {k.replace("rouge", "rouge-").lower(): v.fmeasure * 100 for k, v in scorer.score(ref, pred).items()}
    ours = rouge(pred.replace("?", "? "), ref.replace("?", "? "), tokenize="whitespace", unique_ngrams=False)
    ours_plain = metrics.rouge_n(pred.split(), ref.split(), 1, unique_ngrams=False) * 100
    assert ours_plain == pytest.approx(google["rouge-1"], abs=1e-5)
    if "?" not in pred + ref:  # rouge_chinese-style sentence cuts only differ from plain splitting at '?'
        assert ours == pytest.approx(google, abs=1e-5)


def test_unique_ngrams_differ_from_clipped_counts_on_repeats() -> None:
    pred, ref = "x y x y x y", "x y"
    assert rouge(pred, ref)["rouge-1"] == pytest.approx(100.0, abs=1e-4)  # sets: {x, y} vs {x, y}
    assert rouge(pred, ref, unique_ngrams=False)["rouge-1"] == pytest.approx(50.0, abs=1e-4)


def test_bleu4_is_nltk_character_bleu_with_method3() -> None:
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    for pred, ref in ZH_PAIRS[:6] + EN_PAIRS:
        expected = sentence_bleu([list(ref)], list(pred), smoothing_function=SmoothingFunction().method3) * 100
        assert bleu4(pred, ref) == pytest.approx(expected)
    assert bleu4("same text", "same text") == pytest.approx(100.0)
    assert bleu4("", "abc") == 0.0
    assert 0 < bleu4(*EN_PAIRS[0]) < 100


@pytest.mark.parametrize(
    ("pred", "ref", "expected"),
    [
        ("  Hello   world ", "Hello world", 1.0),
        ("hello world", "Hello world", 0.0),
        ("1,000", "1000", 1.0),
        ("Natalia sold 72 clips. #### 72", "She sold 48+24 = 72 clips.\n#### 72", 1.0),
        ("#### 71", "#### 72", 0.0),
        ("$5.00", "5", 1.0),
        ("1/2", "0.5", 1.0),
        ("abc", "abd", 0.0),
    ],
)
def test_exact_match(pred: str, ref: str, expected: float) -> None:
    assert exact_match(pred, ref) == expected


@pytest.mark.parametrize(
    ("pred", "ref", "expected"),
    [
        ("So she sold 48 + 24 = 72 clips in total.", "blah #### 72", 1.0),
        ("The answer is 1,234.", "1234", 1.0),
        ("She has 3 apples, then 5.", "3", 0.0),  # last number counts
        ("#### 12 (not 13)", "12", 1.0),
        ("no number here", "7", 0.0),
        ("blue", "blue", 1.0),  # non-numeric reference falls back to exact match
    ],
)
def test_numeric_match(pred: str, ref: str, expected: float) -> None:
    assert numeric_match(pred, ref) == expected


def test_metric_registry() -> None:
    assert get_metric("rouge_l")("a b c", "a b c") == pytest.approx(100.0, abs=1e-4)
    with pytest.raises(ConfigError, match="unknown metric"):
        get_metric("nope")
