"""Self-Evolution's round steps through their public functions: the replay chosen from a multi-round history by
IFD for every mode, and a round's Q&A written by a writer (cleaning, dropping, counting, seeded sampling)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest

from evoforge.errors import RunDirError
from evoforge.evals.batched_generation import Sampling
from evoforge.runs import atomic_write_jsonl
from evoforge.self_evolve import rounds
from evoforge.self_evolve.qa import answer_prompt, question_prompt, write_qa
from evoforge.settings import load_config


def _history(run: Path) -> None:
    """Three rounds of four Q&A each; IFD 0.1 .. 1.2 spread over the rounds."""
    for i in range(3):
        records = [
            {"instruction": f"f{i}{j}", "input": f"q{i}{j}?", "output": f"a{i}{j}", "round": i, "ifd": (3 * j + i) / 10}
            for j in range(4)
        ]
        atomic_write_jsonl(rounds.round_dir(run, i) / rounds.QA_FILE, records)


def _replay(run: Path, mode: str, k: int, i: int = 3, **extra: object) -> list[str]:
    sets = [f"self_evolve.mode={mode}", f"self_evolve.ifd_k={k}", *(f"self_evolve.{a}={b}" for a, b in extra.items())]
    config = load_config(None, sets)
    return [r["input"] for r in rounds.replayed(config, run, i)]


def test_replay_ranks_every_earlier_round_by_ifd_for_each_mode(tmp_path: Path) -> None:
    _history(tmp_path)
    ranked = sorted(rounds.history(tmp_path, 3), key=lambda r: r["ifd"], reverse=True)
    order = [r["input"] for r in ranked]
    assert len(order) == 12 and {r["round"] for r in ranked} == {0, 1, 2}
    assert _replay(tmp_path, "hard", 3) == order[:3] == ["q23?", "q13?", "q03?"]
    assert _replay(tmp_path, "easy", 3) == order[-3:]
    assert _replay(tmp_path, "even", 4) == order[::3]
    assert _replay(tmp_path, "all", 2) == order
    assert sorted(_replay(tmp_path, "random", 5)) == sorted(_replay(tmp_path, "random", 5))
    assert len(set(_replay(tmp_path, "random", 5))) == 5
    assert _replay(tmp_path, "hard", 0) == []
    # round 2 replays only rounds 0 and 1
    assert {q[1] for q in _replay(tmp_path, "all", 1, i=2)} == {"0", "1"}
    # Cherry's filter leaves out IFD > 1 (q23 has 1.1, q13 has 1.0 and stays)
    assert _replay(tmp_path, "hard", 2, drop_above_one="true") == ["q13?", "q03?"]


def test_a_round_without_its_predecessor_is_refused(tmp_path: Path) -> None:
    _history(tmp_path)
    assert rounds.previous_adapter(tmp_path, 0) is None
    with pytest.raises(RunDirError, match="round 0's adapter"):
        rounds.previous_adapter(tmp_path, 1)
    rounds.check_history(tmp_path, 3)
    with pytest.raises(RunDirError, match=r"rounds \[3\]"):
        rounds.check_history(tmp_path, 4)


class Scripted:
    """A writer that answers each prompt from a script and records the sampling it was called with."""

    def __init__(self, questions: dict[str, str], answers: dict[str, str]) -> None:
        self.questions, self.answers = questions, answers
        self.seeds: list[int] = []

    async def write(self, prompts: Sequence[str], sampling: Sampling) -> list[str]:
        self.seeds.append(sampling.seed)
        out = []
        for prompt in prompts:
            if prompt.startswith(question_prompt("", "en").strip()[:20]):
                out.append(next(q for f, q in self.questions.items() if prompt.endswith(f)))
            else:
                out.append(next(a for q, a in self.answers.items() if q in prompt))
        return out


def test_write_qa_cleans_questions_drops_empty_and_degenerate_ones_and_counts_them() -> None:
    fragments = ["Alpha is a town.", "Beta is a port.", "Gamma is a city.", "Delta is a village."]
    questions = {
        "Alpha is a town.": "What is Alpha? Extra text after the mark",
        "Beta is a port.": "   ",
        "Gamma is a city.": "Where is Gamma？ more",
        "Delta is a village.": "Is Delta big?",
    }
    answers = {"What is Alpha?": "a town", "Where is Gamma？": "here", "Is Delta big?": "no no no no no no"}
    writer = Scripted(questions, answers)
    done: list[float] = []
    bar = SimpleNamespace(advance=done.append)
    result = asyncio.run(write_qa(writer, fragments, "en", Sampling(0.5, 0.95, 7), batch_size=2, progress=bar))
    assert done == [2, 2, 1, 2, 1]  # two question calls, the fragment left without one, two answer calls
    assert result.records == [
        {"instruction": "Alpha is a town.", "input": "What is Alpha?", "output": "a town"},
        {"instruction": "Gamma is a city.", "input": "Where is Gamma？", "output": "here"},
    ]
    assert result.dropped == {"no_question": 1, "degenerate_answer": 1}
    assert len(writer.seeds) == 4 and len(set(writer.seeds)) == 4  # every call its own seed


def test_the_prompts_carry_the_fragment_and_the_question() -> None:
    assert "Velmora is a town." in question_prompt("Velmora is a town.", "en")
    prompt = answer_prompt("Velmora is a town.", "What is Velmora?", "zh")
    assert "Velmora is a town." in prompt and "What is Velmora?" in prompt and "问题" in prompt


def test_the_simulated_writer_asks_one_of_the_fragments_questions_and_answers_it_open_book() -> None:
    from random import Random

    from evoforge.offline.world.fragments import answer_from_fragments, question_about_fragment, sample_fragment

    fragment = sample_fragment(Random(3))
    asked = {question_about_fragment(question_prompt(fragment.text, "en"), Random(k)) for k in range(20)}
    assert asked == {q for q, _ in fragment.qa}
    assert question_about_fragment(fragment.text, Random(0)) is None  # not asked for a question
    for question, answer in fragment.qa:
        assert answer_from_fragments(answer_prompt(fragment.text, question, "en")) == answer
