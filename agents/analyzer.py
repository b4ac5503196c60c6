"""Analyzer: reads evolution trajectories and names the cases that failed to evolve, with feedback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from evoforge.prompts import load_prompt

if TYPE_CHECKING:
    from evoforge.llm.protocol import Gateway


class Trajectory(BaseModel):
    """One instruction's evolution: ``stages[0]`` is the original, each next stage one more evolution."""

    case_id: str
    stages: list[str]


class AnalyzeInput(BaseModel):
    """The trajectories of a mini-batch."""

    trajectories: list[Trajectory]
    language: str = "en"


class AnalyzeOutput(BaseModel):
    """Whether any case failed, the reason per failed case id, and feedback for the optimizer."""

    result: Literal["success", "failure"]
    reasons: dict[str, str] = Field(default_factory=dict)
    feedback: str = ""


def render_trajectories(trajectories: list[Trajectory]) -> str:
    """``Case <id>:`` blocks of ``Stage <k>: <text>`` lines (line breaks inside a stage become spaces)."""
    blocks = []
    for t in trajectories:
        stages = "\n".join(f"Stage {k}: {' '.join(s.split())}" for k, s in enumerate(t.stages))
        blocks.append(f"Case {t.case_id}:\n{stages}")
    return "\n\n".join(blocks)


async def analyze(gw: Gateway, inp: AnalyzeInput, sample: int = 0, role: str = "analyzer") -> AnalyzeOutput:
    """Analyse the trajectories of one optimisation step."""
    messages = load_prompt("analyzer", inp.language).messages(trajectories=render_trajectories(inp.trajectories))
    return await gw.structured(role, messages, AnalyzeOutput, sample=sample)
