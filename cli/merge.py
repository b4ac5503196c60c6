"""``evoforge merge``: search the merge weights of deltas against a held-out eval set (AutoLLM step 3)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from evoforge.cli.options import RunOptions, run_options
from evoforge.errors import ConfigError, DataError
from evoforge.preflight import ensure, flag_inputs

if TYPE_CHECKING:
    from evoforge.merging.job import MergeJob
    from evoforge.settings import Config

DASHBOARD_HINT = "watch or inspect the study: optuna-dashboard {storage}  (pip install optuna-dashboard)"
DATABASE_HINT = (  # the shell command, with the URL left in its variable (psycopg 3 is the postgres extra's driver)
    "watch or inspect the study '{study}' in the run-state database: "
    'optuna-dashboard "postgresql+psycopg://${{{variable}#*://}}"  (pip install optuna-dashboard)'
)


def _adapters(specs: list[str]) -> dict[str, Path]:
    """``NAME=PATH`` or ``PATH`` (named after its folder) → {name: path}; names unique, paths existing."""
    out: dict[str, Path] = {}
    for spec in specs:
        name, _, raw = spec.rpartition("=") if "=" in spec else ("", "", spec)
        path = Path(raw).expanduser()
        name = name or path.name
        if not path.is_dir():
            raise DataError(f"--adapter {spec}: {path} is not a directory (a LoRA adapter or a full checkpoint)")
        if name in out:
            raise ConfigError(f"--adapter {spec}: the name '{name}' is used twice; write NAME=PATH")
        out[name] = path
    return out


def _new_job(cfg: Config, base: str | None, adapter: list[str], eval_file: Path, train_all: Path | None) -> MergeJob:
    from evoforge.merging.job import MergeJob

    adapters = _adapters(adapter)
    if not adapters:
        raise ConfigError("give the deltas to merge with --adapter (repeatable)")
    if not eval_file.is_file():
        raise DataError(f"--eval {eval_file}: no such file")
    if train_all is not None and not train_all.is_dir():
        raise DataError(f"--train-all {train_all}: not a directory")
    if base is None or base == "tiny":
        from evoforge.training.student import resolve_student, use_threads

        base_path = resolve_student(base or cfg.student.model)
        use_threads(cfg.student, base or cfg.student.model)
    else:
        base_path = Path(base).expanduser()
        if not (base_path / "config.json").is_file():
            raise ConfigError(f"--base {base}: not a Hugging Face model directory (no config.json)")
    return MergeJob(
        base=base_path,
        adapters=adapters,
        eval_path=eval_file,
        train_all=train_all,
        metric=cfg.eval.metric,
        batch_size=cfg.eval.batch_size,
        max_new_tokens=cfg.eval.max_new_tokens,
        max_batch_tokens=cfg.eval.max_batch_tokens,
        device=cfg.student.device,
        settings=cfg.merge,
        storage="",
        seed=cfg.run.seed,
        llm=cfg.llm if cfg.eval.metric == "judge" else None,
    )


def _print_summary(results: dict[str, Any], run_path: Path, job: MergeJob) -> None:
    from rich.table import Table

    from evoforge.console import console, info

    table = Table("model", "eval_score", title=f"merge search ({results['n_trials']} trials)")
    for label, score in results["table"].items():
        table.add_row(label, f"{score:.4f}")
    console.print(table)
    info(f"report: {run_path / 'merge' / 'report.md'}")
    if "best_adapter" in results:
        info(f"best merge (PEFT adapter): {results['best_adapter']}")
    from evoforge.database import ENV_PREFIX

    if job.storage.startswith(ENV_PREFIX):
        info(DATABASE_HINT.format(study=job.study_name, variable=job.storage[len(ENV_PREFIX) :]))
    else:
        info(DASHBOARD_HINT.format(storage=job.storage))


def register(app: typer.Typer) -> None:
    """Add ``evoforge merge``."""

    @app.command("merge")
    @run_options()
    def merge(
        adapter: Annotated[
            list[str] | None, typer.Option("--adapter", "-a", help="A delta: NAME=PATH or PATH (repeatable).")
        ] = None,
        eval_file: Annotated[
            Path | None, typer.Option("--eval", help="Held-out eval set (JSONL rows prompt, reference, category).")
        ] = None,
        base: Annotated[str | None, typer.Option("--base", help="Base model dir (default: student.model).")] = None,
        trials: Annotated[int | None, typer.Option("--trials", min=1, help="Trials, baselines included.")] = None,
        train_all: Annotated[
            Path | None, typer.Option("--train-all", help="Adapter trained on all data (train@all row).")
        ] = None,
        sampler: Annotated[str | None, typer.Option("--sampler", help="tpe | gp | cmaes | random.")] = None,
        workers: Annotated[int | None, typer.Option("--workers", min=1, help="Processes sharing the study.")] = None,
        method: Annotated[
            list[str] | None, typer.Option("--method", help="Merge method; repeat to search among several.")
        ] = None,
        storage: Annotated[
            str | None, typer.Option("--storage", help="Optuna storage URL (e.g. postgresql://...) or journal file.")
        ] = None,
        resume: Annotated[str | None, typer.Option("--resume", help="Continue the search of this run id.")] = None,
        *,
        opts: RunOptions,
    ) -> None:
        """Search the merge weights of deltas (LoRA adapters or full checkpoints) on a held-out eval set.

        Baselines (each delta alone, the average, merge.human_weights) are the first trials; the best merge is
        saved as a PEFT adapter (linear merges) with results.json, report.md and history.png in <run>/merge/.
        """
        from evoforge.merging.merge_run import merge_run, resumed

        cfg = opts.resolve()
        updates: dict[str, Any] = {
            k: v
            for k, v in {"trials": trials, "sampler": sampler, "workers": workers, "storage": storage}.items()
            if v is not None
        }
        if method:
            updates["method"] = method[0] if len(method) == 1 else method
        if resume:
            job, run = resumed(cfg.run.runs_dir, resume)
            updates = {k: v for k, v in updates.items() if k in ("trials", "workers")}
        else:
            if eval_file is None:
                raise ConfigError("--eval FILE is required (or --resume RUN_ID)")
            given: dict[str, str | Path | None] = {
                "--eval": eval_file,
                "--base": base or cfg.student.model,
                "--train-all": train_all,
            }
            ensure(cfg, "merge", given | flag_inputs("--adapter", adapter))
            job = _new_job(cfg, base, adapter or [], eval_file, train_all)
            run = opts.start(cfg, "merge")
        results = merge_run(job, run, updates, cfg.run)
        _print_summary(results, run.path, job)
