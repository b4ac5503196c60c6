"""Fake agents for the evolve graph's tests: deterministic, instant, and a method's quality is legible.

A method's text carries ``quality=N``; the fake optimiser raises it by ``sample`` (so candidate 2 is never worse
than candidate 0), and the fake generator fails (``... please provide ...``) on a share of instructions that
shrinks with quality.
"""

from __future__ import annotations

import hashlib
import re
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class EvolveInput:
    instruction: str
    method: str
    language: str = "en"
    mode: str = "depth"


@dataclass
class EvolveOutput:
    instruction: str


@dataclass
class Trajectory:
    case_id: str
    stages: list[str]


@dataclass
class AnalyzeInput:
    trajectories: list[Trajectory]
    language: str = "en"


@dataclass
class AnalyzeOutput:
    result: str
    reasons: dict[str, str] = field(default_factory=dict)
    feedback: str = ""


@dataclass
class OptimizeInput:
    method: str
    feedback: str
    language: str = "en"


@dataclass
class OptimizeOutput:
    method: str


@dataclass
class AnswerInput:
    instruction: str
    language: str = "en"


@dataclass
class AnswerOutput:
    response: str


class Calls:
    """Counts the fake LLM calls by role."""

    def __init__(self) -> None:
        self.by_role: dict[str, int] = {}

    def add(self, role: str) -> None:
        self.by_role[role] = self.by_role.get(role, 0) + 1


def quality(text: str) -> int:
    match = re.search(r"quality=(\d+)", text)
    return int(match.group(1)) if match else 0


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def install(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Install fake ``evoforge.agents.*`` modules; returns the call counter."""
    calls = Calls()

    async def evolve(gw: Any, inp: EvolveInput, sample: int = 0) -> EvolveOutput:
        calls.add("evolver")
        return EvolveOutput(instruction=f"{inp.instruction} [q{quality(inp.method)}]")

    async def analyze(gw: Any, inp: AnalyzeInput, sample: int = 0) -> AnalyzeOutput:
        calls.add("analyzer")
        return AnalyzeOutput(result="failure", feedback=f"feedback {sample} on {len(inp.trajectories)} cases")

    async def optimize(gw: Any, inp: OptimizeInput, sample: int = 0) -> OptimizeOutput:
        calls.add("optimizer")
        return OptimizeOutput(method=f"method quality={quality(inp.method) + sample}")

    async def answer(gw: Any, inp: AnswerInput, sample: int = 0, role: str = "generator") -> AnswerOutput:
        calls.add(role)
        marks = re.findall(r"\[q(\d+)\]", inp.instruction)
        q = int(marks[-1]) if marks else 0
        root = inp.instruction.split(" [q", 1)[0]
        if _hash(root) % 10 < 8 - q:  # per instruction, a better method never fails more
            return AnswerOutput(response="Sure, could you please provide more details?")
        return AnswerOutput(response=f"answer to {inp.instruction}")

    def failure_reason(response: str, extra_rules: bool = False) -> str | None:
        return "loss of key information" if "please provide" in response else None

    def eliminate(original: str, evolved: str, response: str) -> str | None:
        return "no change" if original == evolved else None

    modules = {
        "evolver": {"evolve": evolve, "EvolveInput": EvolveInput, "EvolveOutput": EvolveOutput},
        "analyzer": {"analyze": analyze, "AnalyzeInput": AnalyzeInput, "Trajectory": Trajectory},
        "optimizer": {"optimize": optimize, "OptimizeInput": OptimizeInput, "OptimizeOutput": OptimizeOutput},
        "generator": {"answer": answer, "AnswerInput": AnswerInput},
        "validator": {"failure_reason": failure_reason, "eliminate": eliminate},
        "methods": {
            "initial_method": lambda language="en": "initial method quality=0",
            "INITIAL_METHOD": "initial method quality=0",
        },
    }
    import evoforge.agents as package

    for name, attrs in modules.items():
        module = types.ModuleType(f"evoforge.agents.{name}")
        module.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, f"evoforge.agents.{name}", module)
        monkeypatch.setattr(package, name, module, raising=False)
    return calls
