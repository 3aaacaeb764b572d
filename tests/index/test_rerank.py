"""Score regularisation: a result is judged with the results that resemble it (index/rerank.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from index import PublicationDoc, Ranking, SearchIndex, SearchRequest
from index import rerank
from index.feedback import field_counts
from index.rerank import doc_vectors, regularise

FLUTTER = {"flutter": 0.6, "panel": 0.5, "supersonic": 0.5, "aeroelastic": 0.4}
SHIPS = {"hull": 0.7, "ship": 0.5, "resistance": 0.5}


def _order(ranked: list[tuple[int, float]]) -> list[int]:
    return [d for d, _ in ranked]


def test_a_result_unlike_the_others_keeps_its_score_and_place() -> None:
    ranked = [(0, 10.0), (1, 9.0), (2, 8.5), (3, 8.0)]
    vectors = [SHIPS, FLUTTER, FLUTTER, FLUTTER]
    out = regularise(ranked, vectors, neighbours=2)
    assert out[0] == (0, 10.0)


def test_a_result_among_good_answers_rises_above_a_lone_one() -> None:
    # 3 scores below 4 alone, but it resembles the two best results and 4 resembles nothing
    ranked = [(1, 10.0), (2, 9.5), (4, 6.2), (3, 6.0)]
    vectors = [FLUTTER, FLUTTER, SHIPS, FLUTTER]
    out = regularise(ranked, vectors, neighbours=2)
    assert _order(out).index(3) < _order(out).index(4)
    assert dict(out)[4] == 6.2  # no neighbour: its own score


def test_no_shared_words_changes_nothing() -> None:
    ranked = [(0, 3.0), (1, 2.0), (2, 1.0)]
    vectors = [{"a": 1.0}, {"b": 1.0}, {}]
    assert regularise(ranked, vectors, neighbours=5) == ranked


def test_dense_and_pairwise_similarities_agree(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ranked = [(i, 10.0 - i) for i in range(6)]
    vectors = [FLUTTER, SHIPS, FLUTTER, {"panel": 1.0}, SHIPS, {"hull": 0.6, "panel": 0.8}]
    pairwise = regularise(ranked, vectors, neighbours=2)
    monkeypatch.setattr(rerank, "MAX_PAIRS", 0)
    dense = regularise(ranked, vectors, neighbours=2)
    assert _order(dense) == _order(pairwise)
    assert all(abs(a[1] - b[1]) < 1e-5 for a, b in zip(dense, pairwise, strict=True))


def test_vectors_are_unit_length_and_cached() -> None:
    counts = {7: {"wing": 2.0, "flutter": 1.0}, 8: {}}
    cache: dict[int, dict[str, float]] = {}
    calls: list[int] = []

    def counts_of(d: int) -> dict[str, float]:
        calls.append(d)
        return counts[d]

    vecs = doc_vectors([7, 8], counts_of, lambda w: 2.0, cache)
    assert abs(sum(v * v for v in vecs[0].values()) - 1.0) < 1e-9
    assert vecs[0]["wing"] > vecs[0]["flutter"]
    assert vecs[1] == {}
    doc_vectors([7, 8], counts_of, lambda w: 2.0, cache)
    assert calls == [7, 8]


def test_title_words_count_at_the_title_weight_in_similarity() -> None:
    # two reports share a title word; a third shares a word of the first one's abstract only
    a = {"title": "Panel flutter", "abstract": "Tunnel tests of thin plates."}
    b = {"title": "Flutter boundaries", "abstract": "Piston theory for shells."}
    c = {"title": "Harbour sediment", "abstract": "Tunnel dredging and tides."}
    weights = Ranking().weights
    assert weights["title"] > weights["abstract"]

    def dot(x: dict[str, float], y: dict[str, float]) -> float:
        return sum(v * y.get(t, 0.0) for t, v in x.items())

    def sims(w: dict[str, float]) -> tuple[float, float]:
        va, vb, vc = doc_vectors([0, 1, 2], lambda d: field_counts([a, b, c][d], w), lambda t: 1.0)
        return dot(va, vb), dot(va, vc)

    plain_ab, plain_ac = sims({})
    weighted_ab, weighted_ac = sims(weights)
    assert abs(plain_ab - plain_ac) < 1e-9  # one shared word each, counted alike
    assert weighted_ab > weighted_ac  # the shared title word counts more


def _flutter_collection() -> list[PublicationDoc]:
    cluster = [
        "Panel flutter of thin plates in supersonic flow: aeroelastic stability boundaries "
        "measured in the wind tunnel and compared with piston theory.",
        "Aeroelastic stability of flat panels in supersonic flow; flutter boundaries from "
        "piston theory agree with wind tunnel tests of thin plates.",
        "Supersonic panel flutter: thin plates clamped on all edges, stability boundaries and "
        "the effect of in-plane stress, wind tunnel and piston theory.",
    ]
    docs = [PublicationDoc(id=i + 1, slug=f"flutter-{i + 1}", title=f"Panel flutter study {i + 1}",
                           abstract=text) for i, text in enumerate(cluster)]
    # on the subject, in the words of the others, but naming only one of the question's words
    docs.append(PublicationDoc(
        id=10, slug="thin-plates", title="Thin plates clamped in the wind tunnel",
        abstract="Stability boundaries of thin clamped plates from piston theory, with in-plane "
                 "stress, measured in the wind tunnel; the panel edges were clamped."))
    # off the subject, but repeating two of the question's words; its neighbours (below) are
    # poor answers
    docs.append(PublicationDoc(
        id=11, slug="birds", title="How birds flutter",
        abstract="Birds flutter their wings; flutter frequency of small birds in gusts, and "
                 "limits of flutter in the field."))
    for i in range(3):  # more about birds, naming one of the question's words in passing
        docs.append(PublicationDoc(
            id=20 + i, slug=f"birds-{i}", title=f"Small birds in gusts {i}",
            abstract="Wings of small birds in gusts in the field; the wingbeat frequency of "
                     "birds in the field and in gusts."))
    for i in range(12):  # unrelated documents, so that the words above are rare
        docs.append(PublicationDoc(
            id=100 + i, slug=f"other-{i}", title=f"Harbour dredging note {i}",
            abstract="Sediment, tides and the dredging of a harbour channel."))
    return docs


def _rank(tmp_path: Path, ranking: Ranking, query: str) -> list[int]:
    with SearchIndex(tmp_path / f"ix-{ranking.cluster_neighbours}", ranking=ranking) as ix:
        ix.rebuild(_flutter_collection())
        res = ix.search(SearchRequest(query, limit=20, facets=False, max_pages_per_hit=0))
        return [h.id for h in res.hits]


def test_question_ranks_a_report_among_good_answers_above_one_among_poor_ones(
    tmp_path: Path,
) -> None:
    question = "flutter frequency limits for thin plates"
    plain = replace(Ranking(), prf_weight=0.0, cluster_neighbours=0)
    smoothed = replace(Ranking(), prf_weight=0.0)
    before = _rank(tmp_path, plain, question)
    after = _rank(tmp_path, smoothed, question)
    # word matching alone puts the birds first; judged with the documents most like each
    # (the flutter reports for one, the other bird notes for the other), the plates win
    assert before.index(11) < before.index(10)
    assert after.index(10) < after.index(11)
    assert set(before) == set(after)  # re-ranking never adds or drops a match


def test_neighbours_are_of_the_documents_own_language() -> None:
    # a Latin result shares one word with poor English answers: no likeness, its score stays
    ranked = [(0, 10.0), (1, 9.0), (2, 3.0), (3, 3.0)]
    latin = {"lorem": 0.8, "document": 0.6}
    poor = {"document": 0.9, "test": 0.4}
    vectors = [FLUTTER, latin, poor, poor]
    mixed = regularise(ranked, vectors, neighbours=2)
    assert dict(mixed)[1] < 9.0  # compared across languages, it is pulled down
    apart = regularise(ranked, vectors, neighbours=2, languages=["en", "la", "en", "en"])
    assert dict(apart)[1] == 9.0
    # and the Latin result no longer lifts the poor English answers; they are judged together
    assert dict(mixed)[2] > 3.0 and dict(apart)[2] == pytest.approx(3.0)


def test_feedback_leaves_documents_it_cannot_read_in_their_places() -> None:
    from index.engine import keep_places

    ranked = [(0, 10.0), (7, 9.5), (1, 9.0), (2, 8.0)]
    extra = {1: 3.0, 2: 2.5}  # English expansion words lift 1 and 2; 7 is in German
    out = keep_places(ranked, extra, fixed={7})
    assert _order(out) == [1, 7, 2, 0]
    scores = [s for _, s in out]
    assert scores == sorted(scores, reverse=True)
    assert keep_places(ranked, extra, fixed=set()) == [(1, 12.0), (2, 10.5), (0, 10.0), (7, 9.5)]
    # first or last, a fixed document still gets a score in order
    assert _order(keep_places(ranked, {0: 1.0}, fixed={7, 2})) == [0, 7, 1, 2]
    top = keep_places([(7, 10.0), (1, 9.0)], {1: 5.0}, fixed={7})
    assert _order(top) == [7, 1] and top[0][1] > top[1][1]


def test_a_report_in_another_language_keeps_its_rank_through_feedback(tmp_path: Path) -> None:
    # A question of many words is expanded with words of the best English results. A Latin
    # document whose title answers it cannot match English expansion words: without the rule
    # it falls behind every English result the expansion lifts.
    lorem = " ".join(["lorem ipsum dolor sit amet consectetur adipiscing elit sed do"] * 30)
    latin = PublicationDoc(50, "two-columns", "Lorem Ipsum set in two columns", body=lorem,
                           abstract="A sample document with two columns filled with Lorem Ipsum "
                                    "text.", language="la")
    aircraft = [
        PublicationDoc(60 + n, f"aircraft-{n}", f"Control column forces in the {model} aircraft",
                       abstract=f"Pilots of the {model} move the control column to the side; the "
                                "flight manual sets out the trim procedure and the pilot workload.")
        for n, model in enumerate(["Boeing 737", "Airbus A320", "Embraer 190"])
    ]
    others = [PublicationDoc(80 + n, f"other-{n}", title,
                             abstract=f"A review of {title.lower()} in the borough.")
              for n, title in enumerate(["Parks and open spaces", "Road maintenance backlog",
                                         "Library opening hours", "Council tax support",
                                         "Adult social care workforce",
                                         "Air quality near schools"])]
    question = "placeholder text laid out in side by side columns"

    def first(ranking: Ranking) -> int:
        name = f"ix-{ranking.prf_weight}-{ranking.prf_keep_other_languages}"
        with SearchIndex(tmp_path / name, ranking=ranking) as ix:
            ix.rebuild([latin, *aircraft, *others])
            res = ix.search(SearchRequest(question, limit=10, facets=False, max_pages_per_hit=0))
            return res.hits[0].id

    assert first(replace(Ranking(), prf_weight=0.0)) == 50  # the reader's own words
    assert first(replace(Ranking(), prf_keep_other_languages=False)) != 50
    assert first(Ranking()) == 50
