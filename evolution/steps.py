"""Auto Evol-Instruct's steps: bounded-concurrency fan-outs over the agents (no LangGraph here).

Each function takes a :class:`Workbench` (config, gateway, agents, concurrency limit, run directory) and records,
calls the agents, and returns rows; the caller (the evolve graph's nodes) decides where rows are written. Every
call is deterministic for its inputs (same prompt, same ``sample``), so a re-run after a crash is answered by the
gateway's response cache.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from evoforge.agents import analyzer, evolver, generator, optimizer, validator
from evoforge.agents.bundle import Agents
from evoforge.config import Config
from evoforge.console import detail, progress
from evoforge.data.dedup import (
    EMBEDDING_DISTANCE,
    ROUGE_THRESHOLD,
    ExactIndex,
    NearDuplicateIndex,
    add_each,
    make_index,
)
from evoforge.errors import LLMError
from evoforge.runs import RunDir

T = TypeVar("T")
Row = dict[str, Any]


class Workbench(Protocol):
    """What the steps work with (the graphs' run resources provide it)."""

    config: Config
    run: RunDir
    gateway: Any
    agents: Agents
    limiter: asyncio.Semaphore


async def _guarded(res: Workbench, call: Awaitable[T], what: str) -> T | None:
    """Await ``call`` under the run's concurrency limit; a call that failed for good gives None (logged)."""
    async with res.limiter:
        try:
            return await call
        except LLMError as exc:
            await asyncio.to_thread(res.run.event, "item_failed", what=what, error=str(exc)[:300])
            detail(f"{what}: {exc}")
            return None


async def fan_out(
    res: Workbench, items: Sequence[T], work: Callable[[T], Awaitable[Row]], description: str
) -> list[Row]:
    """Run ``work`` on every item concurrently (the limit applies per LLM call), keeping the input order."""
    with progress(description, total=len(items)) as bar:

        async def one(item: T) -> Row:
            row = await work(item)
            bar.advance()
            return row

        return list(await asyncio.gather(*(one(item) for item in items)))


async def evolve_once(res: Workbench, instruction: str, method: str, what: str, breadth: bool = False) -> str | None:
    """One evolution of ``instruction`` by ``method`` (greedy: sample 0); ``breadth``: a new same-domain one."""
    mode = "breadth" if breadth else "depth"
    request = evolver.EvolveInput(instruction=instruction, method=method, language=res.config.run.language, mode=mode)
    out = await _guarded(res, res.agents.evolve(res.gateway, request), what)
    text = out.instruction.strip() if out is not None else ""
    return text or None


async def answer(res: Workbench, instruction: str, what: str, role: str = "generator") -> str | None:
    """The response to ``instruction`` (role ``generator`` for the dataset, ``validator`` for validation)."""
    request = generator.AnswerInput(instruction=instruction, language=res.config.run.language)
    out = await _guarded(res, res.agents.answer(res.gateway, request, role=role), what)
    return out.response if out is not None else None


def in_breadth(res: Workbench, what: str, generation: int) -> bool:
    """Whether this evolution of the final dataset is in-breadth (a seeded draw at rate ``evolve.in_breadth``)."""
    share = res.config.evolve.in_breadth
    return share > 0 and random.Random(f"{res.config.run.seed}:{what}:{generation}").random() < share


async def evolve_chain(
    res: Workbench, instruction: str, method: str, loop: int, what: str, breadth: bool = False
) -> list[str]:
    """The trajectory X, X¹, …, Xˡ of one instruction; it stops early where an evolution failed.

    With ``breadth``, each generation is in-breadth with probability ``evolve.in_breadth`` (final dataset only).
    """
    stages = [instruction]
    for generation in range(1, loop + 1):
        wide = breadth and in_breadth(res, what, generation)
        evolved = await evolve_once(res, stages[-1], method, f"{what} g{generation}", wide)
        if evolved is None:
            break
        stages.append(evolved)
    return stages


async def trajectories(res: Workbench, records: Sequence[Row], method: str, step: int) -> list[Row]:
    """Evolve each mini-batch record ``loop`` times with ``method``: rows ``{case_id, stages}``."""
    loop = res.config.evolve.loop

    async def one(record: Row) -> Row:
        stages = await evolve_chain(res, record["instruction"], method, loop, f"trajectory {record['id']}")
        return {"case_id": str(record["id"]), "stages": stages}

    return await fan_out(res, records, one, f"step {step}: evolve mini-batch")


async def optimize_candidate(res: Workbench, rows: Sequence[Row], method: str, index: int) -> tuple[str, str] | None:
    """Analyse the trajectories and revise ``method`` from the feedback, with sample ``index``.

    Returns ``(feedback, new_method)``, or None when either call failed for good.
    """
    language = res.config.run.language
    cases = [analyzer.Trajectory(case_id=r["case_id"], stages=r["stages"]) for r in rows]
    analysis = await _guarded(
        res,
        res.agents.analyze(res.gateway, analyzer.AnalyzeInput(trajectories=cases, language=language), sample=index),
        f"analyse candidate {index}",
    )
    if analysis is None:
        return None
    revised = await _guarded(
        res,
        res.agents.optimize(
            res.gateway,
            optimizer.OptimizeInput(method=method, feedback=analysis.feedback, language=language),
            sample=index,
        ),
        f"optimise candidate {index}",
    )
    if revised is None or not revised.method.strip():
        return None
    return analysis.feedback, revised.method.strip()


def failure(response: str | None, extra_rules: bool) -> str | None:
    """Why a response counts as a failed evolution (λ's rules), or None when it passes."""
    if response is None:
        return "no response (the LLM call failed)"
    if "\ufffd" in response:
        return "broken characters (U+FFFD) in the response"
    return validator.failure_reason(response, extra_rules=extra_rules)


async def validate(res: Workbench, dev: Sequence[Row], methods: dict[str, str]) -> dict[str, list[Row]]:
    """Validate each method (by candidate id) on the dev set: evolve each instruction once, answer, judge.

    All (method, instruction) pairs share one fan-out and the run's concurrency limit.
    """
    extra = res.config.evolve.extra_rules
    pairs = [(cid, record) for cid in methods for record in dev]

    async def one(pair: tuple[str, Row]) -> Row:
        cid, record = pair
        what = f"validate {cid} on {record['id']}"
        evolved = await evolve_once(res, record["instruction"], methods[cid], what)
        response = await answer(res, evolved, what, role="validator") if evolved is not None else None
        reason = failure(response, extra) if evolved is not None else "the evolution failed"
        return {
            "candidate": cid,
            "id": record["id"],
            "instruction": record["instruction"],
            "evolved": evolved,
            "response": response,
            "failure": reason,
        }

    rows = await fan_out(res, pairs, one, f"validate {len(methods)} method(s) on dev")
    return {cid: [r for r in rows if r["candidate"] == cid] for cid in methods}


async def evolve_dataset(res: Workbench, seeds: Sequence[Row], method: str, method_id: str) -> list[Row]:
    """Evolve every seed ``loop`` generations with the selected method: one row per generation."""
    loop = res.config.evolve.loop

    async def one(seed: Row) -> Row:
        stages = await evolve_chain(res, seed["instruction"], method, loop, f"dataset {seed['id']}", breadth=True)
        return {"seed": seed, "stages": stages}

    chains = await fan_out(res, seeds, one, "evolve dataset")
    rows: list[Row] = []
    for chain in chains:
        seed, stages = chain["seed"], chain["stages"]
        for generation in range(1, len(stages)):
            rows.append(
                {
                    "id": f"{seed['id']}-g{generation}",
                    "instruction": stages[generation],
                    "parent": stages[generation - 1],
                    "root": seed["instruction"],
                    "root_id": seed["id"],
                    "generation": generation,
                    "method_id": method_id,
                    "category": seed.get("category"),
                }
            )
    return rows


async def answer_rows(res: Workbench, rows: Sequence[Row]) -> list[Row]:
    """Answer every evolved instruction: the rows with their ``response`` (None where the call failed)."""

    async def one(row: Row) -> Row:
        return {**row, "response": await answer(res, row["instruction"], f"answer {row['id']}")}

    return await fan_out(res, rows, one, "answer dataset")


def duplicate_index(config: Config) -> NearDuplicateIndex:
    """The index that finds duplicate instructions in the final data: ``evolve.dedup`` at ``evolve.dedup_threshold``
    (else the rule's default), embeddings by ``instruct.embedding_model`` (loads the model; call it off the loop)."""
    settings = config.evolve
    default = EMBEDDING_DISTANCE if settings.dedup == "embedding" else ROUGE_THRESHOLD
    limit = default if settings.dedup_threshold is None else settings.dedup_threshold
    return make_index(settings.dedup, limit, config.instruct.embedding_model, config.instruct.embedding_device)


def filter_rows(
    rows: Sequence[Row], extra_rules: bool, elimination: bool, index: NearDuplicateIndex | None = None
) -> tuple[list[Row], dict[str, int]]:
    """Drop failed responses, Evol-Instruct eliminations (optional), then duplicate instructions: those ``index``
    finds near an instruction kept before them (default: the same text, case and white space ignored)."""
    answered: list[Row] = []
    counts = {"answered": len(rows), "failed": 0, "eliminated": 0, "duplicates": 0}
    for row in rows:
        if failure(row["response"], extra_rules) is not None:
            counts["failed"] += 1
        elif elimination and validator.eliminate(row["parent"], row["instruction"], row["response"]) is not None:
            counts["eliminated"] += 1
        else:
            answered.append(row)
    novel = add_each(index or ExactIndex(), [row["instruction"] for row in answered])
    kept = [row for row, new in zip(answered, novel, strict=True) if new]
    counts["duplicates"] = len(answered) - len(kept)
    counts["kept"] = len(kept)
    return kept, counts


def empty_dataset_message(rows: Sequence[Row], counts: dict[str, int], extra_rules: bool) -> str:
    """Why :func:`filter_rows` kept none of ``rows`` (its ``counts``), with the most common failures and what to
    change (the message of an evolve run that ends with an empty dataset)."""
    if not rows:
        return (
            "evolve: the final dataset is empty: no seed evolved into a new instruction (every evolution failed); "
            "check the evolver model (llm.roles.evolver) and the item_failed events in events.jsonl"
        )
    reasons: dict[str, int] = {}
    for row in rows:
        reason = failure(row["response"], extra_rules)
        if reason is not None:
            reasons[reason] = reasons.get(reason, 0) + 1
    common = "; ".join(f"{n}× {why}" for why, n in sorted(reasons.items(), key=lambda item: -item[1])[:3])
    return (
        f"evolve: the final dataset is empty: all {counts['answered']} answers were dropped — "
        f"{counts['failed']} failed the validator" + (f" ({common})" if common else "") + ", "
        f"{counts['eliminated']} eliminated by Evol-Instruct's rules, {counts['duplicates']} duplicates. "
        "See dataset/answered.jsonl in the run directory; check that the generator model (llm.roles.generator) "
        "answers these instructions and that evolve.instruction_field names the instruction, or relax the filters "
        "(--set evolve.elimination=false, evolve.extra_rules=false)"
    )
