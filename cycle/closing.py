"""Closing a round: its best merge folded into the next student, and the next round's seeds steered from how the
kept student did on the round's held-out split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evoforge.cycle import instruct_source, pool
from evoforge.cycle.opening import first_plan
from evoforge.cycle.round_record import RoundRecord, round_path, student_dir
from evoforge.cycle.steering import steer
from evoforge.cycle.work import merge_job, score_rows, table_specs
from evoforge.data.sources import skills
from evoforge.errors import EvoforgeError
from evoforge.evals.metrics import metric_ceiling
from evoforge.llm.protocol import Gateway
from evoforge.merging.lora import load_delta
from evoforge.merging.saving import save_full_model
from evoforge.settings import Config


def promote(config: Config, run_path: Path, record: RoundRecord) -> str:
    """Fold the round's best merge into the student: a full model at ``rounds/<n>/student``; returns its path."""
    out = round_path(run_path, record.round_dir) / "student"
    if not (out / "config.json").is_file():
        spec = record.merge
        if spec is None:
            raise EvoforgeError(f"round {record.number} has no merge to promote: its merge search has not run")
        base = student_dir(run_path, record.student)
        deltas = [load_delta(run_path / path, None, name) for name, path in record.deltas.items()]
        chosen = [d for d in deltas if d.name in spec.weights]
        save_full_model(base, chosen, spec, out, config.merge.per_layer_groups, config.run.seed)
    return str(out.relative_to(run_path))


def close_round(
    config: Config, run_path: Path, record: RoundRecord, promoted: bool, gateway: Gateway | None = None
) -> tuple[str, dict[str, Any]]:
    """Fold a promoted merge into the student and steer the next round's seeds from the kept student's results on
    the round's held-out split (the evolved data no delta trained on; the test set plays no part in steering).

    The next round draws more seeds (instruct graph: records) of the categories the kept student did worst on there
    (``cycle.steering: uniform``: the first round's plan again); skills-world failures on the top level raise the
    seeds' level; the user's held-out failures become seeds (bad cases). Returns the next student and the steering.
    """
    student = promote(config, run_path, record) if promoted else record.student
    current = "auto_merge" if promoted else "raw"
    ceiling = metric_ceiling(config.eval.metric)
    root = round_path(run_path, record.round_dir)
    spec = table_specs(config, record, root)[current]
    job = merge_job(config, run_path, record, run_path / record.eval_path)
    [(_, report)] = score_rows(job, {current: spec}, gateway)
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
        n_bad = pool.write_bad_cases(config, root, record.number, report.per_example, ceiling)
        steering["reasons"].append(f"{n_bad} held-out bad cases of {current} join the next round's seeds")
    if method := record.method_id:
        steering["reasons"].append(f"the next round's evolve starts from this round's method {method}")
    return student, steering
