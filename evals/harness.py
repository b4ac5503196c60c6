"""Batched greedy generation from a resident base model with a weighted mix of LoRA adapters, and evaluation.

The merge search calls :meth:`Generator.generate` thousands of times, so the model and every adapter are loaded
once into one ``PeftModel``. A mix ``{name: w}`` activates the adapters with non-zero weight together and sets each
LoRA layer's scale to ``w × alpha / r``: the forward pass then adds exactly ``Σ wᵢ·sᵢ·BᵢAᵢ x`` — the linear merge of
the deltas — without writing merged weights. Prompts are raw user messages; the tokenizer's chat template is
applied inside; batches are formed by length (left padding, KV cache) and the results returned in input order.

:func:`evaluate` generates for a set and scores it into an :class:`EvalReport` with any metric: a scorer of
:mod:`evoforge.evals.metrics` (or a user's ``module:function``), or ``judge``, the share of answers an LLM judge
grades ≥ 7 of 10 (AutoLLM's pass rate, through a gateway). A saved report (:meth:`EvalReport.save`) always holds,
under ``predict_results``, LLaMA-Factory's ``predict_*`` figures of the same predictions (``predict_bleu-4``,
``predict_rouge-1/2/l``, ``predict_exact_match``, ``predict_runtime``, ``predict_samples_per_second``), whatever
the metric; ``evoforge eval`` also writes them alone as ``predict_results.json`` beside the report.
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
    from evoforge.llm.gateway import LLMGateway


def render_prompt(tokenizer: Any, prompt: str) -> str:
    """``prompt`` as a user turn through the chat template with the generation prompt (raw text without one)."""
    if not getattr(tokenizer, "chat_template", None):
        return prompt
    text: str = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
    )
    return text


def lora_layers(model: Any) -> list[Any]:
    """Every PEFT LoRA layer in ``model``."""
    from peft.tuners.lora import LoraLayer

    return [m for m in model.modules() if isinstance(m, LoraLayer)]


def full_mix(weights: Mapping[str, float], names: Sequence[str]) -> dict[str, float]:
    """``weights`` over every loaded adapter (0.0 for those left out); an unknown name is a ConfigError."""
    unknown = set(weights) - set(names)
    if unknown:
        raise ConfigError(f"unknown adapter(s) {sorted(unknown)}; loaded: {list(names)}")
    return {name: float(weights.get(name, 0.0)) for name in names}


class Generator:
    """A resident model (+ LoRA adapters) for batched greedy generation.

    ``model_path`` is a local Hugging Face model directory or ``"tiny"`` (the built-in tiny student); ``adapters``
    maps names to adapter directories; all are loaded at start. The initial mix gives every adapter
    weight 1.0 (PEFT's behaviour when several adapters are active); :meth:`set_weights` changes it.
    """

    def __init__(
        self,
        model_path: Path | str,
        adapters: Mapping[str, Path | str] | None = None,
        device: str = "auto",
        batch_size: int = 32,
        max_new_tokens: int = 48,
    ) -> None:
        if batch_size < 1 or max_new_tokens < 1:
            raise ConfigError("batch_size and max_new_tokens must be positive")
        from evoforge.training.student import load_student

        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.model, self.tokenizer = load_student(model_path, device=device)
        self.adapter_names: list[str] = list(adapters or {})
        self._weights: dict[str, float] = {}
        self._encoded: dict[str, list[int]] = {}
        if adapters:
            self._load_adapters(adapters)
            self.set_weights(dict.fromkeys(self.adapter_names, 1.0))
        eos = self.tokenizer.eos_token_id
        gen_eos = getattr(self.model.generation_config, "eos_token_id", None)
        ids = {eos} | set(gen_eos if isinstance(gen_eos, list) else [gen_eos])
        self.eos_ids: set[int] = {i for i in ids if i is not None}

    def _load_adapters(self, adapters: Mapping[str, Path | str]) -> None:
        from peft import PeftModel

        for name, path in adapters.items():
            if not (Path(path) / "adapter_config.json").is_file():
                raise ConfigError(f"adapter '{name}': {path} is not a PEFT adapter directory (no adapter_config.json)")
        items = list(adapters.items())
        first_name, first_path = items[0]
        self.model = PeftModel.from_pretrained(self.model, first_path, adapter_name=first_name)
        for name, path in items[1:]:
            self.model.load_adapter(path, adapter_name=name)
        self.model.eval()
        self._layers = lora_layers(self.model)

    @property
    def weights(self) -> dict[str, float]:
        """The current adapter mix (every loaded adapter, 0.0 for those left out)."""
        return dict(self._weights)

    def set_weights(self, weights: Mapping[str, float]) -> None:
        """Set the adapter mix: adapter ``i`` contributes ``weights[i] × BᵢAᵢ × alpha/r``; unnamed adapters get 0."""
        self._weights = full_mix(weights, self.adapter_names)
        active = [name for name, w in self._weights.items() if w != 0.0]
        if not self.adapter_names:
            return
        for layer in self._layers:
            for name in self.adapter_names:
                layer.set_scale(name, self._weights[name])
        self.model.base_model.set_adapter(active, inference_mode=True)

    def render(self, prompt: str) -> str:
        """The text the model sees for ``prompt`` (chat template with the generation prompt)."""
        return render_prompt(self.tokenizer, prompt)

    def generate(self, prompts: Sequence[str], progress: ProgressHandle | None = None) -> list[str]:
        """Greedy completions of ``prompts`` (in order), cut at the first end-of-sequence token and stripped."""
        import torch

        encoded = [self._encode(p) for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]), reverse=True)
        outputs = [""] * len(prompts)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = self.tokenizer.pad({"input_ids": [encoded[i] for i in idx]}, padding=True, return_tensors="pt")
            batch = {k: v.to(self.model.device) for k, v in batch.items()}
            with torch.inference_mode():
                out = self.model.generate(
                    **batch,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    num_beams=1,
                    use_cache=True,
                    pad_token_id=self.tokenizer.pad_token_id,
                    eos_token_id=sorted(self.eos_ids) or None,
                )
            new_tokens = out[:, batch["input_ids"].shape[1] :].tolist()
            for i, tokens in zip(idx, new_tokens, strict=True):
                outputs[i] = self._decode(tokens)
            if progress is not None:
                progress.advance(len(idx))
        return outputs

    def _encode(self, prompt: str) -> list[int]:
        """Token ids of the rendered prompt, cached (the merge search repeats the same eval prompts)."""
        ids = self._encoded.get(prompt)
        if ids is None:
            ids = list(self.tokenizer(self.render(prompt), add_special_tokens=False)["input_ids"])
            self._encoded[prompt] = ids
        return ids

    def _decode(self, tokens: list[int]) -> str:
        cut = next((k for k, t in enumerate(tokens) if t in self.eos_ids), len(tokens))
        text: str = self.tokenizer.decode(tokens[:cut], skip_special_tokens=True)
        return text.strip()


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
    gateway: LLMGateway | None = None,
) -> EvalReport:
    """Generate an answer for every record with ``gen`` and score it against the reference with ``metric``.

    ``gen`` is anything with ``generate(prompts, progress=None) -> list[str]`` (a :class:`Generator`, the vLLM
    backend). ``records`` are examples (:meth:`Example.for_eval`; a pair is scored against its chosen answer) or
    rows ``{prompt, reference, category?}``. Each per-example row is ``prompt, reference, category, prediction,
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


def _judged(gateway: LLMGateway | None, items: list[Example], predictions: list[str], runtime: float) -> EvalReport:
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
    by_category: dict[str, list[float]] = defaultdict(list)
    per_example = []
    for record, pred, score, extra in zip(items, predictions, scores, extras or [{}] * len(items), strict=True):
        item = record.eval_item()
        by_category[item["category"]].append(score)
        per_example.append({**item, "prediction": pred, "score": score, **extra})
    return EvalReport(
        metric=metric,
        score=sum(scores) / len(scores),
        per_category={c: sum(v) / len(v) for c, v in sorted(by_category.items())},
        per_example=per_example,
        runtime_s=runtime,
    )
