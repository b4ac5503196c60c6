"""Evaluation of a generator on a set: :func:`evaluate` generates for the set (with a
:class:`~evoforge.evals.batched_generation.Generator`, the vLLM one, or anything with the same ``generate``) and
scores it into an :class:`EvalReport` with any metric: a scorer of :mod:`evoforge.evals.metrics` (or a user's
``module:function``), or ``judge``, the share of answers an LLM judge grades ≥ 7 of 10 (AutoLLM's pass rate, through
a gateway). A saved report (:meth:`EvalReport.save`) always holds, under ``predict_results``, LLaMA-Factory's
``predict_*`` figures of the same predictions (``predict_bleu-4``, ``predict_rouge-1/2/l``, ``predict_exact_match``,
``predict_runtime``, ``predict_samples_per_second``), whatever the metric; ``evoforge eval`` also writes them alone
as ``predict_results.json`` beside the report.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evoforge.data.records import Example
from evoforge.errors import ConfigError, DataError

if TYPE_CHECKING:
    from evoforge.console import ProgressHandle
    from evoforge.llm.protocol import Gateway


# -- evaluation sets and reports --------------------------------------------------------------------------------
# An evaluation item is an Example (Example.for_eval): the user prompt, the reference answer (its completion) and
# a category for the per-category table.
@dataclass
class EvalReport:
    """Mean score over all examples, per category, and each example's prediction and score.

    ``runtime_s`` is the generation's wall time. With metric ``judge`` an example's ``score`` is 1.0 when it passed
    (graded ≥ the threshold) else 0.0, so ``score`` and ``per_category`` are pass rates; its ``grade`` (1–10) and
    the judge's ``reason`` follow.
    """

    metric: str
    score: float
    per_category: dict[str, float]
    per_example: list[dict[str, Any]] = field(default_factory=list)
    runtime_s: float = 0.0

    @classmethod
    def of_rows(cls, metric: str, rows: list[dict[str, Any]], runtime: float) -> EvalReport:
        """The report of per-example ``rows`` (each with its ``category`` and ``score``): their mean, overall and
        per category."""
        by_category: dict[str, list[float]] = defaultdict(list)
        for row in rows:
            by_category[row["category"]].append(row["score"])
        return cls(
            metric=metric,
            score=sum(row["score"] for row in rows) / len(rows),
            per_category={c: sum(v) / len(v) for c, v in sorted(by_category.items())},
            per_example=rows,
            runtime_s=runtime,
        )

    def predict_results(self) -> dict[str, float]:
        """LLaMA-Factory's ``predict_*`` figures of the predictions (see :func:`.metrics.predict_results`)."""
        from evoforge.evals.metrics import predict_results

        rows = self.per_example
        return predict_results([e["prediction"] for e in rows], [e["reference"] for e in rows], self.runtime_s)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the fields and, under ``predict_results``, :meth:`predict_results`."""
        return {**asdict(self), "predict_results": self.predict_results()}

    def save(self, path: Path) -> None:
        """Write the report as JSON (atomically)."""
        from evoforge.runs import atomic_write_json

        atomic_write_json(path, self.to_dict())


def load_eval_records(path: Path) -> list[Example]:
    """Read an evaluation set (JSONL, JSON, parquet): rows ``{prompt, reference, category?}``, or Self-Evolution
    style rows ``{instruction, input, output}`` (closed-book: the ``input`` question → ``output``)."""
    from evoforge.data.io import read_located

    return [_to_record(where, row) for where, row in read_located(path)]


def _to_record(where: str, row: Mapping[str, Any]) -> Example:
    category = str(row.get("category") or "all")
    if isinstance(row.get("prompt"), str) and isinstance(row.get("reference"), str):
        return Example.for_eval(row["prompt"], row["reference"], category)
    question = row.get("input") or row.get("instruction")
    if isinstance(question, str) and isinstance(row.get("output"), str):
        return Example.for_eval(question, row["output"], category)
    raise DataError(f"{where}: expected fields 'prompt' and 'reference' (strings), optional 'category'")


def evaluate(
    gen: Any,
    records: Sequence[Example | Mapping[str, Any]],
    metric: str | Callable[[str, str], float] = "exact_match",
    progress: ProgressHandle | None = None,
    *,
    gateway: Gateway | None = None,
) -> EvalReport:
    """Generate an answer for every record with ``gen`` and score it against the reference with ``metric``.

    ``gen`` is anything with ``generate(prompts, progress=None) -> list[str]`` (a
    :class:`~evoforge.evals.batched_generation.Generator`, the vLLM backend). ``records`` are examples
    (:meth:`Example.for_eval`; a pair is scored against its chosen answer) or rows ``{prompt, reference,
    category?}``. Each per-example row is ``prompt, reference, category, prediction,
    score`` (+ ``grade, reason`` for ``judge``). ``metric`` is a name of :func:`evoforge.evals.metrics.get_metric`
    (``module:function`` included), a scorer function, or ``judge``, graded through ``gateway``'s ``judge`` role
    in an event loop of its own (so call it off the loop, as all heavy work is).
    """
    if not records:
        raise DataError("evaluation set is empty")
    items = [r if isinstance(r, Example) else _to_record(f"eval record {n}", r) for n, r in enumerate(records, 1)]
    start = time.perf_counter()
    predictions = gen.generate([r.prompt for r in items], progress=progress)
    runtime = time.perf_counter() - start
    if metric == "judge":
        return _judged(gateway, items, predictions, runtime)
    from evoforge.evals.metrics import get_metric

    scorer = get_metric(metric) if isinstance(metric, str) else metric
    name = metric if isinstance(metric, str) else getattr(metric, "__name__", "custom")
    scores = [
        _number(name, scorer(pred, r.eval_item()["reference"])) for r, pred in zip(items, predictions, strict=True)
    ]
    return _report(name, items, predictions, scores, runtime)


def _number(metric: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"metric '{metric}' returned {value!r}, not a number") from None


def _judged(gateway: Gateway | None, items: list[Example], predictions: list[str], runtime: float) -> EvalReport:
    """The judge's pass/fail of every prediction as an :class:`EvalReport` (grade and reason kept per example)."""
    from evoforge.evals.judging import judge_set

    if gateway is None:
        raise ConfigError("metric 'judge' needs an LLM gateway (the llm settings)")
    graded = asyncio.run(judge_set(gateway, items, predictions))
    scores = [float(e["score"] >= graded.threshold) for e in graded.per_example]
    extras = [{"grade": e["score"], "reason": e["reason"]} for e in graded.per_example]
    return _report("judge", items, predictions, scores, runtime, extras)


def _report(
    metric: str,
    items: list[Example],
    predictions: list[str],
    scores: list[float],
    runtime: float,
    extras: list[dict[str, Any]] | None = None,
) -> EvalReport:
    rows = [
        {**record.eval_item(), "prediction": pred, "score": score, **extra}
        for record, pred, score, extra in zip(items, predictions, scores, extras or [{}] * len(items), strict=True)
    ]
    return EvalReport.of_rows(metric, rows, runtime)
