"""``evoforge eval`` (score a model + adapters on an eval set) and ``evoforge ifd`` (IFD scoring and selection)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from evoforge.cli.options import RunOptions, run_options
from evoforge.errors import ConfigError, DataError
from evoforge.preflight import ensure, flag_inputs
from evoforge.runs import RunDir

if TYPE_CHECKING:
    from evoforge.settings import Config

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="'tiny' (built-in student) or a local HF model dir.")]
DataOpt = Annotated[Path, typer.Option("--data", "-d", help="Data file (JSONL, JSON or parquet).")]


def parse_adapters(specs: list[str]) -> dict[str, Path]:
    """``NAME=PATH`` or ``PATH`` (named after its folder) → {name: path}; names must be unique."""
    out: dict[str, Path] = {}
    for spec in specs:
        name, _, raw = spec.rpartition("=")
        path = Path(raw).expanduser()
        name = name or path.name
        if name in out:
            raise ConfigError(f"--adapter {spec}: the name '{name}' is used twice; write NAME=PATH")
        out[name] = path
    return out


def parse_weights(specs: list[str], names: list[str]) -> dict[str, float] | None:
    """``NAME=W`` options → a weight mix (None when none given: every adapter at 1.0)."""
    if not specs:
        return None
    weights: dict[str, float] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep or name not in names:
            raise ConfigError(f"--weight {spec}: expected NAME=W with NAME one of {', '.join(names) or '(none)'}")
        try:
            weights[name] = float(value)
        except ValueError:
            raise ConfigError(f"--weight {spec}: '{value}' is not a number") from None
    return weights


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


def _print_report(report: Any, path: Path) -> None:
    from rich.table import Table

    from evoforge.console import console, info

    table = Table("category", report.metric, "n", title=f"eval: {report.metric} = {report.score:.4f}")
    counts: dict[str, int] = {}
    for example in report.per_example:
        counts[example["category"]] = counts.get(example["category"], 0) + 1
    for category, score in report.per_category.items():
        table.add_row(category, f"{score:.4f}", str(counts[category]))
    console.print(table)
    info(f"report: {path}")


def run_eval(
    cfg: Config, model: str, adapter: list[str], weight: list[str], data: Path, name: str | None, run_id: str | None
) -> Path:
    """Evaluate ``model`` (+ adapters mixed by ``weight``) on ``data`` in a new run: writes ``evals/<name>.json`` and,
    beside it, LLaMA-Factory's ``predict_results.json`` of the same predictions.

    Metric ``judge`` grades through the ``llm`` settings' gateway (the shared response cache; usage in the manifest).
    """
    from contextlib import nullcontext

    from evoforge.console import progress
    from evoforge.evals.harness import evaluate, load_eval_records
    from evoforge.evals.metrics import get_metric
    from evoforge.llm.gateway import LLMGateway
    from evoforge.runs import atomic_write_json

    metric = cfg.eval.metric
    if metric != "judge":
        get_metric(metric)  # a bad metric name fails before the model loads
    records = load_eval_records(data)
    adapters = parse_adapters(adapter)
    weights = parse_weights(weight, list(adapters))
    gen = _make_generator(cfg, _resolve_model(cfg, model), adapters)
    if weights is not None:
        gen.set_weights(weights)
    run = RunDir.create(cfg, "eval", run_id)
    out = run.file("evals", f"{name or data.stem}.json")
    judge = LLMGateway(cfg.llm, run=run) if metric == "judge" else nullcontext()
    with run.recording(), judge as gateway, progress("generating", total=len(records)) as bar:
        report = evaluate(gen, records, metric, progress=bar, gateway=gateway)
    report.save(out)
    atomic_write_json(out.with_name("predict_results.json"), report.predict_results())
    run.event("eval_done", metric=report.metric, score=report.score, file=str(out.relative_to(run.path)))
    run.finish("completed", eval_score=report.score)
    _print_report(report, out)
    return out


def run_ifd(
    cfg: Config,
    model: str,
    data: Path,
    mode: str,
    k: int | None,
    fraction: float | None,
    drop_above_one: bool,
    run_id: str | None,
) -> tuple[Path, Path]:
    """Score ``data`` by IFD with ``model`` and select by ``mode``; writes ``ifd/{scored,selected}.jsonl``."""
    from evoforge.console import info, progress
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
    info(
        f"IFD ({cfg.eval.ifd_variant}) of {len(scored)} records, mean {summary['mean_ifd']}, "
        f"{summary['above_one']} above 1; {mode} kept {len(selected)} → {selected_path}"
    )
    return scored_path, selected_path


def register(app: typer.Typer) -> None:
    """Add ``evoforge eval`` and ``evoforge ifd``."""

    @app.command("eval")
    @run_options()
    def eval_(
        data: DataOpt,
        model: Annotated[
            str | None, typer.Option("--model", "-m", help="'tiny' (built-in student) or a local HF model dir.")
        ] = None,
        adapter: Annotated[
            list[str] | None, typer.Option("--adapter", "-a", help="LoRA adapter dir or NAME=DIR (repeatable).")
        ] = None,
        weight: Annotated[
            list[str] | None, typer.Option("--weight", "-w", help="NAME=W mix weight (default: all at 1.0).")
        ] = None,
        metric: Annotated[
            str | None,
            typer.Option(
                "--metric",
                help="eval.metric: exact_match, numeric, bleu4, bleu4_word, rouge_1/2/l, judge, or module:function.",
            ),
        ] = None,
        name: Annotated[str | None, typer.Option("--name", help="Report name (default: the data file's stem).")] = None,
        route: Annotated[
            str | None,
            typer.Option("--route", help="RUN_ID: a cycle round's experts + router instead of --model (LMoE routing)."),
        ] = None,
        round_n: Annotated[int | None, typer.Option("--round", min=1, help="--route's round (default latest).")] = None,
        *,
        opts: RunOptions,
    ) -> None:
        """Generate greedily for every prompt of an eval set and score it; per-category table and JSON report.

        With --route RUN_ID, each prompt is answered by the one delta of the run's round that the LMoE's router picks
        (the cycle's routed_experts row); router.json beside the report holds the router's accuracy."""
        cfg = opts.resolve(*([f"eval.metric={metric}"] if metric else []))
        if route is not None:
            from evoforge.cli.eval_routed import run_routed_eval

            if model is not None or adapter or weight:
                raise ConfigError("--route answers with the round's own deltas: no --model, --adapter or --weight")
            ensure(cfg, "eval", {"--data": data})
            _print_report(*run_routed_eval(cfg, route, round_n, data, name, opts.run_id))
            return
        if model is None:
            raise ConfigError("give --model MODEL (with --adapter/--weight), or --route RUN_ID")
        if round_n is not None:
            raise ConfigError("--round applies to --route only")
        ensure(cfg, "eval", {"--model": model, "--data": data, **flag_inputs("--adapter", adapter)})
        run_eval(cfg, model, adapter or [], weight or [], data, name, opts.run_id)

    @app.command("ifd")
    @run_options()
    def ifd(
        model: ModelOpt,
        data: DataOpt,
        mode: Annotated[str, typer.Option("--mode", help="random | easy | even | hard | all")] = "hard",
        k: Annotated[int | None, typer.Option("--k", min=1, help="How many to select.")] = None,
        fraction: Annotated[float | None, typer.Option("--fraction", help="Or: which fraction to select.")] = None,
        drop_above_one: Annotated[
            bool, typer.Option("--drop-above-one", help="First drop records with IFD > 1 (Cherry's filter).")
        ] = False,
        variant: Annotated[
            str | None, typer.Option("--variant", help="eval.ifd_variant: cherry | superfiltering | self_evolution")
        ] = None,
        *,
        opts: RunOptions,
    ) -> None:
        """Score instruction data by IFD (instruction-following difficulty) and select a subset by mode."""
        cfg = opts.resolve(*([f"eval.ifd_variant={variant}"] if variant else []))
        if mode != "all" and k is None and fraction is None:
            raise ConfigError("give --k or --fraction (or --mode all)")
        run_ifd(cfg, model, data, mode, k, fraction, drop_above_one, opts.run_id)
