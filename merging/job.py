"""A merge job: what ``evoforge merge`` runs, resumable, with optional worker processes on one study.

The job's inputs are written to ``<run>/merge/job.json``; every worker process rebuilds its own resident model from
it (``MergeJob.runner`` names the function: the eval harness's :class:`Generator` by default). It reads its settings
into :mod:`.search`'s space and study and :mod:`.trial`'s runner, and hands the study to :mod:`.results` to write.
"""

from __future__ import annotations

import atexit
import importlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from evoforge.cluster import gpus_per_task, join_actors, start_actors
from evoforge.console import progress
from evoforge.database import ENV_PREFIX, resolve_ref
from evoforge.errors import ConfigError
from evoforge.evals.batched_generation import MAX_BATCH_TOKENS, Generator
from evoforge.evals.harness import EvalReport, evaluate, load_eval_records
from evoforge.evals.metrics import check_metric
from evoforge.llm.cache import response_cache_path
from evoforge.llm.gateway import LLMGateway
from evoforge.llm.protocol import Gateway
from evoforge.merging.lora import Delta, load_delta, read_state
from evoforge.merging.parallel import USAGE_FILES, PooledScorer, count_judge_usage, side_by_side
from evoforge.merging.results import save_outputs, summarize
from evoforge.merging.search import (
    STUDY_NAME,
    Scorer,
    SearchSpace,
    completed,
    human_weights,
    open_search,
    optimize,
    score_all,
)
from evoforge.merging.trial import MergeSpec, TrialResult, TrialRunner
from evoforge.processes import each_worker, local_workers
from evoforge.runs import RunDir, atomic_write_json, atomic_write_text
from evoforge.settings import LLMSettings, MergeSettings, redact

if TYPE_CHECKING:
    import optuna

TRAIN_ALL = "train@all"


class MergeJob(BaseModel):
    """Inputs of a merge search (JSON-able: saved in the run directory, read by workers and on resume)."""

    model_config = ConfigDict(extra="forbid")

    base: Path = Field(description="Base model directory.")
    adapters: dict[str, Path] = Field(description="Deltas searched, by name: LoRA adapter or full checkpoint dirs.")
    eval_path: Path = Field(description="Held-out evaluation set (the runner's input).")
    train_all: Path | None = Field(None, description="Delta trained on all data: the train@all reference row.")
    metric: str = Field(
        "exact_match", description="Eval-harness metric, a scorer 'module:function', or 'judge' (LLM pass rate)."
    )
    llm: LLMSettings | None = Field(None, description="The gateway settings, for metric 'judge'.")
    llm_cache: Path | None = Field(
        None,
        description="The judge's response cache (SQLite); None: the shared one of response_cache_path(llm). Unused "
        "when the study is in the run-state database (storage env:NAME): the judge's cache is there too.",
    )
    batch_size: int = 32
    max_new_tokens: int = 48
    max_batch_tokens: int | None = Field(MAX_BATCH_TOKENS, description="Padded tokens per generate batch.")
    device: str = "auto"
    settings: MergeSettings = Field(default_factory=MergeSettings)
    storage: str = Field(
        description="Optuna storage URL, journal file path, or env:NAME (the run-state database in that variable)."
    )
    study_name: str = Field(STUDY_NAME, description="The study's name in the storage (unique per run and round).")
    seed: int = 0
    runner: str = Field("evoforge.merging.job:generator_runner", description="module:function building the runner.")

    def space(self) -> SearchSpace:
        """The search space the settings describe over the searched deltas."""
        return SearchSpace.from_settings(list(self.adapters), self.settings)

    def study(self, space: SearchSpace, rank: int = 0) -> optuna.Study:
        """Open (or resume) the job's study; the first process (rank 0) enqueues the baselines into it."""
        s = self.settings
        first = rank == 0
        return open_search(
            space,
            s.sampler,
            self.seed + rank,
            self.storage,
            s.direction,
            first,
            human_weights(s.human_weights, list(self.adapters)),
            self.study_name,
        )

    def workers(self) -> int:
        """``settings.workers``; None: 1 on Ray, else :func:`~evoforge.processes.local_workers` (on a CPU, as many
        as the cores hold processes of this process's torch threads, at most the trials; 1 on a GPU)."""
        s = self.settings
        return (s.workers or 1) if s.backend == "ray" else local_workers(s.workers, self.device, s.trials)

    def all_deltas(self) -> dict[str, Path]:
        """The searched deltas plus train@all when given."""
        return {**self.adapters, **({TRAIN_ALL: self.train_all} if self.train_all else {})}

    def build_runner(self, gateway: Gateway | None = None) -> TrialRunner:
        """The runner named by ``runner``, built for this job; ``gateway`` (metric ``judge``: the run's gateway,
        else the runner builds its own) is passed on as a keyword when given."""
        module, _, name = self.runner.partition(":")
        factory: Callable[..., TrialRunner] = getattr(importlib.import_module(module), name)
        return factory(self) if gateway is None else factory(self, gateway=gateway)

    def trial_runner(self, model: Any, deltas: list[Delta], evaluate: Callable[[], float]) -> TrialRunner:
        """A :class:`TrialRunner` of ``deltas`` on ``model`` with the job's layer groups, seed and linear path."""
        s = self.settings
        return TrialRunner(model, deltas, evaluate, s.per_layer_groups, self.seed, s.linear_path)

    def judge_gateway(self) -> LLMGateway:
        """The gateway that grades for metric ``judge``: the job's llm settings and response cache (closed at exit).

        When the study lives in the run-state database (``storage`` is its ``env:NAME`` reference, as a cycle's
        rounds and ``evoforge merge`` write it), so do the judge's response cache and per-model limits, shared with
        the run and every other worker; else the cache is ``llm_cache`` or the shared SQLite one
        (:func:`response_cache_path`; none when ``llm.cache`` is off) and the limits are this process's. Either
        way a grade is paid for once across trials, workers and runs that produce the same answer.
        """
        if self.llm is None:
            raise ConfigError("metric 'judge' needs the llm settings in the merge job (MergeJob(llm=config.llm))")
        database = resolve_ref(self.storage, "merge storage") if self.storage.startswith(ENV_PREFIX) else None
        gw = LLMGateway(self.llm, self.llm_cache or response_cache_path(self.llm), database_url=database)
        atexit.register(gw.close)
        return gw


def generator_runner(
    job: MergeJob, reports: list[EvalReport] | None = None, gateway: Gateway | None = None
) -> TrialRunner:
    """The default runner: the eval harness's resident :class:`Generator` scored with ``job.metric``.

    ``reports``, when given, receives each score's full :class:`~evoforge.evals.harness.EvalReport` (per category
    and per example), e.g. to keep the test-set evaluation of the cycle's table rows; for metric ``judge`` its
    score is the pass rate and each example carries its pass (score 1.0/0.0), grade and reason. ``judge`` grades
    through ``gateway``, by default :meth:`MergeJob.judge_gateway`.
    """
    if job.metric == "judge" and gateway is None:
        gateway = job.judge_gateway()
    else:
        check_metric(job.metric)  # a bad metric name fails before the model loads
    paths = job.all_deltas()
    lora = {n: p for n, p in paths.items() if (p / "adapter_config.json").is_file()}
    gen = Generator(job.base, lora or None, job.device, job.batch_size, job.max_new_tokens, job.max_batch_tokens)
    gen.set_weights({})
    base_state = read_state(job.base) if len(lora) < len(paths) else None
    deltas = [load_delta(p, base_state, n) for n, p in paths.items()]
    records = load_eval_records(job.eval_path)

    def score() -> float:
        report = evaluate(gen, records, job.metric, gateway=gateway)
        if reports is not None:
            reports.append(report)
        return report.score

    return job.trial_runner(gen.model, deltas, score)


_RESIDENT: dict[str, Any] = {}  # in a worker process: the job it serves, its runner, reports and judge gateway


def _resident(job_json: str, threads: int, reports: bool) -> dict[str, Any]:
    """This worker process's runner of ``job_json`` on ``threads`` torch threads (built once; ``reports``: kept)."""
    if _RESIDENT.get("key") != (job_json, reports):
        import torch

        release()
        torch.set_num_threads(threads)
        job = MergeJob.model_validate_json(job_json)
        gateway = job.judge_gateway() if job.metric == "judge" else None
        kept: list[EvalReport] = []
        runner = generator_runner(job, kept, gateway) if reports else job.build_runner(gateway)
        _RESIDENT.update(key=(job_json, reports), runner=runner, reports=kept, gateway=gateway)
    return _RESIDENT


def trial_in_worker(job_json: str, threads: int, spec: MergeSpec) -> TrialResult:
    """In a worker process: score ``spec`` with the job's runner."""
    result: TrialResult = _resident(job_json, threads, reports=False)["runner"].score(spec)
    return result


def report_in_worker(job_json: str, threads: int, spec: MergeSpec) -> EvalReport:
    """In a worker process: the full evaluation report of ``spec`` (the default runner)."""
    resident = _resident(job_json, threads, reports=True)
    resident["runner"].score(spec)
    report: EvalReport = resident["reports"][-1]
    return report


def release() -> dict[str, Any] | None:
    """In a worker process: drop the resident runner (its model); returns its judge's LLM usage, if it had one."""
    gateway = _RESIDENT.get("gateway")
    _RESIDENT.clear()
    return gateway.usage() if gateway is not None else None


def table_reports(
    job: MergeJob, specs: Sequence[MergeSpec], workers: int, gateway: Gateway | None = None
) -> list[EvalReport]:
    """Each spec's full evaluation report with the default runner (one resident model per process), ``workers``
    at a time; a judge (``gateway``) grades here only, so that its usage stays in the run's gateway."""
    reports: list[EvalReport] = []
    runner = generator_runner(job, reports, gateway)

    def here(spec: MergeSpec) -> EvalReport:
        runner.score(spec)
        return reports[-1]

    return side_by_side(here, report_in_worker, job.model_dump_json(), specs, 1 if job.metric == "judge" else workers)


def worker(job_json: str, rank: int, threads: int, usage_path: str) -> None:
    """Entry point of a worker process: rebuild the runner and take trials until the study is complete; a judge's
    LLM usage is written to ``usage_path`` for the main process to count."""
    import torch

    torch.set_num_threads(threads)
    job = MergeJob.model_validate_json(job_json)
    space = job.space()
    gateway = job.judge_gateway() if job.metric == "judge" else None
    optimize(job.study(space, rank), space, job.build_runner(gateway), job.settings.trials)
    if gateway is not None:
        atomic_write_json(Path(usage_path), gateway.usage())


def start_ray_workers(calls: list[tuple[str, int, int, str]], threads: int, run: RunDir) -> list[tuple[Any, Any]]:
    """The :func:`worker` calls as Ray actors (``threads`` CPUs each; a GPU each when the cluster has GPUs), named
    ``evoforge-merge:<run dir>-<rank>``."""
    gpus = gpus_per_task(None)
    return start_actors(worker, calls, num_cpus=threads, num_gpus=gpus, name=f"evoforge-merge:{run.path.resolve()}")


def references(study: optuna.Study, job: MergeJob, runner: Scorer) -> dict[str, float]:
    """Scores of the base (``raw``) and of train@all, evaluated once (side by side with workers), kept in the study."""
    groups = job.settings.per_layer_groups
    wanted = {"raw": MergeSpec({})}
    if job.train_all:
        wanted[TRAIN_ALL] = MergeSpec({TRAIN_ALL: [1.0] * groups})
    missing = {
        f"reference:{label}": spec for label, spec in wanted.items() if f"reference:{label}" not in study.user_attrs
    }
    for key, result in zip(missing, score_all(runner, list(missing.values())), strict=True):
        study.set_user_attr(key, result.score)
    return {label: float(study.user_attrs[f"reference:{label}"]) for label in wanted}


def run_job(job: MergeJob, run: RunDir, gateway: Gateway | None = None) -> dict[str, Any]:
    """Run (or resume) the search with :meth:`MergeJob.workers` processes, then save and report the result.

    ``gateway`` grades for metric ``judge`` in this process (worker processes build their own from the job). Local
    workers score the batches this process asks of the study (:mod:`.parallel`); Ray actors share the study.
    """
    human_weights(job.settings.human_weights, list(job.adapters))  # a bad human merge fails before any work
    atomic_write_text(run.file("merge", "job.json"), redact(job.model_dump_json(indent=2)))
    own = (gateway or job.judge_gateway()) if job.metric == "judge" else None
    runner = job.build_runner(own)
    space = job.space()
    study = job.study(space)
    n_workers = job.workers()
    threads = max(1, (os.cpu_count() or 1) // n_workers)
    usage = str(run.file("merge", USAGE_FILES.replace("*", "{rank}")))
    calls = [(job.model_dump_json(), rank, threads, usage.format(rank=rank)) for rank in range(1, n_workers)]
    on_ray = job.settings.backend == "ray" and bool(calls)
    pooled = not on_ray and n_workers > 1
    scorer = PooledScorer(job.model_dump_json(), runner, n_workers, trial_in_worker) if pooled else runner
    refs = references(study, job, scorer)
    actors = start_ray_workers(calls, threads, run) if on_ray else []
    run.event("merge_search_started", trials=job.settings.trials, workers=n_workers, done=len(completed(study)))
    try:
        with progress("merge trials", job.settings.trials) as bar:
            optimize(study, space, scorer, job.settings.trials, bar, batch=1 if on_ray else n_workers)
    finally:
        lost = join_actors(actors) if actors else []
        used = each_worker(release) if pooled else {}
    for rank, figures in used.items():
        if figures is not None:
            atomic_write_json(Path(usage.format(rank=rank)), figures)
    if own is not None:
        count_judge_usage(run, own, recorded=gateway is not None)
    if lost:  # this process finished the trials a lost actor left: the study is whole, its trial stays unfinished
        run.event("merge_workers_lost", workers=len(lost), errors=lost)
    results = summarize(study, space, refs, job.settings, job.metric, job.adapters)
    save_outputs(run, results, runner.deltas, job.settings, job.base, job.seed)
    run.event("merge_search_finished", best=results["best"]["score"], trials=len(completed(study)))
    return results
