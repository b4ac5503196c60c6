"""Self-Evolution's per-generation files (LLaMA-Factory's predictions and results), reading every generation back in
natural order, and the seed's grouped bar chart of their scores."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from matplotlib.container import BarContainer

from evoforge.errors import DataError
from evoforge.evals.metrics import predict_results
from evoforge.self_evolve.chart import DPI, LABELS, TITLE, build_figure, draw_scores, figure_size
from evoforge.self_evolve.predictions import SCORE_KEYS, read_generations, write_generation

ITEMS = [
    {"instruction": "fragment", "input": "什么是5G？", "output": "第五代移动通信网络。"},
    {"instruction": "fragment", "input": "What is SCTP?", "output": "A transport protocol."},
]
PREDICTIONS = ["第五代移动通信网络。", "A network protocol."]


def _results(bleu: float) -> dict[str, float]:
    return {
        "predict_bleu-4": bleu,
        "predict_rouge-1": bleu + 20,
        "predict_rouge-2": bleu / 2,
        "predict_rouge-l": bleu + 10,
    }


def _write_results(folder: Path, results: dict[str, float]) -> None:
    folder.mkdir(parents=True)
    (folder / "predict_results.json").write_text(json.dumps(results), encoding="utf-8")


# -- predictions --------------------------------------------------------------------------------------------------
def test_write_generation_writes_llama_factorys_two_files(tmp_path: Path) -> None:
    folder = tmp_path / "gens" / "generation_0"
    results = write_generation(folder, ITEMS, PREDICTIONS, runtime_s=2.0)
    assert results == predict_results(PREDICTIONS, [item["output"] for item in ITEMS], 2.0)
    assert results["predict_exact_match"] == 0.5 and results["predict_samples_per_second"] == 1.0
    rows = [json.loads(line) for line in (folder / "generated_predictions.jsonl").read_text("utf-8").splitlines()]
    assert rows == [
        {"prompt": "什么是5G？", "label": "第五代移动通信网络。", "predict": "第五代移动通信网络。"},
        {"prompt": "What is SCTP?", "label": "A transport protocol.", "predict": "A network protocol."},
    ]
    assert json.loads((folder / "predict_results.json").read_text("utf-8")) == results
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]  # no temporary files left
    assert read_generations(tmp_path / "gens") == [("generation_0", results)]


def test_write_generation_refuses_mismatched_lengths(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2 eval items but 1 predictions"):
        write_generation(tmp_path / "g", ITEMS, PREDICTIONS[:1], runtime_s=1.0)
    assert not (tmp_path / "g").exists()


def test_generations_come_in_natural_order(tmp_path: Path) -> None:
    for n in (10, 2, 0, 1, 11):
        _write_results(tmp_path / f"generation_{n}", _results(float(n)))
    (tmp_path / "generation_3").mkdir()  # no results yet: passed over
    (tmp_path / "notes.txt").write_text("not a folder", encoding="utf-8")
    generations = read_generations(tmp_path)
    assert [name for name, _ in generations] == [f"generation_{n}" for n in (0, 1, 2, 10, 11)]
    assert generations[3][1] == _results(10.0)


def test_no_generations_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "generation_0").mkdir()
    with pytest.raises(DataError, match=r"no sub-folder holds a predict_results\.json"):
        read_generations(tmp_path)
    with pytest.raises(DataError, match="generations folder not found"):
        read_generations(tmp_path / "missing")
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(DataError, match="not a folder"):
        read_generations(tmp_path / "file")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"predict_bleu-4": 1.0,', r"predict_results\.json:1: not valid JSON"),
        (b"\xff\xfe\x00garbage", r"predict_results\.json: not UTF-8 text"),
        (b"[1, 2]", r"expected a JSON object of predict_\* figures, got a JSON list"),
        (b'{"predict_bleu-4": "high"}', r"'predict_bleu-4' is 'high'; expected a number"),
        (b'{"predict_bleu-4": 1.0}', r"no 'predict_rouge-1', 'predict_rouge-2', 'predict_rouge-l'"),
    ],
)
def test_a_corrupt_results_file_is_named(tmp_path: Path, content: bytes, problem: str) -> None:
    _write_results(tmp_path / "generation_0", _results(1.0))
    (tmp_path / "generation_1").mkdir()
    (tmp_path / "generation_1" / "predict_results.json").write_bytes(content)
    with pytest.raises(DataError, match=r"generation_1.predict_results\.json") as error:
        read_generations(tmp_path)
    assert error.match(problem)


# -- the chart ----------------------------------------------------------------------------------------------------
def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_chart_has_four_bar_series_of_one_bar_per_generation(tmp_path: Path) -> None:
    generations = [(f"generation_{n}", _results(10.0 + n)) for n in range(3)]
    fig = build_figure(generations)
    [ax] = fig.axes
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert [c.get_label() for c in bars] == [LABELS[key] for key in SCORE_KEYS]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["BLEU-4", "ROUGE-1", "ROUGE-2", "ROUGE-L"]
    for container, key in zip(bars, SCORE_KEYS, strict=True):
        assert [bar.get_height() for bar in container] == pytest.approx([r[key] for _, r in generations])
    assert [t.get_text() for t in ax.get_xticklabels()] == [name for name, _ in generations]
    assert ax.get_title() == TITLE
    values = {t.get_text() for t in ax.texts}  # the value labels on the bars
    assert {"10.00", "30.00", "5.00", "20.00", "12.00", "32.00"} <= values
    # each group's four bars sit side by side around the generation's tick
    centres = [[bar.get_x() + bar.get_width() / 2 for bar in container] for container in bars]
    for g in range(3):
        group = [series[g] for series in centres]
        assert group == sorted(group) and g - 0.5 < group[0] and group[-1] < g + 0.5


def test_draw_scores_writes_a_png_of_a_size_set_by_the_number_of_generations(tmp_path: Path) -> None:
    generations = [(f"generation_{n}", _results(float(n))) for n in range(2)]
    out = draw_scores(generations, tmp_path / "charts" / "scores.png")
    assert out == tmp_path / "charts" / "scores.png"
    width, height = figure_size(2)
    assert _png_size(out) == (round(width * DPI), round(height * DPI))
    again = draw_scores(generations, tmp_path / "again.png")
    assert _png_size(again) == _png_size(out)
    many = draw_scores([(f"g{n}", _results(float(n))) for n in range(12)], tmp_path / "many.png")
    assert _png_size(many)[0] > _png_size(out)[0]


def test_the_chart_from_written_generations(tmp_path: Path) -> None:
    for n in range(2):
        write_generation(tmp_path / "gens" / f"generation_{n}", ITEMS, PREDICTIONS[: 2 - n] + ["?"] * n, 1.0)
    generations = read_generations(tmp_path / "gens")
    [ax] = build_figure(generations).axes
    bleu = [bar.get_height() for bar in ax.containers[0]]
    assert bleu == pytest.approx([results["predict_bleu-4"] for _, results in generations])
    assert bleu[0] > bleu[1]


def test_the_chart_refuses_no_generations_and_missing_scores() -> None:
    with pytest.raises(DataError, match="no generations to draw"):
        build_figure([])
    with pytest.raises(DataError, match="generation 'generation_0' has no 'predict_rouge-1' score"):
        build_figure([("generation_0", {"predict_bleu-4": 1.0})])
