"""A round's Q&A (Self-Evolution's generation step): one question per knowledge fragment, then its answer with the
fragment as context, both sampled (T 0.5, top_p 0.95 by default; seeded, so a run repeats).

The writer is the current model (:class:`ModelWriter`: base + the previous round's adapter, transformers or vLLM)
as in the paper, or the agents' gateway (:class:`LLMWriter`, role ``generator``; ``self_evolve.generator: llm``).
Questions are cleaned as the seed cleans them (cut after the first question mark, full-width too); a fragment
whose question comes out empty, or whose answer is empty or degenerate, yields no record and is counted.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from evoforge.evals.batched_generation import Sampling
from evoforge.prompts import load_prompt
from evoforge.self_evolve.data_files import clean_question, is_degenerate

if TYPE_CHECKING:
    from evoforge.console import ProgressHandle
    from evoforge.llm.protocol import Gateway


class Writer(Protocol):
    """Writes a completion for each prompt (a user message), sampled by ``sampling``."""

    async def write(self, prompts: Sequence[str], sampling: Sampling) -> list[str]:
        """The completions of ``prompts``, in order."""
        ...


@dataclass
class ModelWriter:
    """The current model as the writer: a loaded :class:`~evoforge.evals.batched_generation.Generator` (or vLLM's)."""

    generator: Any

    async def write(self, prompts: Sequence[str], sampling: Sampling) -> list[str]:
        """Sampled completions from the resident model (in a worker thread: generation blocks)."""
        return list(await asyncio.to_thread(self.generator.generate, list(prompts), None, sampling))


@dataclass
class LLMWriter:
    """The agents' gateway as the writer (role ``generator``), at most ``workers`` calls at once."""

    gateway: Gateway
    workers: int
    max_tokens: int
    role: str = "generator"

    async def write(self, prompts: Sequence[str], sampling: Sampling) -> list[str]:
        """One call per prompt with the round's sampling; the sample index keeps rounds apart in the cache."""
        limit = asyncio.Semaphore(self.workers)

        async def one(prompt: str) -> str:
            async with limit:
                return str(
                    await self.gateway.complete(
                        self.role,
                        [{"role": "user", "content": prompt}],
                        sample=sampling.seed,
                        temperature=sampling.temperature,
                        top_p=sampling.top_p,
                        max_tokens=self.max_tokens,
                    )
                )

        return list(await asyncio.gather(*(one(p) for p in prompts)))


def question_prompt(fragment: str, language: str) -> str:
    """The user message that asks for one question about ``fragment``."""
    return load_prompt("self_evolve_question", language).messages(fragment=fragment)[-1]["content"]


def answer_prompt(fragment: str, question: str, language: str) -> str:
    """The user message that asks for the answer to ``question`` from ``fragment`` (open book)."""
    return load_prompt("self_evolve_answer", language).messages(fragment=fragment, question=question)[-1]["content"]


@dataclass
class QAResult:
    """A round's records (``instruction`` fragment, ``input`` question, ``output`` answer) and what was dropped."""

    records: list[dict[str, Any]]
    dropped: Counter[str] = field(default_factory=Counter)


async def write_qa(
    writer: Writer,
    fragments: Sequence[str],
    language: str,
    sampling: Sampling,
    batch_size: int,
    progress: ProgressHandle | None = None,
) -> QAResult:
    """Questions for every fragment, then their answers, ``batch_size`` fragments per writer call; ``progress``
    advances by prompts written (two per fragment, a fragment without a question counts its answer as done)."""
    advance = progress.advance if progress is not None else (lambda n: None)
    questions: list[str | None] = []
    for start in range(0, len(fragments), batch_size):
        part = fragments[start : start + batch_size]
        raw = await writer.write([question_prompt(f, language) for f in part], _shifted(sampling, start))
        questions.extend(clean_question(text) for text in raw)
        advance(len(part))
    result = QAResult([])
    asked = [(f, q) for f, q in zip(fragments, questions, strict=True) if q]
    result.dropped["no_question"] = len(fragments) - len(asked)
    advance(len(fragments) - len(asked))
    for start in range(0, len(asked), batch_size):
        pairs = asked[start : start + batch_size]
        prompts = [answer_prompt(f, q, language) for f, q in pairs]
        answers = await writer.write(prompts, _shifted(sampling, len(fragments) + start))
        advance(len(pairs))
        for (fragment, question), answer in zip(pairs, answers, strict=True):
            if is_degenerate(answer):
                result.dropped["degenerate_answer"] += 1
                continue
            result.records.append({"instruction": fragment, "input": question, "output": answer.strip()})
    return result


def _shifted(sampling: Sampling, offset: int) -> Sampling:
    """The sampling of one writer call: its own seed, so that batches differ and a re-run repeats."""
    return Sampling(sampling.temperature, sampling.top_p, sampling.seed * 100_003 + offset)
