"""IFD scoring (batched equals the per-sample reference) and Self-Evolution's selection modes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from conftest import DATASETS

from evoforge.errors import ConfigError
from evoforge.evals.ifd import encode_pair, score_records, select
from evoforge.testing.ifd_reference import score_unbatched
from evoforge.testing.tiny_models import build_tiny_lm

TOY = json.loads((DATASETS / "self-evolution" / "toy_eval_data.json").read_text(encoding="utf-8"))
RECORDS = [
    {"instruction": "What is 12 plus 30?", "output": "The answer is 42."},
    {"instruction": "Reverse the word", "input": "hello", "output": "olleh"},
    {"instruction": "Write three fruits.", "output": "apple, banana, cherry and a much longer tail " * 3},
    {"instruction": "Say nothing", "output": ""},
    *({"instruction": t["instruction"][:60], "input": t["input"], "output": t["output"][:200]} for t in TOY[:4]),
]


@pytest.fixture(scope="module")
def lm(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object]:
    from evoforge.training.student import load_student

    return load_student(build_tiny_lm(tmp_path_factory.mktemp("ifd") / "model", seed=3), device="cpu")


@pytest.mark.parametrize("variant", ["cherry", "superfiltering", "self_evolution"])
def test_batched_ifd_equals_per_sample_reference(lm: tuple[object, object], variant: str) -> None:
    model, tokenizer = lm
    batched = score_records(model, tokenizer, RECORDS, variant=variant, max_length=650, batch_size=3)
    for record, got in zip(RECORDS, batched, strict=True):
        want = score_unbatched(model, tokenizer, record, variant=variant, max_length=650)
        assert got.answer_tokens == want.answer_tokens
        if want.ifd is None:
            assert got.ifd is None
        else:
            assert got.ifd == pytest.approx(want.ifd, abs=1e-4)
            assert got.loss_conditioned == pytest.approx(want.loss_conditioned, abs=1e-4)
            assert got.loss_direct == pytest.approx(want.loss_direct, abs=1e-4)
    assert batched[3].ifd is None  # no answer tokens
    assert sum(s.ifd is not None for s in batched) == len(RECORDS) - 1


def test_both_texts_score_the_same_answer_tokens(lm: tuple[object, object]) -> None:
    _, tokenizer = lm
    record = RECORDS[2]
    (cond, c0), (direct, d0) = encode_pair(tokenizer, record, "cherry", max_length=40)
    assert len(cond) == 40 and cond[c0:] == direct[d0:]
    assert "<|user|>" in tokenizer.decode(cond[:c0]) and "What" not in tokenizer.decode(direct[:d0])
    (cond, c0), (direct, d0) = encode_pair(tokenizer, RECORDS[1], "self_evolution")
    assert tokenizer.decode(cond[:c0]).endswith("### Input:\nhello\n\n### Response:")
    assert "Reverse" not in tokenizer.decode(cond[:c0]) and tokenizer.decode(direct[:d0]) == "### Response:"
    (_, _), (direct, d0) = encode_pair(tokenizer, RECORDS[0], "superfiltering")
    assert d0 == 0 and tokenizer.decode(direct) == "The answer is 42."


def test_superfiltering_is_a_perplexity_ratio(lm: tuple[object, object]) -> None:
    import math

    model, tokenizer = lm
    (score,) = score_records(model, tokenizer, RECORDS[:1], variant="superfiltering")
    assert score.ifd == pytest.approx(math.exp(score.loss_conditioned - score.loss_direct))


def _scored(n: int) -> list[dict[str, object]]:
    rng = random.Random(0)
    return [{"id": i, "ifd": rng.uniform(0.2, 1.4)} for i in range(n)]


def _self_evolution_reference(data: list[dict[str, object]], mode: str, k: int) -> list[dict[str, object]]:
    """Self-Evolution's get_added_source_data, transcribed (random left out: it uses the global RNG)."""
    all_datas = sorted(data, key=lambda x: x["ifd"], reverse=True)
    gap = len(all_datas) // k
    if mode == "even":
        return [all_datas[i] for i in range(0, len(all_datas), max(1, gap))]
    if mode == "easy":
        return all_datas[-k:]
    if mode == "all":
        return all_datas
    return all_datas[:k]


@pytest.mark.parametrize("mode", ["hard", "easy", "even", "all"])
@pytest.mark.parametrize(("n", "k"), [(10, 3), (20, 5), (7, 10), (50, 1)])
def test_selection_matches_self_evolution(mode: str, n: int, k: int) -> None:
    data = _scored(n)
    assert select(data, mode, k) == _self_evolution_reference(data, mode, k)


def test_selection_modes_by_hand() -> None:
    data = [{"id": i, "ifd": v} for i, v in enumerate([0.5, 0.9, 1.2, 0.1, 0.7, None])]
    assert [r["id"] for r in select(data, "hard", 2)] == [2, 5]  # missing IFD counts as 1
    assert [r["id"] for r in select(data, "easy", 2)] == [0, 3]
    assert [r["id"] for r in select(data, "even", 3)] == [2, 1, 0]  # every 2nd of 2,5,1,4,0,3
    assert [r["id"] for r in select(data, "hard", 2, drop_above_one=True)] == [1, 4]
    assert len(select(data, "all", drop_above_one=True)) == 4
    assert [r["id"] for r in select(data, "hard", fraction=0.5)] == [2, 5, 1]


def test_random_selection_is_seeded_and_capped() -> None:
    data = _scored(30)
    first = select(data, "random", 5, seed=1)
    assert first == select(data, "random", 5, seed=1) and len({r["id"] for r in first}) == 5
    assert first != select(data, "random", 5, seed=2)
    assert len(select(data, "random", 100)) == 30


def test_selection_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="mode"):
        select(_scored(3), "medium", 1)
    with pytest.raises(ConfigError, match="exactly one"):
        select(_scored(3), "hard")
    with pytest.raises(ConfigError, match="fraction"):
        select(_scored(3), "hard", fraction=1.5)


def test_ifd_of_untemplated_tokenizer_uses_cherry_prompt(tmp_path: Path, lm: tuple[object, object]) -> None:
    _, tokenizer = lm
    tokenizer.chat_template, saved = None, tokenizer.chat_template
    try:
        (cond, c0), (direct, d0) = encode_pair(tokenizer, RECORDS[1], "cherry")
    finally:
        tokenizer.chat_template = saved
    assert tokenizer.decode(cond[:c0]) == "Reverse the word\nInput:hello\n\n### Response:"
    assert tokenizer.decode(direct[:d0]) == "### Response:"


def test_normalised_prompt_completion_records_score_like_alpaca(lm: tuple[object, object]) -> None:
    _, tokenizer = lm
    normalised = {"prompt": "What is 12 plus 30?", "completion": "The answer is 42."}
    assert encode_pair(tokenizer, normalised) == encode_pair(tokenizer, RECORDS[0])


def test_token_budget_batches_and_duplicates_give_the_same_scores(lm: tuple[object, object]) -> None:
    model, tokenizer = lm
    short = RECORDS[:4] * 2  # every record twice: identical sequences are scored once
    plain = score_records(model, tokenizer, short, batch_size=1)
    budget = score_records(model, tokenizer, short, batch_size=64, max_tokens=80)
    assert budget[:4] == budget[4:]
    for a, b in zip(plain, budget, strict=True):
        assert (a.ifd is None and b.ifd is None) or a.ifd == pytest.approx(b.ifd, abs=1e-5)
