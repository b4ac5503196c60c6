"""``evoforge eval`` (score a model + adapters on an eval set; with ``--route RUN_ID [--round N]`` a cycle round's
experts + router, each prompt answered by the one delta the LMoE's router picks) and ``evoforge ifd`` (IFD scoring
and selection). The runs are :mod:`evoforge.evals.eval_run`'s and :func:`evoforge.cycle.routed.eval_routed_round`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from evoforge.cli.options import RunOptions, run_options
from evoforge.console import info
from evoforge.errors import ConfigError
from evoforge.evals.eval_run import run_eval, run_ifd
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


def _print_report(report: Any, path: Path) -> None:
    from rich.table import Table

    from evoforge.console import console

    table = Table("category", report.metric, "n", title=f"eval: {report.metric} = {report.score:.4f}")
    counts: dict[str, int] = {}
    for example in report.per_example:
        counts[example["category"]] = counts.get(example["category"], 0) + 1
    for category, score in report.per_category.items():
        table.add_row(category, f"{score:.4f}", str(counts[category]))
    console.print(table)
    info(f"report: {path}")


def _routed_eval(
    cfg: Config, source: str, round_n: int | None, data: Path, name: str | None, run_id: str | None
) -> None:
    """``--route``: resolve round ``round_n`` (None: the latest) of the cycle run ``source`` and its experts, score
    them routed on ``data`` in a new eval run (:func:`evoforge.cycle.routed.eval_routed_round`) and print the
    router's line and the report."""
    from evoforge.cycle.routed import eval_routed_round, expert_chunks, router_missing
    from evoforge.evals.metrics import check_metric
    from evoforge.merging.merge_run import saved_job
    from evoforge.serve.experts import latest_round
    from evoforge.serve.lmoe import round_router

    check_metric(cfg.eval.metric)
    missing = router_missing()
    if missing:
        raise ConfigError(f"--route: {missing}")
    src = RunDir.open(cfg.run.runs_dir, source).path
    n = latest_round(src) if round_n is None else round_n
    root = src / "rounds" / str(n)
    if not (root / "merge" / "job.json").is_file():
        raise ConfigError(f"--route {source} --round {n}: that round has no finished merge search ({root}/merge)")
    job = saved_job(root)
    chunks = expert_chunks(job)
    if not chunks:
        raise ConfigError(f"--route {source} --round {n}: the round has no category delta to route to")
    report, out, router = eval_routed_round(cfg, src, n, job, chunks, round_router, data, name, run_id)
    accuracy = "n/a" if router["accuracy"] is None else f"{router['accuracy']:.3f}"
    info(f"routed {router['n']} prompts among round {n}'s experts of {source}: {router['routed']}; accuracy {accuracy}")
    _print_report(report, out)


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
            if model is not None or adapter or weight:
                raise ConfigError("--route answers with the round's own deltas: no --model, --adapter or --weight")
            ensure(cfg, "eval", {"--data": data})
            _routed_eval(cfg, route, round_n, data, name, opts.run_id)
            return
        if model is None:
            raise ConfigError("give --model MODEL (with --adapter/--weight), or --route RUN_ID")
        if round_n is not None:
            raise ConfigError("--round applies to --route only")
        ensure(cfg, "eval", {"--model": model, "--data": data, **flag_inputs("--adapter", adapter)})
        adapters = parse_adapters(adapter or [])
        weights = parse_weights(weight or [], list(adapters))
        _print_report(*run_eval(cfg, model, adapters, weights, data, name, opts.run_id))

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
        done = run_ifd(cfg, model, data, mode, k, fraction, drop_above_one, opts.run_id)
        summary = done.summary
        info(
            f"IFD ({summary['variant']}) of {summary['scored']} records, mean {summary['mean_ifd']}, "
            f"{summary['above_one']} above 1; {mode} kept {summary['selected']} → {done.selected_path}"
        )
