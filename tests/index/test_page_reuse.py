"""A publication's body reuses its pages' analysis: the index must be the one built without.

`to_index_documents` hands the body over as a `PagedText`, and the analyzer analyses each
page once for the body and again (from its cache) for the page document. These tests build
the same collection twice, once with the reuse and once with every body a plain string, and
compare every posting (term, document, frequency, encoded positions), every field length and
the results of searches, over real multi-page text from the corpus and over pages made to
catch the edges: a phrase across a page break, stop words and punctuation at page edges,
empty pages, accents and a non-English publication.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from index import PublicationDoc, SearchIndex, SearchRequest
from index import schema as index_schema
from index.analysis import PagedText, english_analyzer, mark_language, other_language_analyzer
from tests.conftest import corpus_path

CORPUS_FILES = (
    "pypdf-samples__pdflatex-4-pages.pdf",
    "govdocs1__error_set_2_367594.pdf",
    "cermine__test1.pdf",
)

EDGE_PAGES = (
    "The council's review of services found that quality",
    "improvement of the branch network was the first aim. It was the",
    "",
    "of and the to",  # only stop words
    "  ... 'quoted' U.K. O\u2019Neill's caf\u00e9 na\u00efve \u00c6sop 10.1234/xyz",
    "the end of the report: quality improvement, again.",
)


def corpus_docs() -> list[PublicationDoc]:
    from publications.extract import extract_pdf

    pdfs = corpus_path() / "pdfs"
    docs = []
    for n, name in enumerate(CORPUS_FILES, start=10):
        pages = extract_pdf(pdfs / name).pages
        assert len(pages) > 1 and sum(map(len, pages)) > 2000, name
        docs.append(PublicationDoc(id=n, slug=f"corpus-{n}", title=name, pages=tuple(pages),
                                   body="\n\n".join(pages)))
    # the same text as a German publication (stemmed in German, mark in front)
    first = docs[0]
    docs.append(PublicationDoc(id=20, slug="corpus-de", title="Bericht", language="de",
                               pages=first.pages))
    return docs


def edge_docs() -> list[PublicationDoc]:
    return [
        PublicationDoc(id=1, slug="edges", title="Edges", pages=EDGE_PAGES,
                       body="\n\n".join(EDGE_PAGES)),
        PublicationDoc(id=2, slug="edges-joined-once", title="Edges again", pages=EDGE_PAGES),
        PublicationDoc(id=3, slug="edges-fr", title="Bords", language="fr", pages=EDGE_PAGES),
        PublicationDoc(id=4, slug="edges-own-body", title="Own body", pages=EDGE_PAGES[:2],
                       body="A body of its own, not the pages."),
        PublicationDoc(id=5, slug="first-pages-stops", title="Stops first",
                       pages=("", "of the", "and quality", "improvement")),
    ]


def build(directory: Path, docs: list[PublicationDoc], monkeypatch: pytest.MonkeyPatch,
          reuse: bool, **rebuild: int) -> SearchIndex:
    with monkeypatch.context() as m:
        if not reuse:
            paged = index_schema._body
            m.setattr(index_schema, "_body", lambda body, pages: str(paged(body, pages)))
        index = SearchIndex(directory)
        index.rebuild(iter(docs), **rebuild)
    return index


def postings(directory: Path) -> dict[str, object]:
    from whoosh import index as windex

    from index.storage import Layout

    layout = Layout(directory)
    ix = windex.open_dir(str(layout.path(layout.current_name())))
    out: dict[str, object] = {}
    with ix.reader() as reader:
        for fieldname, text in reader.all_terms():
            m = reader.postings(fieldname, text)
            rows = []
            while m.is_active():
                # with the block's length bounds when postings are in blocks (not inlined)
                bounds = ((m.block_min_length(), m.block_max_length())
                          if hasattr(m, "block_min_length") else None)
                rows.append((m.id(), m.weight(), m.value(), bounds))
                m.next()
            info = reader.term_info(fieldname, text)
            out[f"{fieldname}:{text!r}"] = (rows, info.min_length(), info.max_length(),
                                            info.max_weight(), info.weight())
        for fieldname in ix.schema.scorable_names():
            out[f"length:{fieldname}"] = [reader.doc_field_length(n, fieldname)
                                          for n in range(reader.doc_count_all())]
    ix.close()
    return out


def segment_bytes(directory: Path) -> list[tuple[bytes, bytes, bytes]]:
    """Every term's key, term info bytes and posting bytes, segment by segment: what the
    postings writer wrote, byte for byte."""
    from whoosh import index as windex
    from whoosh.codec.whoosh3 import W3TermInfo

    from index.storage import Layout

    layout = Layout(directory)
    ix = windex.open_dir(str(layout.path(layout.current_name())))
    out = []
    with ix.reader() as top:
        for reader, _ in top.leaf_readers():
            terms = reader._terms
            for key, info in terms._tindex.items():
                terminfo = W3TermInfo.from_bytes(info)
                offset, length = (0, 0) if terminfo.is_inlined() else terminfo.extent()
                length = length[0] if isinstance(length, tuple) else length  # Whoosh's unpacking
                raw = terms._postfile.get(offset, length) if length else b""
                out.append((key, info, raw))
    ix.close()
    return out


def documents_by_uid(directory: Path) -> dict[str, object]:
    """What `postings` holds, told by each document's uid instead of its number (which depends
    on the order the documents were written in), with every stored field too."""
    from whoosh import index as windex

    from index.storage import Layout

    layout = Layout(directory)
    ix = windex.open_dir(str(layout.path(layout.current_name())))
    out: dict[str, object] = {}
    with ix.reader() as reader:
        uids = [reader.stored_fields(n).get("uid") for n in range(reader.doc_count_all())]
        for n, uid in enumerate(uids):
            out[f"stored:{uid}"] = reader.stored_fields(n)
            for fieldname in ix.schema.scorable_names():
                # 0 (None when the segment has the field's lengths but not for this document)
                out[f"length:{fieldname}:{uid}"] = reader.doc_field_length(n, fieldname) or 0
        for fieldname, text in reader.all_terms():
            m = reader.postings(fieldname, text)
            rows = []
            while m.is_active():
                rows.append((uids[m.id()], m.weight(), m.value()))
                m.next()
            info = reader.term_info(fieldname, text)
            out[f"{fieldname}:{text!r}"] = (sorted(rows), info.min_length(), info.max_length(),
                                            info.max_weight(), info.weight(), info.doc_frequency())
        for fieldname in ix.schema.scorable_names():
            out[f"total:{fieldname}"] = reader.field_length(fieldname)
        out["doc_count"] = reader.doc_count()
    ix.close()
    return out


def segment_count(directory: Path) -> int:
    from whoosh import index as windex

    from index.storage import Layout

    layout = Layout(directory)
    ix = windex.open_dir(str(layout.path(layout.current_name())))
    try:
        return len(ix._segments())
    finally:
        ix.close()


def searches_by_score(index: SearchIndex) -> list[object]:
    """`searches`, with hits of equal score in id order (ties are ordered by document number)."""
    return [(q, total, sorted(hits, key=lambda h: (-h[1], h[0])))
            for q, total, hits in searches(index)]


def searches(index: SearchIndex) -> list[object]:
    out = []
    for q in ('"quality improvement"', "quality improvement", "council services", '"was the first"',
              "naive cafe", "oneill", "uk", "10.1234/xyz", "bericht", "the"):
        result = index.search(SearchRequest(query=q, limit=20, include_unpublished=True))
        out.append((q, result.total, [(h.id, round(h.score, 9), [p.page for p in h.pages])
                                      for h in result.hits]))
    return out


def assert_same_index(tmp_path: Path, docs: list[PublicationDoc],
                      monkeypatch: pytest.MonkeyPatch) -> None:
    reused = build(tmp_path / "reused", docs, monkeypatch, reuse=True)
    plain = build(tmp_path / "plain", docs, monkeypatch, reuse=False)
    a, b = postings(tmp_path / "reused"), postings(tmp_path / "plain")
    assert a.keys() == b.keys()
    assert a == b
    assert searches(reused) == searches(plain)
    reused.close()
    plain.close()


def test_edge_pages_index_the_same_with_and_without_reuse(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    docs = edge_docs()
    assert_same_index(tmp_path, docs, monkeypatch)
    # the phrase across the break between pages 1 and 2 is found in the body
    index = SearchIndex(tmp_path / "reused")
    hits = index.search(SearchRequest(query='"quality improvement"', limit=20)).hits
    assert {h.id for h in hits} >= {1, 2, 5}
    index.close()


def test_corpus_pages_index_the_same_with_and_without_reuse(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same_index(tmp_path, corpus_docs(), monkeypatch)


@pytest.mark.parametrize("sep", ["\n", "\n\n"])
def test_paged_text_tokens_are_those_of_the_joined_text(sep: str) -> None:
    from whoosh.analysis import CompositeAnalyzer

    def stream(analyzer, value, **kw):  # type: ignore[no-untyped-def]
        return [(t.text, t.pos, t.startchar, t.endchar) for t in analyzer(value, **kw)]

    kw = {"positions": True, "chars": True, "boosts": True, "mode": "index"}
    for reuse in (english_analyzer(), other_language_analyzer()):
        reference = CompositeAnalyzer(*reuse.items)
        for head in ("", "fr"):
            if head and reuse.renumbers:
                continue
            text = PagedText(EDGE_PAGES, sep)
            if head:
                text = mark_language(head, text)
                assert isinstance(text, PagedText)
            expected = stream(reference, str(text), **kw)
            assert expected  # the comparison is not of two empty streams
            assert stream(reuse, text, **kw) == expected
            # each page, analysed next, comes from the cache and is what it would be alone
            for page in EDGE_PAGES:
                value = mark_language(head, page) if head else page
                assert stream(reuse, value, **kw) == stream(reference, value, **kw)


def test_a_head_that_yields_tokens_comes_once() -> None:
    from whoosh.analysis import CompositeAnalyzer, RegexTokenizer

    from index.analysis import TOKEN_PATTERN, FoldFilter, PageReuseAnalyzer

    reuse = PageReuseAnalyzer(RegexTokenizer(TOKEN_PATTERN) | FoldFilter())
    reference = CompositeAnalyzer(*reuse.items)
    kw = {"positions": True, "chars": True, "mode": "index"}
    text = PagedText(EDGE_PAGES, "\n", head="Heading words ")
    tokens = [(t.text, t.pos, t.startchar, t.endchar) for t in reuse(text, **kw)]
    assert tokens == [(t.text, t.pos, t.startchar, t.endchar) for t in reference(str(text), **kw)]
    assert [t[0] for t in tokens].count("heading") == 1


@pytest.mark.parametrize("limit_mb", [0.25, 64])
def test_term_pool_writes_what_whoosh_pool_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  limit_mb: float) -> None:
    """The writer's pool and length tables (index.bulkwrite) against Whoosh's own, with the
    postings kept in memory (64 MB) and spilled to several run files (0.25 MB)."""
    from whoosh.codec.whoosh3 import W3Codec

    from index import bulkwrite, engine

    docs = corpus_docs() + edge_docs()
    monkeypatch.setattr(engine, "WRITER_LIMIT_MB", limit_mb)
    monkeypatch.setattr(engine, "REBUILD_LIMIT_MB", limit_mb)
    saves = []
    real_save = bulkwrite.TermPool.save

    def counting_save(pool: bulkwrite.TermPool) -> None:
        saves.append(pool.size)
        real_save(pool)

    monkeypatch.setattr(bulkwrite.TermPool, "save", counting_save)
    ours = build(tmp_path / "ours", docs, monkeypatch, reuse=True)
    assert (len(saves) > 2) == (limit_mb < 1)
    with monkeypatch.context() as m:
        # every block compressed and no posting inlined, as Whoosh's writer does
        m.setattr(bulkwrite, "COMPRESS_FROM", 0)
        m.setattr(bulkwrite, "INLINE_SINGLE", False)
        every = build(tmp_path / "every", docs, monkeypatch, reuse=True)
    with monkeypatch.context() as m:
        m.setattr(bulkwrite, "use_term_pool", lambda writer: None)
        m.setattr(bulkwrite, "LengthCachingCodec", W3Codec)
        stock = build(tmp_path / "stock", docs, monkeypatch, reuse=True)
    assert postings(tmp_path / "ours") == postings(tmp_path / "stock")
    assert segment_bytes(tmp_path / "every") == segment_bytes(tmp_path / "stock")
    # short blocks are left uncompressed, lone postings inlined: the same postings, fewer bytes
    assert segment_bytes(tmp_path / "ours") != segment_bytes(tmp_path / "stock")
    assert searches(ours) == searches(stock) == searches(every)
    for index in (ours, every, stock):
        index.close()


def test_worker_processes_build_the_index_one_process_builds(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`rebuild(processes=2)`: each worker keeps one writer over the batches it takes in turn
    and makes one segment; the index holds the same documents, postings, statistics, field
    lengths and stored fields as one process builds (in another document order), and gives
    the same results."""
    docs = corpus_docs() + edge_docs()
    one = build(tmp_path / "one", docs, monkeypatch, reuse=True, batch_size=2)
    # each of the two workers holds batches of half the size asked for
    two = build(tmp_path / "two", docs, monkeypatch, reuse=True, batch_size=4, processes=2)
    assert documents_by_uid(tmp_path / "one") == documents_by_uid(tmp_path / "two")
    assert searches_by_score(one) == searches_by_score(two)
    assert two.doc_ids() == {d.id for d in docs}
    # one segment per process, whatever the number of batches
    assert segment_count(tmp_path / "one") == 1
    assert segment_count(tmp_path / "two") == 2
    # the generation holds exactly the segments' files: no worker left temporary files
    generation = next((tmp_path / "two").glob("gen-*"))
    assert not [p for p in generation.iterdir() if p.is_dir()]
    one.close()
    two.close()


def test_one_writer_for_the_rebuild_writes_what_a_writer_per_batch_writes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rebuild's single writer (one segment, postings spilled to many runs merged on the
    way) against the earlier layout: a Whoosh writer per batch of two publications, one
    segment each. Same postings, statistics, lengths, stored fields and results."""
    from whoosh import index as windex

    from index import bulkwrite, engine, storage

    docs = corpus_docs() + edge_docs()
    monkeypatch.setattr(engine, "REBUILD_LIMIT_MB", 0.25)
    monkeypatch.setattr(bulkwrite, "MAX_RUNS", 2)
    levels = []
    real_save = bulkwrite.TermPool.save

    def recording_save(pool: bulkwrite.TermPool) -> None:
        real_save(pool)
        levels.append(max(level for _, level in pool.runs))

    monkeypatch.setattr(bulkwrite.TermPool, "save", recording_save)
    ours = build(tmp_path / "ours", docs, monkeypatch, reuse=True, batch_size=2, last_applied=7)
    assert max(levels) >= 2  # runs were merged into larger runs, and those again, before the commit
    assert segment_count(tmp_path / "ours") == 1

    # the earlier rebuild: a writer per batch, each committed as a segment of its own
    batched = SearchIndex(tmp_path / "batched")
    ix = windex.open_dir(str(batched._layout.path(batched._layout.current_name())))
    for k in range(0, len(docs), 2):
        with storage.writer(ix, 5.0) as w:
            w.merge = False
            SearchIndex._add_docs(w, docs[k:k + 2], fresh=True)
            if k + 2 >= len(docs):
                SearchIndex._set_meta(w, 7)
    ix.close()
    assert segment_count(tmp_path / "batched") > 2
    assert documents_by_uid(tmp_path / "ours") == documents_by_uid(tmp_path / "batched")
    assert postings(tmp_path / "ours").keys() == postings(tmp_path / "batched").keys()
    assert searches_by_score(ours) == searches_by_score(batched)
    assert ours.last_applied() == batched.last_applied() == 7
    ours.close()
    batched.close()


@pytest.mark.parametrize("docnum,weight,value,length", [
    (5, 1.0, b"\x01\x02", 12), (0, 2.5, b"xyz", None), (70_000, 1.3, b"a" * 50, 300),
    (3, 0.7, b"q", 0)])
def test_an_inlined_term_info_is_the_one_whoosh_makes(docnum: int, weight: float, value: bytes,
                                                      length: int | None) -> None:
    """`inlined_info` writes the bytes Whoosh's term info gives a one-posting block inlined."""
    from array import array

    from whoosh.codec.whoosh3 import W3TermInfo

    from index.bulkwrite import _BlockStats, inlined_info

    info = W3TermInfo()
    weights = array("f", (weight,))
    info.add_block(_BlockStats([docnum], weights, length or None, length or 0, max(0, weight)))
    info.set_inlined((docnum,), tuple(weights), (value,))
    assert inlined_info(docnum, weight, value, length) == info.to_bytes()
    back = W3TermInfo.from_bytes(info.to_bytes())
    assert back.inlined_postings() == ((docnum,), (weights[0],), (value,))
