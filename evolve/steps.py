"""Auto Evol-Instruct's steps: bounded-concurrency fan-outs over the agents (no LangGraph here).

Each function takes a :class:`Workbench` (config, gateway, agents, concurrency limit, run directory) and records,
calls the agents, and returns rows; the caller (the evolve graph's nodes) decides where rows are written. Every
call is deterministic for its inputs (same prompt, same ``sample``), so a re-run after a crash is answered by the
gateway's response cache. A call lost to transport faults is not counted as the method's failure: the optimisation
steps (trajectories, validation) raise once every call has returned, so that the node runs again and only the lost
calls are sent; the final dataset (:mod:`.dataset`) keeps such rows apart.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from evoforge.agents import analyzer, evolver, generator, optimizer, validator
from evoforge.agents.bundle import Agents
from evoforge.console import detail, progress
from evoforge.errors import LLMError, LLMTransportError
from evoforge.llm.batch import Deferred
from evoforge.llm.protocol import Gateway
from evoforge.runs import RunDir
from evoforge.settings import Config

T = TypeVar("T")
R = TypeVar("R")
Row = dict[str, Any]


class Workbench(Protocol):
    """What the steps work with (the graphs' run resources provide it)."""

    config: Config
    run: RunDir
    gateway: Gateway
    agents: Agents
    limiter: asyncio.Semaphore


async def _guarded(res: Workbench, call: Awaitable[T], what: str) -> T | None:
    """Await ``call`` under the run's concurrency limit; a call that failed for good gives None (logged).

    Raises:
        LLMTransportError: the call was lost to transport faults (logged as ``item_lost``): not the method's
            failure, so the caller keeps it apart (:func:`kept_apart`).
    """
    async with res.limiter:
        try:
            return await call
        except Deferred:  # set aside for a provider batch (evoforge.llm.batch): not lost
            raise
        except LLMTransportError as exc:
            await asyncio.to_thread(res.run.event, "item_lost", what=what, error=str(exc)[:300])
            detail(f"{what}: lost: {exc}")
            raise
        except LLMError as exc:
            await asyncio.to_thread(res.run.event, "item_failed", what=what, error=str(exc)[:300])
            detail(f"{what}: {exc}")
            return None


async def kept_apart(call: Awaitable[T]) -> tuple[T | None, str | None]:
    """``call``'s result and None, or None and the reason when it was lost to transport faults."""
    try:
        return await call, None
    except LLMTransportError as exc:
        return None, " ".join(str(exc).split())[:300]


def require_all(rows: Sequence[Row], what: str) -> None:
    """Raise when a row of a step that decides something (trajectories, validation) lost a call.

    Raises:
        LLMTransportError: naming how many; the graph runs the node again (the response cache answers the calls
            that returned) and, when the faults go on, the run stops for ``evoforge resume``.
    """
    lost = [row for row in rows if row.get("lost")]
    if lost:
        raise LLMTransportError(
            f"{what}: {len(lost)} of {len(rows)} rows lost calls to transport errors after every retry "
            f"(first: {lost[0]['lost']}); a decision on the rest would differ from a fault-free run's"
        )


async def fan_out(res: Workbench, items: Sequence[T], work: Callable[[T], Awaitable[R]], description: str) -> list[R]:
    """Run ``work`` on every item concurrently (the limit applies per LLM call), keeping the input order."""
    with progress(description, total=len(items)) as bar:

        async def one(item: T) -> R:
            done = await work(item)
            bar.advance()
            return done

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
    res: Workbench, stages: Sequence[str], method: str, loop: int, what: str, breadth: bool = False
) -> tuple[list[str], str | None]:
    """The trajectory X, X¹, …, Xˡ of one instruction, continued from ``stages`` (X and the generations made
    before); it stops early where an evolution failed, and says why when its call was lost to transport faults.

    With ``breadth``, each generation is in-breadth with probability ``evolve.in_breadth`` (final dataset only).
    """
    stages = list(stages)
    for generation in range(len(stages), loop + 1):
        wide = breadth and in_breadth(res, what, generation)
        evolved, lost = await kept_apart(evolve_once(res, stages[-1], method, f"{what} g{generation}", wide))
        if evolved is None:
            return stages, lost
        stages.append(evolved)
    return stages, None


async def trajectories(res: Workbench, records: Sequence[Row], method: str, step: int) -> list[Row]:
    """Evolve each mini-batch record ``loop`` times with ``method``: rows ``{case_id, stages}``."""
    loop = res.config.evolve.loop

    async def one(record: Row) -> Row:
        stages, lost = await evolve_chain(res, [record["instruction"]], method, loop, f"trajectory {record['id']}")
        return {"case_id": str(record["id"]), "stages": stages, "lost": lost}

    rows = await fan_out(res, records, one, f"step {step}: evolve mini-batch")
    require_all(rows, f"step {step}: evolve mini-batch")
    return [{key: row[key] for key in ("case_id", "stages")} for row in rows]


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
        evolved, lost = await kept_apart(evolve_once(res, record["instruction"], methods[cid], what))
        response = None
        if evolved is not None:
            response, lost = await kept_apart(answer(res, evolved, what, role="validator"))
        reason = failure(response, extra) if evolved is not None else "the evolution failed"
        return {
            "candidate": cid,
            "id": record["id"],
            "instruction": record["instruction"],
            "evolved": evolved,
            "response": response,
            "failure": reason,
            **({"lost": lost} if lost else {}),
        }

    rows = await fan_out(res, pairs, one, f"validate {len(methods)} method(s) on dev")
    require_all(rows, "validate")
    return {cid: [r for r in rows if r["candidate"] == cid] for cid in methods}
