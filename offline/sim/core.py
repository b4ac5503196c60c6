"""The simulated LLM's core: one chat request in, one reply text (and token counts) out. No LiteLLM here.

Randomness: every draw comes from a stream named by the request's content, the model's ``sim_seed`` and, when
the temperature is above 0, the request's ``seed`` (the gateway's sample index). So the same request gives the
same reply at temperature 0, and different samples give different replies under sampling.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from random import Random
from typing import Any

from evoforge.offline.sim.analyst import analyze_reply, optimize_reply
from evoforge.offline.sim.answerer import answer_reply, compare_reply, grade_reply
from evoforge.offline.sim.characters import TASKS as CHARACTER_TASKS
from evoforge.offline.sim.characters import character_reply
from evoforge.offline.sim.evolver import breadth_reply, evolve_reply
from evoforge.offline.sim.reader import Request, read_request
from evoforge.offline.sim.writers import tasks_reply, topics_reply, wrapped_answer


@dataclass(frozen=True)
class SimReply:
    """A reply text with its token counts."""

    text: str
    prompt_tokens: int
    completion_tokens: int


def count_tokens(text: str) -> int:
    """A rough token count (about four UTF-8 bytes per token)."""
    return max(1, len(text.encode("utf-8")) // 4)


@dataclass(frozen=True)
class SimOptions:
    """Settings of a simulated model (``ModelEntry.params`` / request kwargs).

    Attributes:
        sim_seed: base seed of every random draw.
        error_rate: share of answers that are a near miss instead of the oracle answer.
        latency: seconds to wait before answering (benchmarks).
    """

    sim_seed: int = 0
    error_rate: float = 0.0
    latency: float = 0.0

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> SimOptions:
        """Read the options from request parameters, ignoring the ones the simulator does not use."""
        return cls(
            sim_seed=int(params.get("sim_seed") or 0),
            error_rate=float(params.get("error_rate") or 0.0),
            latency=float(params.get("latency") or 0.0),
        )


def _reply(request: Request, rng: Any, error_rate: float, sampled: bool) -> str | dict[str, Any]:
    parts = request.parts
    if request.task == "evolve":
        key = parts["instruction"]
        return evolve_reply(parts["method"], key, rng("fail", key), rng("op", parts["method"], key))
    if request.task == "breadth":
        return breadth_reply(parts["instruction"], rng("fail", parts["instruction"]), rng("new", parts["instruction"]))
    if request.task == "analyze":
        return analyze_reply(parts["trajectories"], request.language, rng("analyze", parts["trajectories"]), sampled)
    if request.task == "optimize":
        method, feedback = parts["method"], parts["feedback"]
        return optimize_reply(method, feedback, request.language, rng("optimize", method, feedback), sampled)
    if request.task == "grade":
        return grade_reply(parts["question"], parts["reference"], parts["answer"])
    if request.task == "compare":
        return compare_reply(parts["question"], parts["reference"], parts["a"], parts["b"])
    if request.task == "instruct_topics":
        return topics_reply(int(parts["n"]), rng("topics"))
    if request.task == "instruct_tasks":
        return tasks_reply(parts["prompt"], rng("tasks", parts["prompt"]))
    if request.task in CHARACTER_TASKS:
        return character_reply(request.task, parts, rng(request.task, *parts.values()))
    if request.task == "instruct_answer":
        return wrapped_answer(parts["instruction"])
    return answer_reply(parts["instruction"], rng("answer", parts["instruction"]), error_rate)


def respond(
    messages: list[dict[str, Any]],
    *,
    options: SimOptions | None = None,
    response_format: dict[str, Any] | None = None,
    temperature: float | None = 0.0,
    seed: int | None = None,
) -> SimReply:
    """The simulated model's reply to a chat request."""
    options = options or SimOptions()
    sampled = temperature is not None and temperature > 0
    stream = f"{options.sim_seed}|{seed if sampled else 't0'}"

    def rng(*keys: str) -> Random:
        return Random("|".join((stream, *keys)))

    request = read_request(messages, response_format)
    reply = _reply(request, rng, options.error_rate, sampled)
    if isinstance(reply, dict):
        text = json.dumps(reply, ensure_ascii=False)
    elif request.json_key is not None:
        text = json.dumps({request.json_key: reply}, ensure_ascii=False)
    else:
        text = reply
    prompt = sum(count_tokens(str(m.get("content") or "")) for m in messages)
    return SimReply(text, prompt, count_tokens(text))
