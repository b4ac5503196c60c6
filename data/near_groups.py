"""Groups of near-duplicate texts under one of :mod:`evoforge.data.dedup`'s rules (airoboros' cull groups them
and keeps the best of each).

Every text is indexed, the rule's near pairs are found (all pairs for ROUGE-L, the LSH buckets for MinHash, a faiss
range search for embeddings, equal keys for exact text) and joined into connected groups: A near B and B near C
put all three in one group, even when A and C are not near each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evoforge.data.dedup import make_index


def connected_groups(n: int, pairs: set[tuple[int, int]]) -> list[list[int]]:
    """The groups of two or more of ``range(n)`` that ``pairs`` connect, each in order, ordered by first member."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return [members for _, members in sorted(groups.items()) if len(members) > 1]


def near_duplicate_groups(
    texts: Sequence[str],
    method: str,
    threshold: float,
    embedding_model: str | None = None,
    device: str = "cpu",
    embedder: Any = None,
) -> list[list[int]]:
    """The groups (indices into ``texts``) of near duplicates under ``method`` and ``threshold``, as
    :func:`~evoforge.data.dedup.make_index` takes them; texts near no other are in no group."""
    index = make_index(method, threshold, embedding_model, device, embedder)
    index.extend(texts)
    return connected_groups(len(texts), index.near_pairs())
