"""Facet counts from the per-segment arrays: the same as counting the matches one by one."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index import PublicationDoc, SearchIndex, SearchRequest


def _doc(i: int, **kw) -> PublicationDoc:  # type: ignore[no-untyped-def]
    base = dict(id=i, slug=f"p-{i}", title=f"Water report {i}", abstract="Rivers and water quality.",
                type="Report", year=2000 + i % 3, authors=(f"Author {i % 2}",))
    base.update(kw)
    return PublicationDoc(**base)  # type: ignore[arg-type]


def test_counts_over_segments_and_replacements(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "ix")
    docs = [_doc(i) for i in range(1, 7)]
    ix.add_or_replace(docs[:3])  # two segments, then replacements that delete old copies
    ix.add_or_replace(docs[3:])
    ix.add_or_replace([_doc(2, type="Briefing", topics=("Rivers", "Rivers", "Floods")),
                       _doc(5, year=None, series="Notes", organisations=("Water Board",))])
    res = ix.search(SearchRequest("water"))
    assert res.total == 6
    f = res.facets
    assert f["type"] == [("Report", 5), ("Briefing", 1)]
    assert f["year"] == [("2002", 1), ("2001", 2), ("2000", 2)]  # newest first; one has none
    assert f["author"] == [("Author 0", 3), ("Author 1", 3)]
    assert f["topic"] == [("Floods", 1), ("Rivers", 1)]  # a value given twice is one label
    assert f["series"] == [("Notes", 1)] and f["organisation"] == [("Water Board", 1)]
    filtered = ix.search(SearchRequest("water", filters=(("type", "Briefing"),)))
    assert filtered.total == 1 and filtered.facets["type"] == [("Briefing", 1)]
    ix.close()


def test_table_counts_a_mask_or_document_numbers(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "ix")
    ix.add_or_replace([_doc(i, topics=(f"T{i % 5}",)) for i in range(1, 40)])

    def count(s):  # type: ignore[no-untyped-def]
        table = ix._facets.table(s)
        some = sorted(ix._allowed(s, SearchRequest("")))[::2]  # every other publication
        mask = np.zeros(s.doc_count_all() + 5, dtype=bool)  # longer than the index: fine
        mask[some] = True
        return table.count(some, 3), table.count(mask, 3), table.count([], 3), len(some)

    by_list, by_mask, none, n = ix._read(count)
    assert by_list == by_mask
    assert sum(c for _v, c in by_list["type"]) == n == 20
    assert by_list["topic"] == [("T0", 4), ("T1", 4), ("T2", 4)]  # ties by label, limit 3
    assert by_list["author"] == [("Author 1", 20)]  # the odd ids
    assert all(v == [] for v in none.values())
    ix.close()
