"""The self_evolve graph's nodes: each reads the state, runs one step of :mod:`evoforge.self_evolve` (blocking work in
a worker thread), writes its files into the round's folder and returns an update.

A node that re-runs after a crash recomputes the same result: sampling is seeded by the run's seed and the round,
training by the run's seed, and an adapter whose inputs are unchanged is reused.
"""

from __future__ import annotations

import asyncio
import statistics
from pathlib import Path
from typing import Any, Unpack

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from evoforge.console import info, progress
from evoforge.errors import DataError
from evoforge.evals.batched_generation import Sampling
from evoforge.graphs.review import parse_decision
from evoforge.graphs.runtime import Resources, RunContext, node_resources
from evoforge.graphs.self_evolve.report import MERGED, write_model_cards, write_outputs, write_qa_card
from evoforge.graphs.self_evolve.state import RoundSummary, SelfEvolveState
from evoforge.runs import atomic_write_json, atomic_write_jsonl
from evoforge.self_evolve import rounds as steps
from evoforge.self_evolve.devices import select_devices

Update = dict[str, Any]
FRAGMENTS_FILE = "source/fragments.json"
EVAL_FILE = "source/eval.json"


async def _resources(runtime: Runtime[RunContext]) -> Resources:
    """The run's resources, its GPUs made visible first (``self_evolve.cuda_device``, a resumed run's too)."""
    res = await node_resources(runtime, "self_evolve")
    select_devices(res.config.self_evolve)
    return res


def _summaries(state: SelfEvolveState, i: int, **fields: Unpack[RoundSummary]) -> dict[str, RoundSummary]:
    """The state's round summaries with round ``i``'s updated by ``fields``."""
    summaries = dict(state.get("rounds") or {})
    summaries[str(i)] = {**summaries.get(str(i), RoundSummary()), **fields}
    return summaries


def _sources(res: Resources) -> tuple[list[str], list[dict[str, Any]]]:
    """The fragments and the closed-book eval items: the configured files, or the skills world's facts."""
    from evoforge.data.sources import skills
    from evoforge.self_evolve.data_files import read_eval_items, read_fragments

    settings, seed = res.config.self_evolve, res.config.run.seed
    if settings.source_data_file:
        fragments = read_fragments(Path(settings.source_data_file).expanduser())
    else:
        fragments = [r["instruction"] for r in skills().fragment_records(settings.n_fragments, seed)]
    if settings.eval_data:
        items = read_eval_items(Path(settings.eval_data).expanduser())
    else:
        items = skills().fragment_records(settings.n_fragments, seed, every_question=True)
    return fragments, items


def _prepare(res: Resources, start: int) -> Update:
    from evoforge.self_evolve.data_files import language_of
    from evoforge.training.student import resolve_student

    settings = res.config.self_evolve
    fragments, items = _sources(res)
    base = resolve_student(settings.model_path)
    steps.check_history(res.run.path, start)
    atomic_write_json(res.path(FRAGMENTS_FILE), [{"instruction": f} for f in fragments])
    atomic_write_json(res.path(EVAL_FILE), items)
    language = language_of(fragments) if settings.language == "auto" else settings.language
    return {"base": str(base), "language": language, "n_fragments": len(fragments), "n_eval": len(items)}


async def prepare(state: SelfEvolveState, runtime: Runtime[RunContext]) -> Update:
    """Read and check the fragments and the eval set (copied into the run's ``source/``), resolve the base model,
    and check that a continued run holds the rounds before ``start_id``."""
    res = await _resources(runtime)
    start = state.get("start_id", res.config.self_evolve.start_id)
    end = state.get("end_id", res.config.self_evolve.end_id)
    if end <= start:
        raise DataError(f"end_id ({end}) must be above start_id ({start})")
    update = await asyncio.to_thread(_prepare, res, start)
    info(
        f"self-evolve: rounds {start}..{end - 1}, {update['n_fragments']} fragments, {update['n_eval']} closed-book "
        f"questions, model {update['base']} ({update['language']})"
    )
    return {**update, "start_id": start, "end_id": end, "round": start}


def _writer(res: Resources, state: SelfEvolveState) -> Any:
    from evoforge.self_evolve.qa import LLMWriter, ModelWriter

    settings = res.config.self_evolve
    if settings.generator == "llm":
        return LLMWriter(res.gateway, settings.worker_number, settings.max_new_tokens)
    adapter = steps.previous_adapter(res.run.path, state["round"])
    return ModelWriter(steps.make_generator(res.config, Path(state["base"]), adapter))


async def generate(state: SelfEvolveState, runtime: Runtime[RunContext]) -> Update:
    """The current model (or the gateway) writes one question per fragment and answers it from the fragment."""
    from evoforge.data.io import read_records
    from evoforge.self_evolve.qa import write_qa

    res = await _resources(runtime)
    settings, i = res.config.self_evolve, state["round"]
    fragments = [r["instruction"] for r in await asyncio.to_thread(read_records, res.path(FRAGMENTS_FILE))]
    writer = await asyncio.to_thread(_writer, res, state)
    sampling = Sampling(settings.temperature, settings.top_p, res.config.run.seed * 1_000 + i)
    with progress(f"Q&A of round {i}", 2 * len(fragments)) as bar:
        result = await write_qa(writer, fragments, state["language"], sampling, settings.batch_size, bar)
    dropped = {k: v for k, v in result.dropped.items() if v}
    if not result.records:
        raise DataError(
            f"round {i}: no usable Q&A from {len(fragments)} fragments (dropped: {dropped}); the model cannot write "
            "questions and answers about them: use a stronger model_path, or self_evolve.generator: llm"
        )
    records = [{**r, "round": i} for r in result.records]
    await asyncio.to_thread(atomic_write_jsonl, steps.round_dir(res.run.path, i) / steps.QA_FILE, records)
    info(f"self-evolve round {i}: {len(records)} Q&A from {len(fragments)} fragments (dropped: {dropped or 'none'})")
    return {"rounds": _summaries(state, i, qa=len(records), dropped=dropped)}


async def score(state: SelfEvolveState, runtime: Runtime[RunContext]) -> Update:
    """IFD of the round's Q&A with the base model (Self-Evolution's variant), stored with each record."""
    from evoforge.data.io import read_jsonl

    res = await _resources(runtime)
    i = state["round"]
    path = steps.round_dir(res.run.path, i) / steps.QA_FILE
    records = await asyncio.to_thread(read_jsonl, path)
    scores = await asyncio.to_thread(steps.score_ifd, res.config, Path(state["base"]), records)
    records = [{**r, "ifd": s} for r, s in zip(records, scores, strict=True)]
    await asyncio.to_thread(atomic_write_jsonl, path, records)
    await asyncio.to_thread(write_qa_card, res, state, i, records)
    known = [s for s in scores if s is not None]
    return {"rounds": _summaries(state, i, ifd_median=round(statistics.median(known), 4) if known else None)}


async def review_qa(state: SelfEvolveState, runtime: Runtime[RunContext]) -> Update:
    """Human checkpoint: approve the round's Q&A before training on them (a sample is shown), or reject and stop."""
    from evoforge.data.io import read_jsonl

    res = await _resources(runtime)
    i = state["round"]
    records = await asyncio.to_thread(read_jsonl, steps.round_dir(res.run.path, i) / steps.QA_FILE)
    shown = records[: res.config.self_evolve.review_sample]
    answer = interrupt(
        {
            "checkpoint": "review_qa",
            "question": f"Round {i}: train on these {len(records)} Q&A (a sample is shown; edit "
            f"rounds/{i}/{steps.QA_FILE} before approving to change them), or reject and stop?",
            "actions": ["approve", "reject"],
            "counts": {"qa": len(records), "round": i},
            "sample": [{"instruction": r["input"], "output": r["output"], "category": "qa"} for r in shown],
        }
    )
    return {"qa_decision": parse_decision(answer, allow_edit=False)}


def _train(res: Resources, state: SelfEvolveState) -> tuple[int, int, Any]:
    from evoforge.data.io import read_jsonl

    i, run = state["round"], res.run.path
    fresh = read_jsonl(steps.round_dir(run, i) / steps.QA_FILE)
    replay = steps.replayed(res.config, run, i)
    records = [*fresh, *replay]
    atomic_write_jsonl(steps.round_dir(run, i) / steps.TRAIN_FILE, records)
    trained = steps.train_round(res.config, Path(state["base"]), run, i, records)
    if res.config.self_evolve.export_merged:
        from evoforge.merging.saving import merge_adapter

        merge_adapter(Path(state["base"]), steps.round_dir(run, i) / steps.ADAPTER, steps.round_dir(run, i) / MERGED)
    return len(replay), len(records), trained


async def train(state: SelfEvolveState, runtime: Runtime[RunContext]) -> Update:
    """Train the round's adapter on its Q&A and the replayed history (closed book), continuing the last one; with
    ``export_merged``, save base + adapter merged as a full model in ``rounds/<i>/merged`` (the seed's export)."""
    res = await _resources(runtime)
    i = state["round"]
    replay, total, trained = await asyncio.to_thread(_train, res, state)
    loss = trained.metrics.get("final_loss")
    settings = res.config.self_evolve
    merged = f"; merged model in rounds/{i}/{MERGED}" if settings.export_merged else ""
    info(f"self-evolve round {i}: trained on {total} Q&A ({replay} replayed, mode {settings.mode}){merged}")
    return {"rounds": _summaries(state, i, replayed=replay, trained_on=total, final_loss=loss)}


async def evaluate(state: SelfEvolveState, runtime: Runtime[RunContext]) -> Update:
    """Closed-book evaluation of the round's model (greedy), written as ``generation_<i>`` predict files."""
    from evoforge.data.io import read_records

    res = await _resources(runtime)
    i, run = state["round"], res.run.path
    items = await asyncio.to_thread(read_records, res.path(EVAL_FILE))
    folder = steps.generations_dir(res.config, run) / f"generation_{i}"
    adapter = steps.round_dir(run, i) / steps.ADAPTER
    results = await asyncio.to_thread(steps.evaluate_round, res.config, Path(state["base"]), adapter, items, folder)
    await asyncio.to_thread(write_model_cards, res, state, i, results)
    info(
        f"self-evolve round {i}: closed-book exact match {results['predict_exact_match']:.3f}, "
        f"BLEU-4 {results['predict_bleu-4']:.2f}, ROUGE-L {results['predict_rouge-l']:.2f}"
    )
    return {"rounds": _summaries(state, i, results=results), "round": i + 1}


async def finish(state: SelfEvolveState, runtime: Runtime[RunContext]) -> Update:
    """The grouped bar chart of every generation (BLEU-4, ROUGE-1/2/L) and the report section."""
    res = await _resources(runtime)
    outputs = await asyncio.to_thread(write_outputs, res, state)
    info(f"self-evolve: wrote {', '.join(outputs.values())}")
    return {"outputs": outputs}
