"""Score regularisation over the best results: a document is judged with its nearest neighbours.

The cluster hypothesis (documents that resemble each other tend to be relevant to the same
questions) gives a standard re-ranking step, known as score regularisation or cluster-based
re-ranking: each of the best results gets the similarity-weighted mean of its own score and
the scores of its most similar documents among those results. A document that matches
the words of a question but nothing like the other good answers drops; one whose neighbours all
answer it rises. Similarity is the cosine of log-tf x idf vectors of the stored text that
feedback also reads (title, subtitle, abstract, keywords), a word's frequency counted with its
field's ranking weight as BM25F counts it (a title word weighs what the ranking gives it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from math import log
from typing import Any

import numpy as np

# vectors cached per index reader (documents never change inside one reader); a few KB each,
# so the cache is emptied when it reaches MAX_CACHED documents
MAX_CACHED = 5_000
# above this many (document, document) pairs sharing a word, similarities use a dense product
MAX_PAIRS = 2_000_000


def doc_vectors(
    docnums: list[int],
    counts_of: Callable[[int], Mapping[str, float]],
    idf: Callable[[str], float],
    cache: dict[int, dict[str, float]] | None = None,
) -> list[dict[str, float]]:
    """Unit-length log-tf x idf vectors of the given documents (empty for a document without
    words). `counts_of(docnum)` gives each word's (possibly field-weighted) frequency; a
    frequency c counts 1 + log(c) from 1 up, c below 1."""
    out = []
    idf_cache: dict[str, float] = {}
    for d in docnums:
        vec = cache.get(d) if cache is not None else None
        if vec is None:
            vec = {}
            for w, c in counts_of(d).items():
                if w not in idf_cache:
                    idf_cache[w] = idf(w)
                weight = (1.0 + log(c) if c >= 1 else c) * idf_cache[w]
                if weight > 0:
                    vec[w] = weight
            norm = sum(v * v for v in vec.values()) ** 0.5
            vec = {w: v / norm for w, v in vec.items()} if norm else {}
            if cache is not None:
                if len(cache) >= MAX_CACHED:
                    cache.clear()
                cache[d] = vec
        out.append(vec)
    return out


def regularise(
    ranked: list[tuple[int, float]],
    vectors: list[dict[str, float]],
    neighbours: int,
    self_weight: float = 1.0,
    languages: list[str] | None = None,
) -> list[tuple[int, float]]:
    """Re-rank `ranked` (docnum, score), best first, smoothing each score with its neighbours'.

    Each document's new score is the similarity-weighted mean of its own score (at
    `self_weight`, 1 being the cosine of a document with itself) and the scores of its
    `neighbours` most similar documents in the list. So a document only moves as far as it
    resembles others: one unlike every other result (a known item in a mixed collection, a
    report in another language) keeps nearly its own score, while one among close neighbours
    takes on much of theirs. Scores are normalised by the best one and scaled back after.

    With `languages` (one code per document), neighbours are of the document's own language:
    English vectors hold stems and others folded words, so a word the two happen to share
    ("document" in an English report and in a Latin one's title) is no likeness.
    """
    n = len(ranked)
    if n < 2 or neighbours <= 0:
        return ranked
    top = ranked[0][1] or 1.0
    own = np.array([s / top for _, s in ranked], dtype=np.float64)
    sim = _similarities(vectors)
    if sim is None:
        return ranked
    if languages is not None and len(set(languages)) > 1:
        codes = np.array(languages, dtype=object)
        sim = np.where(codes[:, None] == codes[None, :], sim, 0.0)
    np.fill_diagonal(sim, 0.0)
    k = min(neighbours, n - 1)
    # keep each row's k largest similarities
    nearest = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    keep = np.zeros_like(sim, dtype=bool)
    keep[np.arange(n)[:, None], nearest] = True
    sim = np.where(keep & (sim > 0), sim, 0.0)
    new = top * (self_weight * own + (sim * own).sum(axis=1)) / (self_weight + sim.sum(axis=1))
    order = sorted(range(n), key=lambda i: (-new[i], ranked[i][0]))
    return [(ranked[i][0], float(new[i])) for i in order]


def _similarities(vectors: list[dict[str, float]]) -> np.ndarray | None:
    """Dot products of every pair of the (sparse) vectors, as an n x n array; None when no
    two vectors share a word.

    Summed word by word over the pairs of documents sharing it (numpy's bincount) rather than
    by a dense matrix product: as fast for abstracts, and off BLAS, whose threads spin against
    each other on a busy machine. Past MAX_PAIRS pairs (long texts sharing many words) the
    dense product is used, which bounds the memory.
    """
    n = len(vectors)
    ids: dict[str, int] = {}
    words: list[int] = []
    weights: list[float] = []
    lengths: list[int] = []
    for vec in vectors:
        words.extend([ids.setdefault(w, len(ids)) for w in vec])
        weights.extend(vec.values())
        lengths.append(len(vec))
    if not words:
        return None
    order = np.argsort(np.array(words, dtype=np.int64), kind="stable")
    word = np.array(words, dtype=np.int64)[order]
    vals = np.array(weights, dtype=np.float64)[order]
    docs = np.repeat(np.arange(n, dtype=np.int64), lengths)[order]
    _, sizes = np.unique(word, return_counts=True)
    shared = np.repeat(sizes > 1, sizes)  # a word in one document adds nothing
    if not shared.any():
        return None
    vals, docs = vals[shared], docs[shared]
    sizes = sizes[sizes > 1]
    if int((sizes * sizes).sum()) > MAX_PAIRS:  # long texts sharing many words: a dense product
        m = np.zeros((n, len(sizes)), dtype=np.float32)
        m[docs, np.repeat(np.arange(len(sizes)), sizes)] = vals
        return (m @ m.T).astype(np.float64)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    # every entry pairs with each entry of its own word's group
    entry_size = np.repeat(sizes, sizes)
    entry_start = np.repeat(starts, sizes)
    left = np.repeat(np.arange(len(docs)), entry_size)
    block_start = np.repeat(np.cumsum(entry_size) - entry_size, entry_size)
    right = np.repeat(entry_start, entry_size) + (np.arange(len(left)) - block_start)
    sim = np.bincount(docs[left] * n + docs[right], weights=vals[left] * vals[right],
                      minlength=n * n)
    return sim.reshape(n, n)
