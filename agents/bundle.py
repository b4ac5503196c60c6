"""The agents a graph runs with, as one bundle: the real ones by default, fakes of the same types in tests.

A graph's run context carries an :class:`Agents`; the evolution steps call the agents only through it. Each call
checks that the agent returned the output type its signature promises, so an agent whose output type drifts (or a
fake that does not return the real pydantic type) fails at once, naming the agent and both types.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from evoforge.agents import analyzer, evolver, generator, optimizer

if TYPE_CHECKING:
    from evoforge.llm.protocol import Gateway

T = TypeVar("T")

EvolveFn = Callable[..., Awaitable[evolver.EvolveOutput]]
AnalyzeFn = Callable[..., Awaitable[analyzer.AnalyzeOutput]]
OptimizeFn = Callable[..., Awaitable[optimizer.OptimizeOutput]]
AnswerFn = Callable[..., Awaitable[generator.AnswerOutput]]


async def _checked(name: str, call: Awaitable[Any], expected: type[T]) -> T:
    out = await call
    if not isinstance(out, expected):
        raise TypeError(f"agent '{name}' returned {type(out).__name__}, expected {expected.__name__}")
    return out


@dataclass(frozen=True)
class Agents:
    """The LLM agents of Auto Evol-Instruct, each an async function ``(gateway, input, sample=, role=) -> output``.

    Attributes:
        evolve: the Evolver (:func:`evoforge.agents.evolver.evolve`).
        analyze: the Analyzer (:func:`evoforge.agents.analyzer.analyze`).
        optimize: the Optimizer (:func:`evoforge.agents.optimizer.optimize`).
        answer: the Generator, also the Validator's answerer (:func:`evoforge.agents.generator.answer`).
    """

    evolve_fn: EvolveFn = evolver.evolve
    analyze_fn: AnalyzeFn = analyzer.analyze
    optimize_fn: OptimizeFn = optimizer.optimize
    answer_fn: AnswerFn = generator.answer

    async def evolve(self, gw: Gateway, inp: evolver.EvolveInput, sample: int = 0) -> evolver.EvolveOutput:
        """Evolve ``inp.instruction`` once."""
        return await _checked("evolve", self.evolve_fn(gw, inp, sample=sample), evolver.EvolveOutput)

    async def analyze(self, gw: Gateway, inp: analyzer.AnalyzeInput, sample: int = 0) -> analyzer.AnalyzeOutput:
        """Analyse the trajectories of a mini-batch."""
        return await _checked("analyze", self.analyze_fn(gw, inp, sample=sample), analyzer.AnalyzeOutput)

    async def optimize(self, gw: Gateway, inp: optimizer.OptimizeInput, sample: int = 0) -> optimizer.OptimizeOutput:
        """Revise the evolving method from the analyser's feedback."""
        return await _checked("optimize", self.optimize_fn(gw, inp, sample=sample), optimizer.OptimizeOutput)

    async def answer(self, gw: Gateway, inp: generator.AnswerInput, role: str = "generator") -> generator.AnswerOutput:
        """Answer an instruction (role ``generator`` for the dataset, ``validator`` for validation)."""
        return await _checked("answer", self.answer_fn(gw, inp, role=role), generator.AnswerOutput)
