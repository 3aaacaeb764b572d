"""Indexing while a batch is ingested: files become searchable during the batch, and a
failing round of the index never costs a stored file."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from index import SearchIndex, SearchRequest
from publications.catalogue import Catalogue
from publications.indexer import Indexer
from publications.ingest import IndexingAlongside, Ingester, Job
from tests import pdfs


def test_files_are_searchable_before_the_batch_ends(catalogue: Catalogue, tmp_path: Path) -> None:
    index = SearchIndex(catalogue.settings.index_dir)
    indexer = Indexer(catalogue, index)
    first = pdfs.write(tmp_path / "a.pdf", pdfs.report_pdf("Allotments and community growing"))
    second = pdfs.write(tmp_path / "b.pdf", pdfs.report_pdf("Bus services in rural areas"))
    with Ingester(catalogue) as ingester, IndexingAlongside(indexer.apply_pending, interval=0.1):
        outcomes = ingester.run([Job(str(first), first)])
        # nobody applies the journal here: the background rounds do, while the batch goes on
        for _ in range(300):
            if index.search(SearchRequest(query="allotments", include_unpublished=True)).total:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the first file did not become searchable during the batch")
        outcomes += ingester.run([Job(str(second), second)])
    indexer.apply_pending()  # what the command does at the end
    assert [o.status for o in outcomes] == ["added", "added"]
    found = index.search(SearchRequest(query="bus rural", include_unpublished=True))
    assert found.total == 1
    index.close()


def test_a_failing_round_is_retried_and_never_stops_the_batch() -> None:
    calls: list[int] = []
    done = threading.Event()

    def apply() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk briefly unavailable")
        done.set()

    with IndexingAlongside(apply, interval=0.05) as alongside:
        assert done.wait(10)
    assert alongside.failures == 1 and len(calls) >= 2
