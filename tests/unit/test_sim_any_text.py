"""The simulated LLM on instructions outside the skills world: it evolves, answers, analyses and judges any text."""

from __future__ import annotations

import asyncio
import re

from evoforge.agents import analyzer, evolver, generator, judge, validator
from evoforge.agents.evolving_method import INITIAL_METHOD, INITIAL_METHODS
from evoforge.llm.gateway import LLMGateway
from evoforge.offline.sim.analyst import classify
from evoforge.offline.sim.method_text import CLAUSES, insert_clauses
from evoforge.settings import LLMSettings, ModelEntry

TOPICS = ("a rainy weekend", "learning to cook", "saving money", "a job interview", "moving to a new city", "chess")
PLAIN = [f"{verb} {topic}." for verb in ("Give advice about", "Write a short story about") for topic in TOPICS]
WITH_INPUT = "Generate a haiku using the following word:\n\nsummer"


def _gateway() -> LLMGateway:
    return LLMGateway(LLMSettings(cache=False, models={"sim": ModelEntry(model="sim/skills")}))


async def _evolve(gw: LLMGateway, text: str, method: str = INITIAL_METHOD, language: str = "en") -> str:
    request = evolver.EvolveInput(instruction=text, method=method, language=language)
    return (await evolver.evolve(gw, request)).instruction


async def _answer(gw: LLMGateway, text: str) -> str:
    return (await generator.answer(gw, generator.AnswerInput(instruction=text))).response


def test_evolution_adds_one_constraint_deterministically_and_keeps_the_input() -> None:
    async def run() -> None:
        gw = _gateway()
        evolved = [await _evolve(gw, text) for text in PLAIN]
        assert evolved == [await _evolve(gw, text) for text in PLAIN]
        added = [e[len(t) :] for t, e in zip(PLAIN, evolved, strict=True) if e.startswith(t)]
        one = [a for a in added if re.fullmatch(r" [A-Z][^.]+\.", a)]  # one constraint sentence appended
        assert len(one) >= len(PLAIN) // 3 and len(set(one)) > 3, evolved  # others failed at the naive rates
        haiku = await _evolve(gw, WITH_INPUT, insert_clauses(INITIAL_METHOD, [CLAUSES["loss"]["en"][0]]))
        assert haiku.endswith("\n\nsummer") and haiku != WITH_INPUT
        korean = await _evolve(gw, "주말에 할 수 있는 취미를 추천하세요.", INITIAL_METHODS["ko"], "ko")
        assert korean.startswith("주말에 할 수 있는 취미를 추천하세요. ") and re.search(
            r"[가-힣]", korean.split(". ", 1)[1]
        )

    asyncio.run(run())


def test_answers_to_any_text_pass_the_failure_and_elimination_rules() -> None:
    async def run() -> None:
        gw = _gateway()
        for text in [*PLAIN, WITH_INPUT, "Explain recursion to a beginner. Keep the answer under 30 words."]:
            answer = await _answer(gw, text)
            assert answer and validator.failure_reason(answer, extra_rules=True) is None, (text, answer)
            assert validator.eliminate("Say hi.", text, answer) is None, (text, answer)
        assert "Chess" in await _answer(gw, PLAIN[5])  # it addresses the instruction's topic
        assert len((await _answer(gw, "Explain recursion to a beginner. Keep the answer under 30 words.")).split()) < 30
        assert len((await _answer(gw, "Suggest a title for a blog post about gardening.")).split()) <= 4
        missing = await _answer(gw, "Summarise the given article.")
        assert validator.failure_reason(missing) == validator.LOSS

    asyncio.run(run())


def test_a_better_method_fails_less_on_any_text() -> None:
    improved = insert_clauses(INITIAL_METHOD, [CLAUSES[kind]["en"][0] for kind in CLAUSES])
    batch = [f"{verb} {topic}." for verb in ("Explain", "Describe", "Plan", "Compare options for") for topic in TOPICS]
    batch += [f"Write a poem about {topic}." for topic in TOPICS] + [f"List tips for {topic}." for topic in TOPICS]

    async def rate(gw: LLMGateway, method: str) -> float:
        async def one(text: str) -> bool:
            reply = await _answer(gw, await _evolve(gw, text, method))
            return validator.failure_reason(reply) is not None

        return sum(await asyncio.gather(*(one(t) for t in batch))) / len(batch)

    async def run() -> tuple[float, float]:
        gw = _gateway()
        return await rate(gw, INITIAL_METHOD), await rate(gw, improved)

    naive, better = asyncio.run(run())
    assert 0.1 <= naive <= 0.6 and better < naive, (naive, better)


def test_the_analyzer_tells_a_real_constraint_from_a_failed_rewrite() -> None:
    assert classify(PLAIN[0], f"{PLAIN[0]} Include one concrete example.") is None
    assert classify(PLAIN[1], f"{PLAIN[1]} Be nice.") == "unchanged"  # no constraint kind was added
    assert classify(WITH_INPUT, "Generate a haiku using the given word.") == "loss"
    assert classify(PLAIN[2], f"{PLAIN[2]} Follow the usual conventions.") == "vague"
    assert (
        classify(PLAIN[3], "The instruction is already clear and complex enough, so no rewrite is needed.")
        == "stagnant"
    )

    async def run() -> analyzer.AnalyzeOutput:
        cases = [
            analyzer.Trajectory(case_id="ok", stages=[PLAIN[0], f"{PLAIN[0]} Include one concrete example."]),
            analyzer.Trajectory(case_id="lost", stages=[WITH_INPUT, "Generate a haiku using the given word."]),
        ]
        return await analyzer.analyze(_gateway(), analyzer.AnalyzeInput(trajectories=cases))

    analysis = asyncio.run(run())
    assert "ok" not in analysis.reasons


def test_the_judge_grades_any_text_by_coverage_or_overlap() -> None:
    question = "Explain how to prepare for a job interview."
    reference = "Research the company, rehearse answers to common questions, and prepare questions for the interviewer."
    on_topic = "Research the company first, rehearse answers to common questions, prepare your own questions."
    off_topic = "Bananas are yellow and grow in warm places near the sea."

    async def run() -> None:
        gw = _gateway()
        grade = judge.GradeInput
        open_good = await judge.grade(gw, grade(instruction=question, answer=await _answer(gw, question)))
        open_bad = await judge.grade(gw, grade(instruction=question, answer=off_topic))
        assert open_good.score > open_bad.score and open_good.reason
        ref_good = await judge.grade(gw, grade(instruction=question, reference=reference, answer=on_topic))
        ref_bad = await judge.grade(gw, grade(instruction=question, reference=reference, answer=off_topic))
        assert ref_good.score >= 7 > 3 >= ref_bad.score
        asks = await judge.grade(gw, grade(instruction=question, answer="Sure, which company do you mean?"))
        assert asks.score == 1
        pick = await judge.compare(
            gw, judge.CompareInput(instruction=question, reference=reference, answer_a=off_topic, answer_b=on_topic)
        )
        assert pick.winner == "B"
        same = await judge.compare(gw, judge.CompareInput(instruction=question, answer_a=off_topic, answer_b=off_topic))
        assert same.winner == "tie"

    asyncio.run(run())
