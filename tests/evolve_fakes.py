"""Fake agents for the graph tests: deterministic, instant, and a method's quality is legible.

They are functions of the real agents' signatures returning the real pydantic types, handed to the graph through
the run context (``drive(..., agents=fakes.agents)``), never patched into modules. A method's text carries
``quality=N`` (the paper's e0 has none: quality 0); the fake optimiser raises it by ``sample`` (so candidate 2 is
never worse than candidate 0), and the fake generator asks for details (a "loss of key information" failure for
the real validator) on a share of instructions that shrinks with quality.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from typing import Any

from evoforge.agents.analyzer import AnalyzeInput, AnalyzeOutput
from evoforge.agents.bundle import Agents
from evoforge.agents.evolver import EvolveInput, EvolveOutput
from evoforge.agents.generator import AnswerInput, AnswerOutput
from evoforge.agents.optimizer import OptimizeInput, OptimizeOutput


def quality(text: str) -> int:
    """The quality a method's text declares (``quality=N``; 0 when it declares none)."""
    match = re.search(r"quality=(\d+)", text)
    return int(match.group(1)) if match else 0


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


@dataclass
class FakeAgents:
    """The fake agents and the number of calls each role made."""

    by_role: dict[str, int] = field(default_factory=dict)

    def _count(self, role: str) -> None:
        self.by_role[role] = self.by_role.get(role, 0) + 1

    async def evolve(self, gw: Any, inp: EvolveInput, sample: int = 0, role: str = "evolver") -> EvolveOutput:
        self._count(role)
        return EvolveOutput(instruction=f"{inp.instruction} [q{quality(inp.method)}]")

    async def analyze(self, gw: Any, inp: AnalyzeInput, sample: int = 0, role: str = "analyzer") -> AnalyzeOutput:
        self._count(role)
        return AnalyzeOutput(result="failure", feedback=f"feedback {sample} on {len(inp.trajectories)} cases")

    async def optimize(self, gw: Any, inp: OptimizeInput, sample: int = 0, role: str = "optimizer") -> OptimizeOutput:
        self._count(role)
        return OptimizeOutput(method=f"method quality={quality(inp.method) + sample}")

    async def answer(self, gw: Any, inp: AnswerInput, sample: int = 0, role: str = "generator") -> AnswerOutput:
        self._count(role)
        marks = re.findall(r"\[q(\d+)\]", inp.instruction)
        q = int(marks[-1]) if marks else 0
        root = inp.instruction.split(" [q", 1)[0]
        if _hash(root) % 10 < 8 - q:  # per instruction, a better method never fails more
            return AnswerOutput(response="Sure, could you please provide more details?")
        return AnswerOutput(response=f"answer to {inp.instruction}")

    @property
    def agents(self) -> Agents:
        """The bundle to put in the run context."""
        return Agents(evolve_fn=self.evolve, analyze_fn=self.analyze, optimize_fn=self.optimize, answer_fn=self.answer)

    def with_(self, **functions: Any) -> Agents:
        """The bundle with some agents replaced (``optimize_fn=...``)."""
        return replace(self.agents, **functions)
