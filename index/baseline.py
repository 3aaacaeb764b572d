"""Plain Whoosh with default settings, kept only as the yardstick benchmarks compare against.

It lives here because `index/` is the only package that may import Whoosh.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence


def rank_with_whoosh_defaults(
    docs: Sequence[tuple[int, str, str]], queries: Sequence[str], depth: int = 1000
) -> dict[int, list[int]]:
    """Rank (id, title, text) documents for each query with stock Whoosh: BM25F defaults,
    the stemming analyzer, the OR of the query's words over title and text.

    Returns {query number from 1: [document ids, best first]}.
    """
    from whoosh import fields, index
    from whoosh.analysis import StemmingAnalyzer
    from whoosh.qparser import MultifieldParser, OrGroup

    schema = fields.Schema(
        id=fields.NUMERIC(stored=True),
        title=fields.TEXT(analyzer=StemmingAnalyzer()),
        text=fields.TEXT(analyzer=StemmingAnalyzer()),
    )
    with tempfile.TemporaryDirectory() as tmp:
        ix = index.create_in(tmp, schema)
        writer = ix.writer()
        for doc_id, title, text in docs:
            writer.add_document(id=doc_id, title=title, text=text)
        writer.commit()
        parser = MultifieldParser(["title", "text"], schema, group=OrGroup)
        runs: dict[int, list[int]] = {}
        with ix.searcher() as searcher:
            for n, q in enumerate(queries, start=1):
                runs[n] = [hit["id"] for hit in searcher.search(parser.parse(q), limit=depth)]
        ix.close()
    return runs
