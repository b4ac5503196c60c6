"""Every metric through one door: user scorers ``module:function``, the judge's pass rate, LLaMA-Factory's predict_*."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from evoforge.data.records import Example
from evoforge.errors import ConfigError
from evoforge.evals.harness import evaluate
from evoforge.evals.metrics import METRICS, bleu4, exact_match, get_metric, metric_ceiling, predict_results, rouge
from evoforge.llm.gateway import LLMGateway
from evoforge.offline.world import generate_tasks
from evoforge.settings import EvalSettings, LLMSettings

PAIRS = [
    ("the cat sat on the mat", "the cat is on the mat"),
    ("42", "42"),
    ("", "abc"),
    ("5G网络更快", "5G网络速率更高"),
]
SCORER = "def length_ratio(prediction, reference):\n    return min(len(prediction), len(reference)) / len(reference)\n"


class Fixed:
    """A generator that answers each prompt from a table (the tests' stand-in for a model)."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    def generate(self, prompts: list[str], progress: object = None) -> list[str]:
        return [self.answers[p] for p in prompts]


@pytest.fixture
def scorers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A user module ``my_scorers`` on sys.path, with a scorer, a constant and a scorer returning text."""
    (tmp_path / "my_scorers.py").write_text(SCORER + "THRESHOLD = 3\ndef wordy(p, r):\n    return 'high'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_scorers"


def test_a_user_scorer_is_imported_by_name_and_scores_every_example(scorers: str) -> None:
    records = [Example.for_eval("a", "abcd", "x"), Example.for_eval("b", "ab", "y")]
    report = evaluate(Fixed({"a": "ab", "b": "abc"}), records, f"{scorers}:length_ratio")
    assert report.metric == "my_scorers:length_ratio"
    assert [e["score"] for e in report.per_example] == [0.5, 1.0]
    assert report.score == pytest.approx(0.75) and report.per_category == {"x": 0.5, "y": 1.0}
    assert metric_ceiling("my_scorers:length_ratio") == 1.0


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no_such_module_here:f", "cannot import module 'no_such_module_here'"),
        ("my_scorers:missing", "module 'my_scorers' has no 'missing'"),
        ("my_scorers:THRESHOLD", "'THRESHOLD' in 'my_scorers' is not callable"),
        ("bleu5", "unknown metric 'bleu5'"),
    ],
)
def test_bad_scorer_names_are_config_errors_naming_the_metric(scorers: str, name: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        get_metric(name)
    assert message in str(error.value) and name in str(error.value)


def test_a_scorer_that_returns_no_number_is_named(scorers: str) -> None:
    with pytest.raises(ConfigError, match=r"metric 'my_scorers:wordy' returned 'high', not a number"):
        evaluate(Fixed({"a": "b"}), [Example.for_eval("a", "b")], "my_scorers:wordy")


@pytest.mark.parametrize("name", [*METRICS, "judge", "my_scorers:length_ratio", "pkg.sub_mod:score_it"])
def test_eval_metric_accepts_every_metric_and_the_module_function_form(name: str) -> None:
    assert EvalSettings(metric=name).metric == name


@pytest.mark.parametrize("name", ["bleu5", "a:b:c", ":f", "mod:", "my-mod:f", "mod:f()", "mod..x:f"])
def test_eval_metric_refuses_other_names(name: str) -> None:
    with pytest.raises(ValidationError, match="module:function"):
        EvalSettings(metric=name)


def test_word_bleu4_is_nltk_bleu_over_words() -> None:
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    pred, ref = PAIRS[0]
    expected = sentence_bleu([ref.split()], pred.split(), smoothing_function=SmoothingFunction().method3) * 100
    assert get_metric("bleu4_word")(pred, ref) == pytest.approx(expected)
    assert get_metric("bleu4_word")(pred, ref) != pytest.approx(bleu4(pred, ref))
    assert get_metric("bleu4_word")("  ", "abc") == 0.0 and metric_ceiling("bleu4_word") == 100.0


def test_predict_results_are_the_means_of_the_metrics_with_llama_factory_keys() -> None:
    preds, refs = [p for p, _ in PAIRS], [r for _, r in PAIRS]
    out = predict_results(preds, refs, runtime_s=2.0)
    assert list(out) == [
        "predict_bleu-4",
        "predict_rouge-1",
        "predict_rouge-2",
        "predict_rouge-l",
        "predict_exact_match",
        "predict_runtime",
        "predict_samples_per_second",
    ]
    assert out["predict_bleu-4"] == pytest.approx(sum(bleu4(p, r) for p, r in PAIRS) / 4)
    for key in ("rouge-1", "rouge-2", "rouge-l"):
        assert out[f"predict_{key}"] == pytest.approx(sum(rouge(p, r)[key] for p, r in PAIRS) / 4)
    assert out["predict_exact_match"] == pytest.approx(sum(exact_match(p, r) for p, r in PAIRS) / 4) == 0.25
    assert out["predict_runtime"] == 2.0 and out["predict_samples_per_second"] == 2.0
    assert 0 < out["predict_rouge-l"] < 100
    with pytest.raises(ValueError):
        predict_results(preds, refs[:2], 1.0)


def test_a_saved_report_carries_its_predict_results(tmp_path: Path) -> None:
    records = [Example.for_eval(f"q{k}", ref) for k, (_, ref) in enumerate(PAIRS)]
    report = evaluate(Fixed({f"q{k}": pred for k, (pred, _) in enumerate(PAIRS)}), records, "rouge_l")
    assert report.runtime_s > 0
    report.save(tmp_path / "test-raw.json")
    saved = json.loads((tmp_path / "test-raw.json").read_text())
    assert saved["predict_results"] == pytest.approx(report.predict_results())
    assert saved["predict_results"]["predict_rouge-l"] == pytest.approx(report.score)  # same predictions, same mean


def _world(n: int) -> tuple[list[Example], dict[str, str]]:
    """``n`` skills-world items and answers: right for even items, a wrong one for odd items."""
    tasks = generate_tasks(n, seed=3)
    records = [Example.for_eval(t.instruction, t.answer, t.category) for t in tasks]
    return records, {t.instruction: t.answer if k % 2 == 0 else "no idea?" for k, t in enumerate(tasks)}


def test_judge_scores_the_pass_rate_with_grades_and_reasons(tmp_path: Path) -> None:
    records, answers = _world(6)
    with LLMGateway(LLMSettings(), cache_path=tmp_path / "cache.sqlite") as gw:
        report = evaluate(Fixed(answers), records, "judge", gateway=gw)
        first = gw.usage()["total"]
        again = evaluate(Fixed(answers), records, "judge", gateway=gw)
        second = gw.usage()["total"]
    assert report.metric == "judge" and report.score == pytest.approx(0.5)
    assert [e["score"] for e in report.per_example] == [1.0, 0.0] * 3
    assert [e["grade"] for e in report.per_example] == [10, 1] * 3 and all(e["reason"] for e in report.per_example)
    assert list(report.per_example[0]) == ["prompt", "reference", "category", "prediction", "score", "grade", "reason"]
    by_category: dict[str, list[float]] = {}
    for e in report.per_example:
        by_category.setdefault(e["category"], []).append(e["score"])
    assert report.per_category == {c: sum(v) / len(v) for c, v in sorted(by_category.items())}
    assert first["calls"] == 6 and second["calls"] == 6  # the repeat is served from the cache: no new call
    assert second["cache_hits"] == first["cache_hits"] + 6
    assert again.per_example == report.per_example and again.score == report.score


def test_judge_without_a_gateway_is_a_config_error() -> None:
    records, answers = _world(2)
    with pytest.raises(ConfigError, match="metric 'judge' needs an LLM gateway"):
        evaluate(Fixed(answers), records, "judge")
