"""The query path's own postings reader gives what Whoosh's matchers give.

`fastscore` reads posting lists straight from their bytes (skipping blocks, leaving a block's
positions undecoded when only scores are needed, decoding kept positions block by block), looks
words up in the segments' hash tables in place and caches term entries. Each of these must
leave every search result as it was: the same postings, the same scores, the same hits.
"""

from __future__ import annotations

import random
import zlib
from array import array
from pathlib import Path
from pickle import dumps

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh.formats import Positions

from index import PublicationDoc, SearchIndex, SearchRequest, fastscore
from index.engine import _score_docs
from index.fastscore import (
    LengthCache,
    TermCache,
    TermLookup,
    _block_ids_weights,
    _decodable,
    _hash_get,
    _list_blocks,
    _read_blocks,
    _read_matcher,
    flat_terms,
    score_all,
    score_some,
)
from index.query import parse
from index.querybuild import compile_query

WORDS = [
    "council", "housing", "rent", "arrears", "benefit", "library", "closures", "volunteers",
    "parks", "budget", "health", "hospital", "quality", "improvement", "evidence", "malaria",
    "forest", "fuels", "reduction", "plan", "national", "land", "hazardous", "risk", "wildfire",
    "homes", "tax", "return", "schedule", "research",
]


def _text(rng: random.Random, n: int) -> str:
    # a skewed choice, so that some words are in nearly every document and others in few
    return " ".join(WORDS[min(int(rng.expovariate(0.15)), len(WORDS) - 1)] for _ in range(n))


def _docs(first: int, count: int, seed: int) -> list[PublicationDoc]:
    rng = random.Random(seed)
    out = []
    for i in range(first, first + count):
        pages = tuple(_text(rng, rng.randrange(5, 60)) for _ in range(rng.randrange(1, 4)))
        out.append(PublicationDoc(
            id=i, slug=f"p-{i}", title=_text(rng, rng.randrange(2, 7)),
            abstract=_text(rng, rng.randrange(0, 30)), body="\n".join(pages), pages=pages,
            type=rng.choice(("Report", "Briefing")), year=rng.randrange(2000, 2025),
            topics=(rng.choice(("Housing", "Health", "Environment")),)))
    return out


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> SearchIndex:
    """Three segments of 150-300 publications (posting lists of several blocks), some
    publications replaced (deleted copies left in older segments)."""
    ix = SearchIndex(Path(tmp_path_factory.mktemp("many")) / "ix")
    ix.add_or_replace(_docs(1, 300, 1))
    ix.add_or_replace(_docs(301, 150, 2))
    ix.add_or_replace(_docs(20, 40, 3))
    yield ix
    ix.close()


def _terms(leaf, fieldname: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [leaf.schema[fieldname].from_bytes(t) for t in leaf.lexicon(fieldname)]


class _CopyingFile:
    """A segment file read only through `get` (no buffer to read in place)."""

    def __init__(self, f) -> None:  # type: ignore[no-untyped-def]
        self._f = f

    def get(self, position: int, length: int) -> bytes:
        return self._f.get(position, length)


def _same(a: tuple, b: tuple) -> None:
    assert a[0].tolist() == b[0].tolist()
    assert a[1].tolist() == b[1].tolist()
    assert [a[2][i] for i in range(len(a[0]))] == list(b[2])


def test_posting_lists_read_from_their_bytes_as_whoosh_reads_them(many: SearchIndex) -> None:
    rng = random.Random(7)

    def check(s) -> int:  # type: ignore[no-untyped-def]
        lookup = TermLookup(s)
        multi = 0
        for number, (leaf, _off) in enumerate(lookup.leaves):
            for f in ("title", "abstract", "body", "content", "pid"):
                for t in _terms(leaf, f):
                    m = lookup.matcher(number, f, t)
                    assert _decodable(m)
                    slow = _read_blocks(m, values=True)
                    multi += len(slow[0]) > 128
                    _same(lookup.postings(number, f, t, values=True), slow)  # positions
                    ids, w, _v = lookup.postings(number, f, t)  # ids and weights only
                    assert (ids.tolist(), w.tolist()) == (slow[0].tolist(), slow[1].tolist())
                    want = np.array(sorted(rng.sample(range(leaf.doc_count_all()), 40)))
                    info = lookup.infos(f, t)[number]
                    copied = _list_blocks(_CopyingFile(leaf._terms._postfile), info._offset,
                                          info._length[0], None, False)
                    assert copied is not None and copied[0] == ids.tolist()
                    if f != "pid":  # (a field with positions)
                        lazy = _list_blocks(_CopyingFile(leaf._terms._postfile), info._offset,
                                            info._length[0], None, True, lazy=True)
                        assert lazy is not None
                        assert [lazy[2][i] for i in range(len(lazy[0]))] == list(slow[2])
                    some = lookup.postings(number, f, t, want)
                    slow_some = _read_matcher(lookup.matcher(number, f, t), want)
                    assert some[0].tolist() == slow_some[0].tolist()
                    assert some[1].tolist() == slow_some[1].tolist()
        return multi

    assert many._read(check) > 10  # several lists of more than one block were compared


def _block(ids: list[int], weights: list[float], positions: list[list[int]]) -> tuple[bytes, int]:
    """A block's data as Whoosh 3's postings writer makes it (W3PostingsWriter._write_block)."""
    fmt = Positions()
    deltas = [ids[0]] + [b - a for a, b in zip(ids, ids[1:], strict=False)]
    w: object = None if all(x == 1.0 for x in weights) else (
        weights[0] if all(x == weights[0] for x in weights) else tuple(array("f", weights)))
    values = tuple(fmt.encode(p)[2] for p in positions)
    return zlib.compress(dumps((tuple(deltas), w, values), 2), 3), len(ids)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 70000), st.sampled_from([1.0, 2.0, 3.5]),
                          st.lists(st.integers(0, 5000), min_size=1, max_size=40)),
                min_size=1, max_size=128))
def test_ids_and_weights_of_a_block_without_its_positions(postings: list) -> None:
    ids = sorted({d for d, _w, _p in postings})
    weights = [float(w) for _d, w, _p in postings][: len(ids)]
    positions = [sorted(set(p)) for _d, _w, p in postings][: len(ids)]
    data, count = _block(ids, weights, positions)
    whole = __import__("pickle").loads(zlib.decompress(data))
    assert _block_ids_weights(data, 3, count) == (whole[0], whole[1])


def test_a_block_without_positions_is_decoded_whole() -> None:
    data = zlib.compress(dumps(((3, 1, 4), (1.0, 2.0, 1.5), None), 2), 3)
    assert _block_ids_weights(data, 3, 3) == ((3, 1, 4), (1.0, 2.0, 1.5))
    plain = dumps(((5,), None, (b"\x00\x00\x00\x01K\x02",)), 2)
    assert _block_ids_weights(plain, 0, 1) == ((5,), None)


def test_term_lookups_in_place_as_whoosh_looks_them_up(many: SearchIndex) -> None:
    def check(s) -> int:  # type: ignore[no-untyped-def]
        found = 0
        for leaf, _off in s.reader().leaf_readers():
            terms = leaf._terms
            for f in ("title", "body", "pid", "kind"):
                for t in [*leaf.lexicon(f), b"absent", b"zzz", b""]:
                    key = terms._keycoder(f, t)
                    expected = terms._tindex.get(key)
                    assert _hash_get(terms._tindex, key) == expected
                    found += expected is not None
        return found

    assert many._read(check) > 100


def test_term_cache_stays_within_its_bytes_and_forgets_old_segments() -> None:
    cache = TermCache(max_bytes=2000)
    segs = ("a:10", "b:20")
    for i in range(100):
        cache.put(segs, ("body", f"w{i}"), (b"x" * 40, None))
        assert cache.nbytes() <= 2000
    assert cache.get(segs, ("body", "w99")) == (b"x" * 40, None)
    assert cache.get(segs, ("body", "w0")) is None  # the oldest were dropped
    assert cache.get(("a:10", "c:5"), ("body", "w99")) is None  # other segments: not valid
    cache.put(("a:10", "c:5"), ("body", "w1"), (None, None))
    assert cache.get(segs, ("body", "w99")) is None and cache.nbytes() < 2000


def test_cached_term_entries_never_hide_new_documents(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "ix")
    ix.add_or_replace(_docs(1, 30, 5))
    question = "what does the evidence say about malaria in hospital wards and clinics"
    before = ix.search(SearchRequest(question))
    ix.add_or_replace([PublicationDoc(99, "new", "Malaria wards", abstract="malaria clinics")])
    after = ix.search(SearchRequest(question))
    assert after.total == before.total + 1 and 99 in [h.id for h in after.hits]
    assert ix.cache_bytes()["terms"] > 0
    ix.close()


QUESTIONS = ["what does the evidence say about hospital quality improvement for malaria?",
             "how are hazardous fuels reduced on national forest land?",
             "forest fuels reduction plan", "library closures volunteers", "tax", "housing rent",
             '"quality improvement"', "council -housing", "fuel*"]


def _result(res) -> tuple:  # type: ignore[no-untyped-def]
    return (res.total, res.facets, res.suggestion,
            [(h.id, h.snippet, [(p.page, p.snippet) for p in h.pages]) for h in res.hits],
            [h.score for h in res.hits], [p.score for h in res.hits for p in h.pages])


@pytest.mark.parametrize("text", QUESTIONS)
def test_searches_same_as_with_whoosh_matchers_and_no_term_cache(
        many: SearchIndex, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pages = {d.id: d.pages for d in _docs(1, 300, 1) + _docs(301, 150, 2) + _docs(20, 40, 3)}

    def page_text(pid: int, page: int) -> str:
        return pages[pid][page - 1] if page <= len(pages[pid]) else ""

    fast = [many.search(SearchRequest(text, page=p), page_text=page_text) for p in (1, 2)]
    plain = SearchIndex(many.directory, create=False)
    plain._terms = TermCache(max_bytes=0)
    monkeypatch.setattr(fastscore, "DIRECT_READS", False)
    slow = [plain.search(SearchRequest(text, page=p), page_text=page_text) for p in (1, 2)]
    plain.close()
    for a, b in zip(fast, slow, strict=True):
        ra, rb = _result(a), _result(b)
        assert ra[:4] == rb[:4]
        assert ra[4] == pytest.approx(rb[4], rel=1e-12)
        assert ra[5] == pytest.approx(rb[5], rel=1e-12)
    assert fast[0].total > 0


@pytest.mark.parametrize("text", ["council housing rent", "malaria hospital evidence quality",
                                  "forest fuels reduction plan national land"])
def test_scores_over_many_blocks_same_as_whoosh(many: SearchIndex, text: str) -> None:
    compiled = compile_query(parse(text), many.ranking)
    terms = flat_terms(compiled.match)
    page_terms = flat_terms(compiled.page_query)
    assert terms is not None and page_terms is not None

    def both(s):  # type: ignore[no-untyped-def]
        live = [d for d in range(s.doc_count_all()) if not s.ixreader.is_deleted(d)]
        some = live[::3]
        return (score_all(s, terms, LengthCache(), term_cache=TermCache()),
                score_some(s, terms, some, LengthCache(), term_cache=TermCache()),
                score_some(s, page_terms, live, LengthCache(), exact_lengths=True),
                _score_docs(s, compiled.match, live), _score_docs(s, compiled.page_query, live),
                some, live)

    every, part, pages, slow, slow_pages, some, live = many._read(both)
    assert len(slow) > 100 and len(slow_pages) > 100
    assert {d for d in live if every[d] > 0} == set(slow)  # (deleted copies are masked later)
    for d, score in slow.items():
        assert every[d] == pytest.approx(score, rel=1e-5)
    assert part == {d: float(every[d]) for d in some if every[d] > 0}
    assert pages.keys() == slow_pages.keys()
    for d, score in slow_pages.items():
        assert pages[d] == pytest.approx(score, rel=1e-12)


def test_lengths_over_all_segments_as_segment_by_segment(many: SearchIndex) -> None:
    def check(s):  # type: ignore[no-untyped-def]
        cache = LengthCache()
        leaves = s.reader().leaf_readers()
        per_segment = [cache.at(leaf, "body", np.arange(leaf.doc_count_all()))
                       for leaf, _ in leaves]
        alone = cache.nbytes()
        docs = np.arange(s.doc_count_all())
        whole = cache.at_global(leaves, "body", docs)
        return np.concatenate(per_segment).tolist() == whole.tolist(), alone, cache.nbytes()

    same, alone, together = many._read(check)
    assert same and together == alone  # the segments' arrays became views of the whole
