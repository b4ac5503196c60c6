"""The data ablations of ``bench/claims.py``, on a finished cycle run's round 1 and its raw student.

Every arm trains one SFT delta on a list of records with the cycle's own trainer and settings
(:func:`evoforge.training.deltas.train_planned`, as train@all, with the run's seed) and scores it on the run's fixed
test set with the run's metric (:func:`evoforge.evals.harness.evaluate`); only the records differ between arms:

- ``evolved``: round 1's SFT training records (the evolved instructions the cycle's train@all trained on, minus the
  preference pairs), ``unevolved``: the seed instruction each of them was evolved from, answered by the same
  ``generator`` role through the run's LLM settings. Same N, same answers' source.
- ``hard@F`` / ``random@F``: the top F of the evolved records by IFD on the raw student (``evals/ifd.select``'s
  ``hard``, as Self-Evolution selects) / F of them drawn at random with the run's seed.

An arm's report is kept in ``<run>/claims/<arm>/test.json`` and read again on the next call.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evoforge.data.formats import is_preference
from evoforge.data.io import read_records
from evoforge.runs import atomic_write_jsonl
from evoforge.settings import Config, load_config

Row = dict[str, Any]


def round_records(run: Path, n: int = 1) -> list[Row]:
    """Round ``n``'s SFT training records (its chunks, less the preference pairs), in chunk then file order."""
    from evoforge.training.deltas import every_record, read_chunks

    rows = every_record(read_chunks(run / f"rounds/{n}/chunks"))
    return [r for r in rows if not is_preference(r)]


def unevolved(config: Config, rows: Sequence[Row]) -> list[Row]:
    """Each row's seed instruction (``root``) in its place, answered afresh by the ``generator`` role."""
    from evoforge.agents.generator import AnswerInput, answer
    from evoforge.llm.gateway import LLMGateway

    async def answer_all(gw: LLMGateway) -> list[str]:
        limit = asyncio.Semaphore(config.evolve.concurrency)

        async def one(text: str) -> str:
            async with limit:
                return (await answer(gw, AnswerInput(instruction=text, language=config.run.language))).response

        return list(await asyncio.gather(*(one(str(r["root"])) for r in rows)))

    with LLMGateway(config.llm) as gw:
        answers = asyncio.run(answer_all(gw))
    return [
        {"prompt": r["root"], "completion": a, "category": r.get("category"), "root": r["root"]}
        for r, a in zip(rows, answers, strict=True)
    ]


def by_ifd(config: Config, student: Path, rows: Sequence[Row], fraction: float) -> dict[str, list[Row]]:
    """``hard`` (top ``fraction`` by IFD on ``student``) and ``random`` (as many, drawn with the run's seed)."""
    from evoforge.evals.ifd import score_records, select
    from evoforge.training.student import load_student

    model, tokenizer = load_student(student, device=config.student.device)
    s = config.eval
    scores = score_records(
        model, tokenizer, rows, s.ifd_variant, s.ifd_max_length, s.ifd_batch_size, None, s.ifd_max_tokens
    )
    scored = [{**r, "ifd": x.ifd} for r, x in zip(rows, scores, strict=True)]
    seed = config.run.seed
    return {mode: select(scored, mode, fraction=fraction, seed=seed) for mode in ("hard", "random")}


def train_and_score(config: Config, run: Path, student: Path, rows: Sequence[Row], arm: str) -> dict[str, Any]:
    """Train one SFT delta on ``rows`` and score it on the run's test set; returns ``{n, scores, seconds}`` and the
    trained records' ``categories`` (category → count)."""
    from evoforge.evals.batched_generation import Generator
    from evoforge.evals.harness import evaluate, load_eval_records
    from evoforge.training.deltas import ALL_CHUNK, DeltaJob, train_planned
    from evoforge.training.student import use_threads

    out = run / "claims" / arm
    report = out / "test.json"
    if not report.is_file():
        started = time.perf_counter()
        use_threads(config.student)
        atomic_write_jsonl(out / "chunks" / "records.jsonl", [{k: v for k, v in r.items() if k != "ifd"} for r in rows])
        job = DeltaJob(ALL_CHUNK, "sft")
        seed, device = config.run.seed, config.student.device
        delta = train_planned(job, student, out / "chunks", out / "adapters", config.train, seed=seed, device=device)
        s = config.eval
        gen = Generator(student, {arm: delta.adapter_path}, device, s.batch_size, s.max_new_tokens, s.max_batch_tokens)
        result = evaluate(gen, load_eval_records(run / "test.jsonl"), s.metric)
        scores = [float(e["score"]) for e in result.per_example]
        seconds = time.perf_counter() - started
        report.write_text(json.dumps({"n": len(rows), "scores": scores, "seconds": seconds}), encoding="utf-8")
    data: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    data["categories"] = Counter(str(r.get("category")) for r in read_records(out / "chunks" / "records.jsonl"))
    return data


def data_arms(run: Path, fractions: Sequence[float]) -> tuple[dict[str, dict[str, Any]], float]:
    """Every arm of the run (its round 1 and raw student): ``evolved``, ``unevolved``, ``hard@F``, ``random@F``; and
    the arms' wall time (kept in ``claims/seconds.json`` by the call that ran them)."""
    from evoforge.cycle.round_record import student_dir

    started = time.perf_counter()
    config = load_config(run / "config.yaml")
    student = student_dir(run, config.student.model)
    rows = round_records(run)
    seeds_file = run / "claims" / "unevolved.jsonl"
    if not seeds_file.is_file():
        atomic_write_jsonl(seeds_file, unevolved(config, rows))
    arms = {"evolved": rows, "unevolved": read_records(seeds_file)}
    names = [f"{mode}@{f:.0%}" for f in fractions for mode in ("hard", "random")]
    if not all((run / "claims" / name / "test.json").is_file() for name in names):
        for fraction in fractions:
            picked = by_ifd(config, student, rows, fraction)
            arms |= {f"{mode}@{fraction:.0%}": chosen for mode, chosen in picked.items()}
    every = dict.fromkeys([*arms, *names])
    scores = {arm: train_and_score(config, run, student, arms.get(arm, []), arm) for arm in every}
    timing = run / "claims" / "seconds.json"
    if not timing.is_file():
        timing.write_text(json.dumps(time.perf_counter() - started), encoding="utf-8")
    return scores, float(json.loads(timing.read_text(encoding="utf-8")))
