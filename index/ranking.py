"""Relevance settings and the BM25 weighting model (per-kind statistics, field weights)."""

from __future__ import annotations

from dataclasses import dataclass, field
from math import log

from whoosh.scoring import WeightingModel, WeightLengthScorer, WeightScorer

from .bm25f import average_length
from .schema import PAGE_FIELDS


@dataclass(frozen=True)
class Ranking:
    """Tunable relevance choices; defaults are general (not fitted to any collection)."""

    # Field weights. With `bm25f` each is the weight of the field's (length-normalised)
    # frequency inside one BM25F saturation; otherwise it multiplies that field's BM25 score.
    # Title and abstract count above body text; names, topics and keywords are short fields.
    weights: dict[str, float] = field(
        default_factory=lambda: {
            "title": 3.0,
            "title_u": 3.0,
            "subtitle": 2.0,
            "keywords": 2.0,
            "topic_t": 1.5,
            "abstract": 1.5,
            "abstract_u": 1.5,
            "names": 1.0,
            "series_t": 0.5,
            "body": 1.0,
            "body_u": 1.0,
            "content": 1.0,
            "content_u": 1.0,
        }
    )
    k1: float = 2.4  # saturation of the weighted BM25F frequency (weights above sum high)
    # length normalisation of the long fields (Lucene's default is 0.75): at 0.6 Cranfield
    # loses nothing and known-item paraphrases rank their report higher (search-quality.md)
    b: float = 0.6
    # score a word across fields with true BM25F (else: sum of per-field BM25 scores)
    bm25f: bool = True
    # length normalisation per field (short fields normalise less)
    field_b: dict[str, float] = field(
        default_factory=lambda: {"title": 0.4, "title_u": 0.4, "subtitle": 0.4, "names": 0.2,
                                 "keywords": 0.3, "topic_t": 0.2, "series_t": 0.2}
    )
    # proximity: ordered pairs of adjacent query words found within `pair_slop` positions
    pair_weight: float = 0.1
    pair_slop: int = 1
    window_weight: float = 0.0
    window_slop: int = 8
    max_pairs: int = 12
    # pseudo-relevance feedback (relevance-model style) for natural-language questions of at
    # least `prf_min_terms` content words: expansion terms only re-rank, never add matches
    prf_min_terms: int = 4
    prf_docs: int = 10
    prf_terms: int = 30
    prf_weight: float = 0.8
    prf_cap: float = 0.5  # at most this fraction of the best first-pass score (0: no cap)
    prf_temperature: float = 5.0
    prf_min_docs: int = 2
    prf_query_terms: bool = False
    prf_rerank: int = 1000  # feedback re-ranks this many first-pass results (bounded cost)
    # feedback words are English: documents in other languages keep their places among the
    # re-ranked results instead of falling behind every English one the words lift
    prf_keep_other_languages: bool = True
    # score regularisation (cluster hypothesis, see rerank.py) of the best `cluster_rerank`
    # results of natural-language questions of at least `cluster_min_terms` content words:
    # each score becomes the similarity-weighted mean of its own (at `cluster_self`) and its
    # `cluster_neighbours` nearest neighbours' among those results (0 neighbours: off)
    cluster_neighbours: int = 5
    cluster_self: float = 1.0
    cluster_rerank: int = 200
    cluster_min_terms: int = 4
    # the similarity vectors count a word at its field's weight above (as BM25F does), so
    # documents alike in their titles count as closer than ones sharing a passing word
    cluster_field_weights: bool = True
    # neighbours are of a document's own language (English stems and other languages'
    # folded words are not one vocabulary)
    cluster_same_language: bool = True
    # synonyms and acronyms (vocabulary): weight of another name of a query word or phrase
    synonym_weight: float = 0.8
    # query-term frequency: weight of a repeated query word
    repeat_weight: float = 0.5


class PortalBM25(WeightingModel):
    """BM25 with Lucene-style idf and statistics counted per document kind.

    One index holds publication and page documents, so document counts and average field
    lengths are computed over the documents that can carry the field (publications for
    publication fields, pages for page fields), not over every document.
    """

    def __init__(self, ranking: Ranking) -> None:
        self.ranking = ranking

    def _count(self, searcher, fieldname: str) -> int:  # type: ignore[no-untyped-def]
        parent = searcher.get_parent()
        cache = parent.__dict__.setdefault("_portal_kind_counts", {})
        kind = "page" if fieldname in PAGE_FIELDS else "pub"
        if kind not in cache:
            cache[kind] = max(1, parent.doc_frequency("kind", kind))
        return cache[kind]

    def idf(self, searcher, fieldname, text):  # type: ignore[no-untyped-def,override]
        parent = searcher.get_parent()
        n = parent.doc_frequency(fieldname, text)
        total = self._count(searcher, fieldname)
        return log(1.0 + (total - n + 0.5) / (n + 0.5))

    def scorer(self, searcher, fieldname, text, qf=1):  # type: ignore[no-untyped-def,override]
        if not searcher.schema[fieldname].scorable:
            return WeightScorer.for_(searcher, fieldname, text)
        b = self.ranking.field_b.get(fieldname, self.ranking.b)
        return _Scorer(searcher, fieldname, text, b, self.ranking.k1)


class _Scorer(WeightLengthScorer):
    def __init__(self, searcher, fieldname: str, text, b: float, k1: float):  # type: ignore[no-untyped-def]
        parent = searcher.get_parent()
        self.idf = parent.idf(fieldname, text)
        self.avgfl = average_length(parent, fieldname)
        self.b = b
        self.k1 = k1
        self.setup(searcher, fieldname, text)

    def _score(self, weight: float, length: float) -> float:
        k1, b = self.k1, self.b
        return self.idf * (weight * (k1 + 1)) / (weight + k1 * ((1 - b) + b * length / self.avgfl))
