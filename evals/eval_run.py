"""The runs of ``evoforge eval`` (a model + adapters scored on an eval set) and ``evoforge ifd`` (IFD scoring and
selection): each opens a run of its own, does its work and writes its files and manifest; the command parses, checks
and prints what they return."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evoforge.errors import ConfigError, DataError
from evoforge.runs import RunDir

if TYPE_CHECKING:
    from evoforge.evals.harness import EvalReport
    from evoforge.settings import Config


@dataclass(frozen=True)
class IFDRun:
    """What ``evoforge ifd`` wrote: the scored and the selected records, and the summary in its manifest."""

    scored_path: Path
    selected_path: Path
    summary: dict[str, Any]


def _resolve_model(cfg: Config, model: str) -> Path:
    from evoforge.training.student import resolve_student, use_threads

    path = resolve_student(model)
    use_threads(cfg.student, model)
    return path


def _make_generator(cfg: Config, model: Path, adapters: dict[str, Path]) -> Any:
    """The generation backend named by ``eval.backend``."""
    if cfg.eval.backend == "vllm":
        from evoforge.evals.vllm_backend import VLLMGenerator

        return VLLMGenerator(model, adapters, batch_size=cfg.eval.batch_size, max_new_tokens=cfg.eval.max_new_tokens)
    from evoforge.evals.batched_generation import Generator

    settings = cfg.eval
    return Generator(
        model, adapters, cfg.student.device, settings.batch_size, settings.max_new_tokens, settings.max_batch_tokens
    )


def run_eval(
    cfg: Config,
    model: str,
    adapters: dict[str, Path],
    weights: dict[str, float] | None,
    data: Path,
    name: str | None,
    run_id: str | None,
) -> tuple[EvalReport, Path]:
    """Evaluate ``model`` (+ ``adapters`` mixed by ``weights``; None: all at 1.0) on ``data`` in a new run: writes
    ``evals/<name>.json`` and, beside it, LLaMA-Factory's ``predict_results.json`` of the same predictions; returns
    the report and its path.

    Metric ``judge`` grades through the ``llm`` settings' gateway (the shared response cache; usage in the manifest).
    """
    from contextlib import nullcontext

    from evoforge.console import progress
    from evoforge.evals.harness import evaluate, load_eval_records
    from evoforge.evals.metrics import check_metric
    from evoforge.llm.gateway import LLMGateway

    metric = cfg.eval.metric
    check_metric(metric)
    records = load_eval_records(data)
    gen = _make_generator(cfg, _resolve_model(cfg, model), adapters)
    if weights is not None:
        gen.set_weights(weights)
    run = RunDir.create(cfg, "eval", run_id)
    out = run.file("evals", f"{name or data.stem}.json")
    judge = LLMGateway(cfg.llm, run=run) if metric == "judge" else nullcontext()
    with run.recording(), judge as gateway, progress("generating", total=len(records)) as bar:
        report = evaluate(gen, records, metric, progress=bar, gateway=gateway)
    save_eval(run, report, out)
    return report, out


def save_eval(run: RunDir, report: EvalReport, out: Path, **manifest: Any) -> None:
    """Write an eval run's ``report`` to ``out`` and LLaMA-Factory's ``predict_results.json`` beside it, then finish
    the run completed (its score and ``manifest``'s other fields in the manifest)."""
    from evoforge.runs import atomic_write_json

    report.save(out)
    atomic_write_json(out.with_name("predict_results.json"), report.predict_results())
    run.event("eval_done", metric=report.metric, score=report.score, file=str(out.relative_to(run.path)))
    run.finish("completed", eval_score=report.score, **manifest)


def run_ifd(
    cfg: Config,
    model: str,
    data: Path,
    mode: str,
    k: int | None,
    fraction: float | None,
    drop_above_one: bool,
    run_id: str | None,
) -> IFDRun:
    """Score ``data`` by IFD with ``model`` and select by ``mode`` in a new run: writes
    ``ifd/{scored,selected}.jsonl``."""
    from evoforge.console import progress
    from evoforge.data.io import read_records
    from evoforge.evals.ifd import MODES, resolve_k, score_records, select
    from evoforge.runs import atomic_write_jsonl
    from evoforge.training.student import load_student

    if mode not in MODES:
        raise ConfigError(f"--mode {mode}: expected one of {', '.join(MODES)}")
    rows = read_records(data)
    if mode != "all":
        resolve_k(len(rows), k, fraction)  # fail before the expensive part
    for n, row in enumerate(rows, 1):
        if not any(isinstance(row.get(f), str) for f in ("output", "completion", "response")):
            raise DataError(f"{data}: record {n} has no answer ('output', 'completion' or 'response')")
    lm, tokenizer = load_student(_resolve_model(cfg, model), device=cfg.student.device)
    run = RunDir.create(cfg, "ifd", run_id)
    settings = cfg.eval
    with run.recording(), progress("IFD", total=2 * len(rows)) as bar:
        scores = score_records(
            lm,
            tokenizer,
            rows,
            variant=settings.ifd_variant,
            max_length=settings.ifd_max_length,
            batch_size=settings.ifd_batch_size,
            progress=bar,
            max_tokens=settings.ifd_max_tokens,
        )
    scored = [
        {**row, "ifd": s.ifd, "loss_conditioned": s.loss_conditioned, "loss_direct": s.loss_direct}
        for row, s in zip(rows, scores, strict=True)
    ]
    selected = select(scored, mode, k, fraction, drop_above_one=drop_above_one, seed=cfg.run.seed)
    scored_path, selected_path = run.file("ifd", "scored.jsonl"), run.file("ifd", "selected.jsonl")
    atomic_write_jsonl(scored_path, scored)
    atomic_write_jsonl(selected_path, selected)
    valid = [s.ifd for s in scores if s.ifd is not None]
    summary = {"scored": len(scored), "selected": len(selected), "mode": mode, "variant": cfg.eval.ifd_variant}
    summary["mean_ifd"] = sum(valid) / len(valid) if valid else None
    summary["above_one"] = sum(v > 1 for v in valid)
    run.event("ifd_done", **summary)
    run.finish("completed", ifd=summary)
    return IFDRun(scored_path, selected_path, summary)
