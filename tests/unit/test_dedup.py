"""The near-duplicate rules: Self-Instruct's ROUGE-L, MinHash LSH with the same rule, exact text."""

from __future__ import annotations

from evoforge.data.dedup import ExactIndex, MinHashIndex, RougeIndex
from evoforge.data.rouge import rouge_l, rouge_l_bound, token_bag, tokens

TEXTS = [
    "Write a short poem about the sea at night.",
    "Explain how a bicycle gear works to a child.",
    "List three uses of bamboo in building.",
]
NEAR = "Write a short poem about the sea at midnight."  # ROUGE-L 8/9 with the first text


def test_rouge_l_and_tokens_hold_chinese_too() -> None:
    assert rouge_l(tokens(TEXTS[0]), tokens(NEAR)) > 0.85 and rouge_l(tokens(TEXTS[0]), tokens(TEXTS[1])) < 0.3
    assert tokens("写一首诗 about 海") == ["写", "一", "首", "诗", "about", "海"]


def test_each_rule_keeps_new_texts_and_rejects_near_duplicates() -> None:
    for index in (RougeIndex(0.7), MinHashIndex(0.7)):
        index.extend(TEXTS[:1])
        assert index.add(TEXTS[1]) and index.add(TEXTS[2])
        assert not index.add(NEAR) and index.add(NEAR, threshold=0.95)  # a looser threshold of its own
    exact = ExactIndex()
    assert exact.add(TEXTS[0]) and not exact.add("  write a SHORT poem about the sea at night. ")
    assert exact.add(NEAR) and exact.contains(NEAR)


def test_minhash_finds_what_all_pairs_rouge_finds() -> None:
    base = [f"Describe the {w} of {t} in two sentences." for w in ("history", "science") for t in ("owls", "kites")]
    texts = base + [text.replace("two", "three") for text in base]  # planted near duplicates
    rouge, minhash = RougeIndex(0.7), MinHashIndex(0.7)
    assert [rouge.add(t) for t in texts] == minhash.add_all(texts)


def test_near_duplicates_join_into_groups_under_every_rule() -> None:
    from evoforge.data.near_groups import connected_groups, near_duplicate_groups

    texts = [TEXTS[0], TEXTS[1], NEAR, TEXTS[2], "write a short poem about the sea at night."]
    assert near_duplicate_groups(texts, "exact", 0.0) == [[0, 4]]
    for rule in ("rouge", "minhash"):
        assert near_duplicate_groups(texts, rule, 0.7) == [[0, 2, 4]], rule
    assert connected_groups(5, {(3, 4), (0, 1), (1, 3)}) == [[0, 1, 3, 4]]  # joined through a common member


def test_evolve_drops_near_duplicates_by_its_rule() -> None:
    from evoforge.evolve.dataset import duplicate_index, filter_rows
    from evoforge.settings import load_config

    answer = "A fine and complete answer that follows every part of the instruction."
    rows = [{"parent": "Seed.", "instruction": text, "response": answer} for text in [*TEXTS, NEAR]]
    exact, counts = filter_rows(rows, extra_rules=False, elimination=False)  # the default: the same text only
    assert len(exact) == 4 and counts["duplicates"] == 0
    assert isinstance(duplicate_index(load_config(None)), ExactIndex)  # evolve.dedup's default
    index = duplicate_index(load_config(None, ["evolve.dedup=minhash"]))
    kept, counts = filter_rows(rows, extra_rules=False, elimination=False, index=index)
    assert [r["instruction"] for r in kept] == TEXTS and counts["duplicates"] == 1 and counts["kept"] == 3
    assert (
        len(
            filter_rows(
                rows,
                False,
                False,
                duplicate_index(load_config(None, ["evolve.dedup=minhash", "evolve.dedup_threshold=0.95"])),
            )[0]
        )
        == 4
    )


def test_the_count_bound_never_falls_below_rouge_l() -> None:
    import random

    rng = random.Random(0)
    words = ["a", "b", "c", "d", "e", "f"]
    for _ in range(300):
        x = [rng.choice(words) for _ in range(rng.randint(0, 9))]
        y = [rng.choice(words) for _ in range(rng.randint(0, 9))]
        assert rouge_l_bound(token_bag(x), token_bag(y)) >= rouge_l(x, y) - 1e-12
        assert len(token_bag(x) & token_bag(y)) == sum(min(x.count(w), y.count(w)) for w in words)
    same = tokens("write a poem about the sea")
    assert rouge_l_bound(token_bag(same), token_bag(same)) == 1.0
