"""One generation's predictions and scores, in the files LLaMA-Factory writes, and every generation's scores read back.

A generation's folder (``generation_0``, ``generation_1``, ...) holds, as LLaMA-Factory's ``do_predict`` leaves them:

- ``generated_predictions.jsonl``: one ``{"prompt", "label", "predict"}`` row per eval item (the question, the
  expected answer, the model's answer);
- ``predict_results.json``: the summary of :func:`evoforge.evals.metrics.predict_results` (``predict_bleu-4``,
  ``predict_rouge-1/2/l`` ×100, ``predict_exact_match`` 0..1, runtime).

:func:`write_generation` writes both atomically, the results last, so a folder with a ``predict_results.json`` is a
complete generation; :func:`read_generations` reads every such folder under a parent (the seed's ``--father_dir``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from evoforge.errors import DataError
from evoforge.evals.metrics import predict_results
from evoforge.runs import atomic_write_json, atomic_write_jsonl

PREDICTIONS_FILE = "generated_predictions.jsonl"
RESULTS_FILE = "predict_results.json"
SCORE_KEYS = ("predict_bleu-4", "predict_rouge-1", "predict_rouge-2", "predict_rouge-l")
"""The scores every generation's results must hold (the seed's chart draws these four)."""


def write_generation(
    folder: str | Path, items: Sequence[Mapping[str, str]], predictions: Sequence[str], runtime_s: float
) -> dict[str, float]:
    """Write one generation's ``generated_predictions.jsonl`` and ``predict_results.json`` into ``folder`` (created
    when missing) and return the results.

    ``items`` are eval items (:func:`evoforge.self_evolve.data_files.read_eval_items`): each row's ``prompt`` is the
    item's ``input`` (the question; evaluation is closed-book), its ``label`` the item's ``output``; ``predictions`` are
    the model's answers in the same order, ``runtime_s`` the seconds the generation took.

    Raises:
        ValueError: ``items`` and ``predictions`` differ in length.
    """
    if len(items) != len(predictions):
        raise ValueError(f"{len(items)} eval items but {len(predictions)} predictions")
    folder = Path(folder)
    rows = [
        {"prompt": item["input"], "label": item["output"], "predict": predict}
        for item, predict in zip(items, predictions, strict=True)
    ]
    results = predict_results(list(predictions), [item["output"] for item in items], runtime_s)
    atomic_write_jsonl(folder / PREDICTIONS_FILE, rows)
    atomic_write_json(folder / RESULTS_FILE, results)
    return results


def _natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders the numbers in a name by value: ``generation_2`` before ``generation_10``."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part)


def _read_results(path: Path) -> dict[str, float]:
    """The figures of one ``predict_results.json``; DataError naming the file (and key) when it is not readable
    JSON, not an object of numbers, or lacks one of :data:`SCORE_KEYS`."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    except (OSError, RecursionError) as exc:
        raise DataError(f"{path}: cannot be read ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object of predict_* figures, got a JSON {type(data).__name__}")
    results: dict[str, float] = {}
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DataError(f"{path}: '{key}' is {value!r:.40}; expected a number")
        results[key] = float(value)
    missing = [key for key in SCORE_KEYS if key not in results]
    if missing:
        raise DataError(f"{path}: no {', '.join(repr(k) for k in missing)}; expected LLaMA-Factory's predict results")
    return results


def read_generations(father_dir: str | Path) -> list[tuple[str, dict[str, float]]]:
    """``(folder name, results)`` of every sub-folder of ``father_dir`` holding a ``predict_results.json``, in natural
    order of the names (``generation_0, generation_1, ..., generation_10``); other sub-folders are passed over.

    Raises:
        DataError: ``father_dir`` is missing or not a folder, no sub-folder holds results, or a results file is
            corrupt (see :func:`write_generation` for what it holds); the message names the folder or file.
    """
    father = Path(father_dir)
    if not father.exists():
        raise DataError(f"generations folder not found: {father}")
    if not father.is_dir():
        raise DataError(f"{father}: not a folder; expected a folder of generation folders (generation_0, ...)")
    folders = sorted((p for p in father.iterdir() if (p / RESULTS_FILE).is_file()), key=lambda p: _natural_key(p.name))
    if not folders:
        raise DataError(f"{father}: no sub-folder holds a {RESULTS_FILE}; expected generation_0/{RESULTS_FILE}, ...")
    return [(folder.name, _read_results(folder / RESULTS_FILE)) for folder in folders]
