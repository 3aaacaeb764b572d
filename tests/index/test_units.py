"""Parser, analysis and snippet units."""

from __future__ import annotations

from index.analysis import fold, query_tokens, stem
from index.highlight import snippet
from index.query import MUST, MUST_NOT, Fielded, Phrase, YearRange, parse, parse_year_value
from index.querybuild import HighlightTerms


def test_fold_and_stem() -> None:
    assert fold("Café") == "cafe"
    assert fold("council’s") == "council"
    assert fold("ﬁnance") == "finance"
    assert fold("U.K.") == "uk"
    assert stem("libraries") == stem("library")
    assert stem("2021") == "2021"
    assert [t.stop for t in query_tokens("what about housing")] == [True, True, False]


def test_parse_structures() -> None:
    root = parse('"library closures" AND volunteers NOT council').root
    assert root.clauses[0].occur == MUST and isinstance(root.clauses[0].node, Phrase)
    assert root.clauses[2].occur == MUST_NOT
    root = parse("year:[2015 TO 2020] title:housing").root
    assert root.clauses[0].node == Fielded("year", YearRange(2015, 2020))
    assert root.clauses[1].occur == MUST
    assert not parse("what is the policy on housing?").expert
    assert parse("doi:10.1/abc").root.clauses[0].node.text == "doi:10.1/abc"  # unknown field
    assert parse("").empty and parse(")))(((").empty


def test_parse_year_values() -> None:
    assert parse_year_value("2021") == YearRange(2021, 2021)
    assert parse_year_value("2020-2015") == YearRange(2015, 2020)
    assert parse_year_value("<2010") == YearRange(None, 2009)
    assert parse_year_value("99999") is None and parse_year_value("abc") is None


def test_snippet_window_and_escaping() -> None:
    terms = HighlightTerms(stems={stem("closure")}, folded={"closures"})
    text = "x " * 300 + "A <b>library</b> & closures. " + "y " * 300
    out = snippet(text, terms, max_chars=80)
    assert "<mark>closures</mark>" in out and "&lt;b&gt;" in out and "&amp;" in out
    assert out.startswith("\u2026") and out.endswith("\u2026")
    assert len(out) < 200
    assert snippet("", terms) == ""
    assert snippet("nothing here", terms, fallback=False) == ""
    assert snippet("nothing here", terms) == "nothing here"
