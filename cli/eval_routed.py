"""``evoforge eval --route RUN_ID [--round N]``: a cycle round's experts + router scored on an eval set.

The LMoE's embedding router over the round's category deltas (what ``evoforge serve lmoe --run`` routes ``model:
auto`` with) sends each prompt to one delta, which alone answers it on the round's base, generated and scored like
the cycle's ``routed_experts`` row (:mod:`evoforge.cycle.routed`).
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evoforge.errors import ConfigError
from evoforge.runs import RunDir

if TYPE_CHECKING:
    from evoforge.settings import Config


def run_routed_eval(
    cfg: Config, source: str, round_n: int | None, data: Path, name: str | None, run_id: str | None
) -> tuple[Any, Path]:
    """Score round ``round_n`` (None: the latest) of the cycle run ``source`` as routed experts on ``data`` in a new
    eval run: writes ``evals/<name>.json`` (each example with its ``expert``), LLaMA-Factory's
    ``predict_results.json`` and the router's ``router.json`` (accuracy, prompts routed, per expert) beside it;
    returns the report and its path."""
    from evoforge.console import info
    from evoforge.cycle.routed import ROUTER_FILE, expert_chunks, route_and_score, router_missing, router_summary
    from evoforge.evals.metrics import get_metric
    from evoforge.llm.gateway import LLMGateway
    from evoforge.merging.job import MergeJob
    from evoforge.runs import atomic_write_json
    from evoforge.serve.experts import latest_round
    from evoforge.serve.lmoe import round_router
    from evoforge.training.student import use_threads

    metric = cfg.eval.metric
    if metric != "judge":
        get_metric(metric)  # a bad metric name fails before the model loads
    missing = router_missing()
    if missing:
        raise ConfigError(f"--route: {missing}")
    src = RunDir.open(cfg.run.runs_dir, source).path
    n = latest_round(src) if round_n is None else round_n
    root = src / "rounds" / str(n)
    if not (root / "merge" / "job.json").is_file():
        raise ConfigError(f"--route {source} --round {n}: that round has no finished merge search ({root}/merge)")
    chunks = expert_chunks(root)
    if not chunks:
        raise ConfigError(f"--route {source} --round {n}: the round has no category delta to route to")
    route = round_router(src, n, chunks)
    saved = MergeJob.model_validate_json((root / "merge" / "job.json").read_text(encoding="utf-8"))
    fields = {"eval_path": data, "metric": metric, "storage": "", "device": cfg.student.device}
    job = saved.model_copy(update=fields)
    use_threads(cfg.student)
    run = RunDir.create(cfg, "eval", run_id)
    out = run.file("evals", f"{name or data.stem}.json")
    judge = LLMGateway(cfg.llm, run=run) if metric == "judge" else nullcontext()
    with run.recording(), judge as gateway:
        report, routes = route_and_score(job, route, run.path / "evals" / "routed", gateway)
    report.save(out)
    atomic_write_json(out.with_name("predict_results.json"), report.predict_results())
    router = router_summary([row["category"] for row in report.per_example], routes, chunks)
    atomic_write_json(out.with_name(ROUTER_FILE), router)
    run.event("eval_done", metric=report.metric, score=report.score, file=str(out.relative_to(run.path)))
    run.finish("completed", eval_score=report.score, router=router)
    accuracy = "n/a" if router["accuracy"] is None else f"{router['accuracy']:.3f}"
    info(f"routed {router['n']} prompts among round {n}'s experts of {source}: {router['routed']}; accuracy {accuracy}")
    return report, out
