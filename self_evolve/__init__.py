"""Self-Evolution (seed 003), LangGraph-free: its data files, its per-generation predictions and scores, its chart.

- :mod:`~evoforge.self_evolve.data_files`: the knowledge fragments (``[{"instruction": fragment}, ...]``) and the eval
  items (``{"instruction", "input", "output"}``) read with errors that name file, item and field; cleaning a generated
  question, spotting a degenerate answer, the fragments' language.
- :mod:`~evoforge.self_evolve.predictions`: one generation's LLaMA-Factory files (``generated_predictions.jsonl``,
  ``predict_results.json``) written, and every generation's results read back in natural order.
- :mod:`~evoforge.self_evolve.chart`: the seed's ``draw_scores.py``: grouped BLEU-4 / ROUGE bars per generation.
"""

from __future__ import annotations

from evoforge.self_evolve.chart import build_figure, draw_scores
from evoforge.self_evolve.data_files import clean_question, is_degenerate, language_of, read_eval_items, read_fragments
from evoforge.self_evolve.predictions import SCORE_KEYS, read_generations, write_generation

__all__ = [
    "SCORE_KEYS",
    "build_figure",
    "clean_question",
    "draw_scores",
    "is_degenerate",
    "language_of",
    "read_eval_items",
    "read_fragments",
    "read_generations",
    "write_generation",
]
