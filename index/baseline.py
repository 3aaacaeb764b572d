"""Plain Whoosh with default settings, kept only as the yardstick benchmarks compare against.

It lives here because `index/` is the only package that may import Whoosh.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path


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


def build_with_whoosh_defaults(
    docs: Iterable[tuple[int, str, str]], directory: Path, limitmb: int = 128
) -> int:
    """Index (id, title, text) documents into a new index in `directory` with stock Whoosh:
    one writer (one process), the stemming analyzer on title and text, one commit.

    The yardstick for rebuild speed. Returns the number of documents written.
    """
    from whoosh import fields, index
    from whoosh.analysis import StemmingAnalyzer

    schema = fields.Schema(
        id=fields.NUMERIC(stored=True, unique=True),
        title=fields.TEXT(analyzer=StemmingAnalyzer(), stored=True),
        text=fields.TEXT(analyzer=StemmingAnalyzer()),
    )
    directory.mkdir(parents=True, exist_ok=True)
    ix = index.create_in(str(directory), schema)
    n = 0
    try:
        writer = ix.writer(limitmb=limitmb)
        for doc_id, title, text in docs:
            writer.add_document(id=doc_id, title=title, text=text)
            n += 1
        writer.commit()
    finally:
        ix.close()
    return n


class BareSearch:
    """A bare Whoosh search of a portal index: Whoosh's query parser (OR of the words over
    title and body) and its default BM25F, top hits with their stored fields; no facets,
    snippets, pages or feedback. The yardstick for the full query path's speed."""

    def __init__(self, directory: Path) -> None:
        from whoosh import index
        from whoosh.qparser import MultifieldParser, OrGroup

        from .storage import Layout

        layout = Layout(Path(directory))
        name = layout.current_name()
        if name is None:
            raise FileNotFoundError(f"no index in {directory}")
        self._ix = index.open_dir(str(layout.path(name)))
        self._searcher = self._ix.searcher()
        self._parser = MultifieldParser(["title", "body"], self._ix.schema, group=OrGroup)

    def search(self, text: str, limit: int = 10) -> list[dict]:
        """Stored fields of the best `limit` documents for `text`."""
        results = self._searcher.search(self._parser.parse(text), limit=limit)
        return [hit.fields() for hit in results]

    def close(self) -> None:
        self._searcher.close()
        self._ix.close()

    def __enter__(self) -> BareSearch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
