"""The cycle's heavy work, as plain blocking functions the nodes run in worker threads.

Each takes the run's config and directory plus run-dir-relative paths from the state, writes under ``rounds/<n>/``
and returns paths and figures; each is idempotent (training and the merge study skip what is already done).
"""

from __future__ import annotations

import json
import threading
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from evoforge.config import Config
from evoforge.data.chunking import chunk_dataset, write_chunks
from evoforge.data.formats import load_examples
from evoforge.data.sources import skills
from evoforge.database import database_ref
from evoforge.evals.harness import EvalReport
from evoforge.evals.metrics import metric_ceiling
from evoforge.llm.cache import response_cache_path
from evoforge.merging.export import save_full_model
from evoforge.merging.job import TRAIN_ALL, MergeJob, run_job, table_reports
from evoforge.merging.lora import load_delta
from evoforge.merging.search import study_location
from evoforge.merging.trial import MergeSpec
from evoforge.processes import local_workers, shared_pool
from evoforge.rounds import instruct_source, pool
from evoforge.rounds.pool import TEST_FILE, TEST_SEED_OFFSET
from evoforge.rounds.preferences import round_preferences, with_preferences
from evoforge.rounds.steering import allocate, steer
from evoforge.runs import RunDir, atomic_write_jsonl
from evoforge.training.deltas import ALL_CHUNK, DeltaJob, plan_deltas, train_planned
from evoforge.training.student import resolve_student, use_threads


def round_path(run_path: Path, round_dir: str) -> Path:
    """Absolute path of a round directory."""
    return run_path / round_dir


def student_dir(run_path: Path, student: str) -> Path:
    """The model directory of ``student``: a promoted model inside the run, or a configured name/path."""
    inside = run_path / student
    return inside if inside.is_dir() else resolve_student(student)


def first_plan(config: Config, run_path: Path) -> dict[str, int]:
    """The first round's seed plan, even over the categories: ``world.n_seeds`` over the world's, or (on the
    user's data, whose test set and seed pool this writes) a round's share of the pool over the pool's; on the
    instruct graph, each instructor's configured count of records."""
    if instruct_source.uses_instruct(config):
        return instruct_source.first_plan(config)
    if not pool.uses_pool(config):
        return allocate(config.world.n_seeds, {c: 1.0 for c in config.world.categories})
    pool.prepare(config, run_path)
    return allocate(pool.round_size(config, run_path), {c: 1.0 for c in pool.pool_categories(run_path)})


def _round_seeds(config: Config, n: int, plan: dict[str, int], max_level: int | None) -> list[dict[str, Any]]:
    level = max_level or config.world.max_level
    rows: list[dict[str, Any]] = []
    for category, count in sorted(plan.items()):
        if count > 0:
            rows += skills().seed_records(count, config.run.seed + 1000 * n, categories=[category], max_level=level)
    return rows


def open_round(
    config: Config, run_path: Path, n: int, plan: dict[str, int], max_level: int | None
) -> tuple[str, dict[str, int]]:
    """Create ``rounds/<n>`` as an evolve run directory whose seeds follow ``plan``; returns ``rounds/<n>`` and
    what was drawn (on the user's data: fresh, reused and bad-case seeds from :func:`pool.draw`).

    The round's seeds are ``rounds/<n>/seeds.jsonl``: generated from the skills world, or drawn from the pool. On
    the instruct graph the round is an instruct run directory whose instructors write ``plan``'s counts
    (:func:`instruct_source.open_round`), and nothing is drawn.
    """
    if instruct_source.uses_instruct(config):
        return instruct_source.open_round(config, run_path, n, plan), {}
    rounds = run_path / "rounds"
    path = rounds / str(n)
    seeds = path / "seeds.jsonl"
    if not (path / "manifest.json").is_file():
        round_cfg = config.model_copy(deep=True)
        round_cfg.run.runs_dir = rounds
        round_cfg.evolve.data_path = str(seeds.resolve())
        round_cfg.evolve.instruction_field, round_cfg.evolve.response_field = "instruction", "response"
        RunDir.create(round_cfg, "evolve", str(n))
    drawn: dict[str, int] = {}
    if pool.uses_pool(config):
        pool.prepare(config, run_path)
        rows, drawn = pool.draw(config, run_path, n, plan)
    else:
        rows = _round_seeds(config, n, plan, max_level)
        write_test_set(config, run_path)
    atomic_write_jsonl(seeds, rows)
    return f"rounds/{n}", drawn


def write_test_set(config: Config, run_path: Path) -> Path:
    """The skills world's fixed test set (``eval.test_path``'s rows, else oracle tasks): the same every round."""
    path, test, world = run_path / TEST_FILE, config.eval.test_path, config.world
    if not path.is_file():
        seed = config.run.seed + TEST_SEED_OFFSET
        rows = pool.user_test_set(test) if test else skills().eval_records(world.n_eval, seed, world.categories)
        atomic_write_jsonl(path, rows)
    return path


def chunk_round(config: Config, run_path: Path, round_dir: str, dataset: str) -> tuple[dict[str, str], str]:
    """Chunk the round's data (by ``train.chunk_by``; ``train.mix_other_chunks`` of the others mixed into each),
    plus the round's preference pairs (:mod:`.preferences`), with a held-out split; returns run-relative paths.
    The instruct graph's data loses its test prompts first."""
    examples = load_examples(run_path / dataset)
    if instruct_source.uses_instruct(config):
        examples = instruct_source.without_test_prompts(config, run_path, examples)
    split = config.train
    chunks, held_out = chunk_dataset(
        examples, split.chunk_by, split.eval_fraction, config.run.seed, split.mix_other_chunks
    )
    on_world = not pool.uses_pool(config) and not instruct_source.uses_instruct(config)
    pairs = round_preferences(config, int(Path(round_dir).name), on_world)
    chunks, held_out = with_preferences(chunks, held_out, pairs, split.eval_fraction, config.run.seed)
    write_chunks(round_path(run_path, round_dir), chunks, held_out, overwrite=True)
    return {name: f"{round_dir}/chunks/{name}.jsonl" for name in chunks}, f"{round_dir}/eval.jsonl"


def plan_training(config: Config, run_path: Path, round_dir: str) -> list[dict[str, str]]:
    """The round's deltas: each chunk's methods (``train.method``) and train@all, as ``{chunk, method}``."""
    jobs = plan_deltas(round_path(run_path, round_dir) / "chunks", config.train)
    return [{"chunk": job.chunk, "method": job.method} for job in jobs]


_TRAINING = threading.Lock()  # train.workers 1: one delta at a time in this process (threads only contend)


def train_delta(config: Config, run_path: Path, task: dict[str, Any]) -> tuple[str, str, bool]:
    """Train (or reuse) one planned delta; returns (name, run-relative adapter dir, whether it is train@all). Locally
    ``train.workers`` train at once in the shared pool's processes (the same bits) or one at a time here."""
    use_threads(config.student)
    local = config.train.backend == "local"
    workers = local_workers(config.train.workers, config.student.device) if local else 1
    if workers > 1:
        return shared_pool(workers).call(train_delta_here, config, run_path, task)
    with _TRAINING if local else nullcontext():
        return train_delta_here(config, run_path, task)


def train_delta_here(config: Config, run_path: Path, task: dict[str, Any]) -> tuple[str, str, bool]:
    """:func:`train_delta` in this process."""
    use_threads(config.student)
    root = round_path(run_path, task["round_dir"])
    job = DeltaJob(task["chunk"], task["method"])
    result = train_planned(
        job,
        student_dir(run_path, task["student"]),
        root / "chunks",
        root / "adapters",
        config.train,
        eval_path=root / "eval.jsonl",
        seed=config.run.seed,
        device=config.student.device,
    )
    return result.name, str(result.adapter_path.relative_to(run_path)), job.chunk == ALL_CHUNK


def merge_job(config: Config, run_path: Path, state: dict[str, Any], eval_path: Path, storage: str) -> Any:
    """The merge job of a round's state: its deltas on its student, scored on ``eval_path``."""
    return MergeJob(
        base=student_dir(run_path, state["student"]),
        adapters={name: run_path / path for name, path in state["deltas"].items()},
        eval_path=eval_path,
        train_all=run_path / state["train_all"] if state.get("train_all") else None,
        metric=config.eval.metric,
        llm=config.llm,
        llm_cache=response_cache_path(config.llm),
        batch_size=config.eval.batch_size,
        max_new_tokens=config.eval.max_new_tokens,
        max_batch_tokens=config.eval.max_batch_tokens,
        device=config.student.device,
        settings=config.merge,
        storage=storage,
        seed=config.run.seed,
    )


def merge_round(config: Config, run_path: Path, state: dict[str, Any], gateway: Any = None) -> dict[str, Any]:
    """Search the merge weights on the round's held-out split (resumes from ``merge/optuna.db``).

    ``gateway`` grades for metric ``judge`` (the run's gateway, seen from this worker thread); this holds for
    every function below that takes one.
    """
    use_threads(config.student)
    root = round_path(run_path, state["round_dir"])
    (root / "merge").mkdir(parents=True, exist_ok=True)
    where = (database_ref(config.run), root / "merge", config.merge.workers, f"{run_path.name}/{state['round_dir']}")
    storage, study_name = study_location(*where)  # the run-state database, else SQLite (a journal for workers)
    job = merge_job(config, run_path, state, run_path / state["eval_path"], storage)
    job.study_name = study_name
    results: dict[str, Any] = run_job(job, RunDir(root), gateway)
    return results


def evaluate_round(
    config: Config, run_path: Path, state: dict[str, Any], gateway: Any = None
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Score every row of the round's table on the fixed test set; writes ``evals/test-<model>.json``."""
    use_threads(config.student)
    root = round_path(run_path, state["round_dir"])
    test: dict[str, float] = {}
    per_category: dict[str, dict[str, float]] = {}
    specs = table_specs(config, state, root)
    for label, report in _score_rows(config, run_path, state, run_path / TEST_FILE, specs, gateway):
        report.save(test_report_path(root, label))
        test[label], per_category[label] = report.score, report.per_category
    return test, per_category


def table_specs(config: Config, state: dict[str, Any], root: Path) -> dict[str, MergeSpec]:
    """The merge of every row of a round's table: raw, train@all, each delta alone, and the searched merges."""
    groups = config.merge.per_layer_groups
    specs = {"raw": MergeSpec({})}
    if state.get("train_all"):
        specs[TRAIN_ALL] = MergeSpec({TRAIN_ALL: [1.0] * groups})
    specs.update({f"train@{name}": MergeSpec({name: [1.0] * groups}) for name in state["deltas"]})
    results = json.loads((root / "merge" / "results.json").read_text(encoding="utf-8"))
    specs.update({label: MergeSpec(**merge) for label, merge in results["merges"].items()})
    return specs


def _score_rows(
    config: Config,
    run_path: Path,
    state: dict[str, Any],
    eval_path: Path,
    specs: dict[str, MergeSpec],
    gateway: Any,
) -> list[tuple[str, EvalReport]]:
    """Each spec's full evaluation report on ``eval_path`` (one resident model per process; merge.workers of them)."""
    job = merge_job(config, run_path, state, eval_path, storage="")
    return list(zip(specs, table_reports(job, list(specs.values()), job.workers(), gateway), strict=True))


def test_report_path(root: Path, label: str) -> Path:
    """Where a round's test-set evaluation of the table row ``label`` is kept."""
    return root / "evals" / f"test-{label.replace('@', '_')}.json"


def promote(config: Config, run_path: Path, state: dict[str, Any]) -> str:
    """Fold the round's best merge into the student: a full model at ``rounds/<n>/student``; returns its path."""
    out = round_path(run_path, state["round_dir"]) / "student"
    if not (out / "config.json").is_file():
        base = student_dir(run_path, state["student"])
        deltas = [load_delta(run_path / path, None, name) for name, path in state["deltas"].items()]
        spec = MergeSpec(**state["merge"]["merge"])
        chosen = [d for d in deltas if d.name in spec.weights]
        save_full_model(base, chosen, spec, out, config.merge.per_layer_groups, config.run.seed)
    return str(out.relative_to(run_path))


def close_round(
    config: Config, run_path: Path, state: dict[str, Any], promoted: bool, gateway: Any = None
) -> tuple[str, dict[str, Any]]:
    """Fold a promoted merge into the student and steer the next round's seeds from the kept student's results on
    the round's held-out split (the evolved data no delta trained on; the test set plays no part in steering).

    The next round draws more seeds (instruct graph: records) of the categories the kept student did worst on there
    (``cycle.steering: uniform``: the first round's plan again); skills-world failures on the top level raise the
    seeds' level; the user's held-out failures become seeds (bad cases). Returns the next student and the steering.
    """
    student = promote(config, run_path, state) if promoted else state["student"]
    current = "auto_merge" if promoted else "raw"
    ceiling = metric_ceiling(config.eval.metric)
    root = round_path(run_path, state["round_dir"])
    spec = table_specs(config, state, root)[current]
    [(_, report)] = _score_rows(config, run_path, state, run_path / state["eval_path"], {current: spec}, gateway)
    report.save(root / "evals" / f"held-out-{current}.json")
    failed = [ex for ex in report.per_example if ex["score"] < ceiling]
    levels: list[dict[str, Any]] = []
    if instruct_source.uses_instruct(config):
        categories, total = instruct_source.steering_frame(config)
    elif pool.uses_pool(config):
        categories, total = pool.pool_categories(run_path), pool.round_size(config, run_path)
    else:
        categories, total = list(config.world.categories), config.world.n_seeds
        levels = [{**ex, "level": skills().complexity(ex["prompt"]) or None, "correct": False} for ex in failed]
    scores = {c: report.per_category.get(c, report.score) for c in categories}
    unit = "records" if instruct_source.uses_instruct(config) else "seeds"
    steering = steer(total, scores, levels, config.world.max_level, ceiling, unit)
    steering["reasons"] = [f"{current} on the held-out split: {r}" for r in steering["reasons"]]
    if config.cycle.steering == "uniform":  # no feedback: the next round repeats the first round's plan
        steering = {"plan": first_plan(config, run_path), "max_level": None, "reasons": ["cycle.steering uniform"]}
    if pool.uses_pool(config):
        n_bad = pool.write_bad_cases(config, root, int(state["round"]), report.per_example, ceiling)
        steering["reasons"].append(f"{n_bad} held-out bad cases of {current} join the next round's seeds")
    if method := state.get("evolved", {}).get("method_id"):
        steering["reasons"].append(f"the next round's evolve starts from this round's method {method}")
    return student, steering
