"""Tests for metadata proposals: synthetic extractions, signal helpers and the shared corpus."""

from __future__ import annotations

import csv
import logging
import re
import warnings
from pathlib import Path

import pytest

from publications.propose import (
    MAX_ABSTRACT_CHARS,
    MAX_TITLE_CHARS,
    is_placeholder_title,
    parse_date,
    propose_metadata,
)
from publications.records import Extraction, TextRun
from publications.signals import clean_info, clean_text, first_page_runs, merge_pieces, read_xmp

logging.getLogger("pypdf").setLevel(logging.ERROR)

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
TRUTH = Path(__file__).resolve().parent / "data" / "metadata_truth.tsv"

BODY = (
    "This report looks at how local councils fund adult social care and what changed after "
    "the reforms. It draws on interviews with finance officers and published accounts. "
) * 6


def _extraction(runs=(), pages=(BODY,), info=None, xmp=None) -> Extraction:
    return Extraction(
        page_count=len(pages),
        pages=tuple(pages),
        info=dict(info or {}),
        xmp=dict(xmp or {}),
        first_page_runs=tuple(runs),
    )


def _report_runs(title_lines=("Paying for Care:", "Council Budgets after the Reforms")):
    runs = [TextRun("Policy Hub Working Paper 12", 8.0, 780.0)]
    y = 700.0
    for line in title_lines:
        runs.append(TextRun(line, 24.0, y))
        y -= 28.0
    runs.append(TextRun("By Jane Smith and Ahmed Khan", 12.0, y - 20))
    runs.append(TextRun("March 2021", 11.0, y - 40))
    for i in range(12):
        runs.append(TextRun(BODY[i * 60:(i + 1) * 60], 10.0, 400.0 - i * 12))
    runs.append(TextRun("1", 9.0, 40.0))
    return runs


def _page_text(runs) -> str:
    return "\n".join(r.text for r in runs)


# ------------------------------------------------------------------------------ placeholders


@pytest.mark.parametrize(
    "title",
    [
        "Microsoft Word - USJBSI Draft EA updated based on comments.doc",
        "Microsoft PowerPoint - slides",
        "Untitled",
        "untitled document",
        "Untitled-3",
        "report_final_v2.docx",
        "Sec1bcREV.PDF",
        "thesis.tex",
        "brochure.indd",
        "05 State and MSA charts.xls",
        "Slide 1",
        "PowerPoint Presentation",
        "Title",
        "Document1",
        "Document",
        "No Job Name",
        "6489122611071476 1..10",
        "123456",
        "NFY5f7Ft2DWMkxLhXwxvFf7eWR2KeK3vEDcd",
        "Yannis_DOE2000",
        "ab",
        "PUFF-III: A Multigroup ... System",
        "",
    ],
)
def test_placeholder_titles_are_recognised(title):
    assert is_placeholder_title(title)


def test_filename_stem_is_a_placeholder():
    assert is_placeholder_title("annual-review-2020", filename="Annual_Review_2020.pdf")
    assert is_placeholder_title("habibi", filename="habibi.pdf")
    assert not is_placeholder_title("Paying for Care", filename="habibi.pdf")


@pytest.mark.parametrize("placeholder", ["Microsoft Word - final.doc", "Untitled", "Slide 1",
                                         "PowerPoint Presentation", "Document1", "report.pdf"])
def test_placeholder_metadata_title_is_never_proposed(placeholder):
    runs = _report_runs()
    p = propose_metadata(_extraction(runs, pages=(_page_text(runs),),
                                     info={"Title": placeholder}, xmp={"title": placeholder}))
    assert p.value("title") == "Paying for Care: Council Budgets after the Reforms"
    assert p.fields["title"].source == "first-page"


def test_placeholder_only_and_no_text_leaves_title_absent():
    p = propose_metadata(_extraction(pages=("",), info={"Title": "Microsoft Word - a.doc"}),
                         filename="a.pdf")
    assert "title" not in p.fields


def test_filename_is_not_used_as_a_fallback_title():
    p = propose_metadata(_extraction(pages=("",)), filename="Council_Budgets_2021.pdf")
    assert p.value("title") is None


def test_first_substantial_line_when_no_title_anywhere():
    text = "12\n\nThe cost of adult social care in small councils\nMore body text here."
    p = propose_metadata(_extraction(pages=(text,), info={"Title": "Untitled"}))
    assert p.value("title") == "The cost of adult social care in small councils"
    assert p.fields["title"].source == "text"


# ------------------------------------------------------------------------------ trust order


def test_staff_values_win():
    runs = _report_runs()
    p = propose_metadata(
        _extraction(runs, pages=(_page_text(runs),), info={"Title": "Paying for Care"}),
        supplied={"title": "  Staff   title ", "authors": "A. One; B. Two", "date": "4 May 2020",
                  "language": "cy"},
    )
    assert p.value("title") == "Staff title"
    assert p.value("authors") == ["A. One", "B. Two"]
    assert p.value("date") == "2020-05-04"
    assert p.value("language") == "cy"
    assert {p.fields[k].source for k in ("title", "authors", "date", "language")} == {"staff"}


def test_plausible_document_metadata_is_used_when_page_agrees():
    runs = _report_runs()
    meta_title = "Paying for care: council budgets after the reforms"
    p = propose_metadata(_extraction(runs, pages=(_page_text(runs),),
                                     info={"Title": meta_title}))
    assert p.value("title") == meta_title
    assert p.fields["title"].source == "document-metadata"


def test_xmp_title_used_when_page_has_no_title():
    text = "Some plain text in one size only, nothing stands out here at all."
    runs = [TextRun(text, 10.0, 700.0)]
    p = propose_metadata(_extraction(runs, pages=(text,), xmp={"title": "Housing Need in 2030"}))
    assert p.value("title") == "Housing Need in 2030"
    assert p.fields["title"].source == "xmp"


def test_largest_type_title_beats_contradicting_metadata():
    runs = _report_runs()
    p = propose_metadata(_extraction(runs, pages=(_page_text(runs),),
                                     info={"Title": "Quarterly staff bulletin template"}))
    assert p.value("title") == "Paying for Care: Council Budgets after the Reforms"


def test_title_skips_running_header_page_number_and_tiny_lines():
    runs = [
        TextRun("Journal of Local Policy (2020) 14, 1-20 doi:10.1000/xyz", 7.0, 780.0),
        TextRun("R E S E A R C H A R T I C L E Open Access", 13.0, 760.0),
        TextRun("Rural Bus Services", 22.0, 700.0),
        TextRun("1", 14.0, 703.0),  # footnote mark in larger type
        TextRun("and Their Decline", 22.0, 674.0),
        TextRun("Mary Jones1, Peter O'Neill2", 11.0, 640.0),
    ] + [TextRun(BODY[i * 60:(i + 1) * 60], 10.0, 500.0 - i * 12) for i in range(10)] + [
        TextRun("Page 1 of 20", 30.0, 30.0),
    ]
    p = propose_metadata(_extraction(runs, pages=(_page_text(runs),)))
    assert p.value("title") == "Rural Bus Services and Their Decline"
    assert p.value("authors") == ["Mary Jones", "Peter O'Neill"]


def test_all_capitals_title_is_title_cased_and_connector_joined():
    runs = [TextRun("HANDBOOK", 28.0, 680.0), TextRun("FOR", 24.0, 633.0),
            TextRun("CODING GUIDELINES", 28.0, 590.0), TextRun("Version 6.0", 16.0, 568.0)]
    runs += [TextRun(BODY[i * 60:(i + 1) * 60], 12.0, 300.0 - i * 14) for i in range(8)]
    p = propose_metadata(_extraction(runs, pages=(_page_text(runs),)))
    assert p.value("title") == "Handbook for Coding Guidelines"


def test_title_is_bounded_and_whitespace_normalised():
    huge = "Housing   and\tcare " + "word " * 25_000  # 100,000+ characters
    ex = _extraction(pages=(BODY,), info={"Title": clean_text(huge)}, xmp={"title": huge})
    p = propose_metadata(ex)
    title = p.value("title")
    assert title is None or (len(title) <= MAX_TITLE_CHARS and "  " not in title)
    p2 = propose_metadata(ex, supplied={"title": huge})
    assert len(p2.value("title")) <= MAX_TITLE_CHARS
    assert p2.value("title").startswith("Housing and care word")


def test_long_title_from_page_is_bounded():
    lines = [f"Segment {i} of a very long heading that goes on" for i in range(30)]
    runs = [TextRun(t, 20.0, 700.0 - i * 22) for i, t in enumerate(lines)]
    runs += [TextRun(BODY[i * 60:(i + 1) * 60], 10.0, 40.0 + i) for i in range(10)]
    title = propose_metadata(_extraction(runs, pages=(_page_text(runs),))).value("title")
    assert title is None or len(title) <= MAX_TITLE_CHARS


# ------------------------------------------------------------------------------ authors


def test_by_line_authors():
    text = "Fixing the Roads\nby Anna Lee, Tom Brown & Sara Ng\n" + BODY
    p = propose_metadata(_extraction(pages=(text,)))
    assert p.value("authors") == ["Anna Lee", "Tom Brown", "Sara Ng"]


def test_author_usernames_from_metadata_are_not_proposed():
    p = propose_metadata(_extraction(pages=(BODY,), info={"Author": "jenki300"}))
    assert "authors" not in p.fields
    p = propose_metadata(_extraction(pages=(BODY,), info={"Author": "Jane Smith; Ahmed Khan"}))
    assert p.value("authors") == ["Jane Smith", "Ahmed Khan"]
    assert p.fields["authors"].source == "document-metadata"


# ------------------------------------------------------------------------------ dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("March 2021", "2021-03"),
        ("2021-03-04", "2021-03-04"),
        ("12 May 2019", "2019-05-12"),
        ("May 12, 2019", "2019-05-12"),
        ("Thursday, August 6, 2020", "2020-08-06"),
        ("31. Dezember 2016", "2016-12-31"),
        ("7-10 April 2014", "2014-04"),
        ("June 20-24, 2005", "2005-06"),
        ("November - 2015", "2015-11"),
        ("3/17/04", "2004-03-17"),
        ("17/03/2004", "2004-03-17"),
        ("04/05/2019", "2019"),
        ("D:20140103205321+08'00'", "2014-01-03"),
        ("2019", "2019"),
        ("nothing here", None),
        ("31 February 2020", "2020"),  # impossible day: only the year is trusted
    ],
)
def test_parse_date(text, expected):
    assert parse_date(text) == expected


def test_printed_date_preferred_and_received_dates_skipped():
    text = ("Healthy Streets\nReceived 2 June 2019; accepted 3 January 2020\n"
            "Published 6 January 2020\n" + BODY)
    p = propose_metadata(_extraction(pages=(text,), info={"CreationDate": "D:20200215120000"}))
    assert p.value("date") == "2020-01-06"
    assert p.fields["date"].source == "first-page"


def test_creation_date_used_when_nothing_printed():
    p = propose_metadata(_extraction(pages=(BODY,), info={"CreationDate": "D:20200215120000Z"}))
    assert p.value("date") == "2020-02-15"
    assert p.fields["date"].source == "document-metadata"


# ------------------------------------------------------------------------------ abstract


@pytest.mark.parametrize("heading", ["Abstract", "ABSTRACT", "Executive summary", "Summary",
                                     "SUMMARY:"])
def test_abstract_detected(heading):
    text = f"Paying for Care\nJane Smith\n{heading}\n{BODY}\n1. Introduction\nMore text."
    p = propose_metadata(_extraction(pages=(text,)))
    abstract = p.value("abstract")
    assert abstract and abstract.startswith("This report looks at")
    assert "Introduction" not in abstract
    assert len(abstract) <= MAX_ABSTRACT_CHARS


def test_abstract_on_second_page_and_bounded():
    page2 = "Executive Summary\n" + ("Long findings sentence about bus routes. " * 200)
    p = propose_metadata(_extraction(pages=("Cover\nBus Routes", page2)))
    abstract = p.value("abstract")
    assert len(abstract) <= MAX_ABSTRACT_CHARS
    # a long summary stops at the end of a sentence, never in the middle of one
    assert abstract.endswith("about bus routes.")


def test_long_abstract_without_sentence_ends_says_it_goes_on():
    page = "Summary\n" + " ".join(f"finding{i} and" for i in range(600))
    abstract = propose_metadata(_extraction(pages=("Cover\nRoutes", page))).value("abstract")
    assert len(abstract) <= MAX_ABSTRACT_CHARS
    assert abstract.endswith("\u2026") and not abstract.endswith(" \u2026")


def test_no_abstract_when_none():
    p = propose_metadata(_extraction(pages=("Abstract – Poster Session\n" + BODY,)))
    assert "abstract" not in p.fields


# ------------------------------------------------------------------------------ language


def test_language_detected_from_text():
    de = ("Die Stadtverwaltung hat im vergangenen Jahr neue Regeln für den öffentlichen "
          "Nahverkehr beschlossen, die von vielen Bürgern begrüßt wurden. ") * 3
    assert propose_metadata(_extraction(pages=(de,))).value("language") == "de"
    assert propose_metadata(_extraction(pages=(BODY,))).value("language") == "en"


def test_language_absent_for_no_text():
    assert "language" not in propose_metadata(_extraction(pages=("",))).fields


# ------------------------------------------------------------------------------ signals


def test_clean_text_bounds_and_strips_junk():
    assert clean_text("A\x00 title\x07\nhere") == "A title here"
    assert len(clean_text("x" * 100_000)) <= 2000
    assert clean_text("\x01\x02\x03\x04\x05\x06\x07\x08") == ""
    assert clean_text(b"\xfe\xff\x00H\x00i") == "Hi"
    assert clean_text(None) == ""


def test_merge_pieces_joins_same_line_and_splits_sizes():
    runs = merge_pieces([("Big ", 20.0, 700.0), ("Title", 20.0, 700.0), ("\n", 10.0, 700.0),
                         ("body", 10.0, 680.0)])
    assert [(r.text, r.size) for r in runs] == [("Big Title", 20.0), ("body", 10.0)]


class _Broken:
    """A reader / page whose every attribute access raises, like a hostile PDF."""

    def __getattr__(self, name):
        raise ValueError("broken object")


def test_signals_never_raise_on_broken_objects():
    assert clean_info(_Broken()) == {}
    assert read_xmp(_Broken()) == {}
    assert first_page_runs(_Broken()) == ()


def test_signals_on_a_generated_pdf(tmp_path):
    fpdf = pytest.importorskip("fpdf")
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.set_title("Microsoft Word - draft.doc")
    pdf.set_author("Jane Smith")
    pdf.set_font("helvetica", size=26)
    pdf.cell(text="Rural Bus Services")
    pdf.ln(14)
    pdf.set_font("helvetica", size=10)
    for _ in range(8):
        pdf.cell(text="Ordinary body text about timetables and fares in rural areas.")
        pdf.ln(6)
    path = tmp_path / "x.pdf"
    pdf.output(str(path))
    from pypdf import PdfReader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = PdfReader(path)
        runs = first_page_runs(reader.pages[0])
        info = clean_info(reader)
        text = reader.pages[0].extract_text()
    assert info["Author"] == "Jane Smith"
    big = max(runs, key=lambda r: r.size)
    assert big.text == "Rural Bus Services" and 25 <= big.size <= 27
    p = propose_metadata(_extraction(runs, pages=(text,), info=info), filename="x.pdf")
    assert p.value("title") == "Rural Bus Services"
    assert p.value("authors") == ["Jane Smith"]


# ------------------------------------------------------------------------------ corpus


def _corpus() -> Path:
    if not (CORPUS / "pdfs").is_dir():
        pytest.skip(f"third-party corpus not found at {CORPUS}; corpus tests skipped")
    return CORPUS


def _open(path: Path) -> Extraction | None:
    from pypdf import PdfReader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader = PdfReader(path, strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                return None
            n = len(reader.pages)
        except Exception:  # noqa: BLE001 - unreadable files are the ingest step's business
            return None
        pages = []
        for i in range(min(5, n)):
            try:
                pages.append(reader.pages[i].extract_text() or "")
            except Exception:  # noqa: BLE001
                pages.append("")
        runs = first_page_runs(reader.pages[0]) if n else ()
        return Extraction(page_count=n, pages=tuple(pages), info=clean_info(reader),
                          xmp=read_xmp(reader), first_page_runs=runs)


def _upload_name(name: str) -> str:
    return name.split("__", 1)[1] if "__" in name else name


def _loose(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold())).replace("_", " ")


def _full_title(p) -> str:
    t, s = p.value("title") or "", p.value("subtitle")
    return f"{t}: {s}" if t and s else t


@pytest.mark.corpus
def test_corpus_titles_tsv_agreement():
    corpus = _corpus()
    with (corpus / "titles.tsv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    agree = []
    for row in rows:
        ex = _open(corpus / "pdfs" / row["file"])
        assert ex is not None, row["file"]
        p = propose_metadata(ex, filename=_upload_name(row["file"]))
        agree.append(_loose(_full_title(p)) == _loose(row["title"]))
    # 247224: titles.tsv drops the printed place clause ", Fresno and Madera Counties,
    # California"; the other rows must match exactly ignoring case and punctuation
    assert sum(agree) >= len(rows) - 1, agree


@pytest.mark.corpus
def test_corpus_never_proposes_placeholder_titles():
    corpus = _corpus()
    bad = re.compile(r"(^microsoft\s+(word|powerpoint)|^untitled|^no job name$|^document\d*$|"
                     r"^slide\s*\d+$|^title$|\.(docx?|pdf|tex|indd|xlsx?|txt|exe)\b)", re.I)
    seen = 0
    for path in sorted((corpus / "pdfs").glob("*.pdf")):
        ex = _open(path)
        if ex is None:
            continue
        seen += 1
        name = _upload_name(path.name)
        p = propose_metadata(ex, filename=name)
        title = p.value("title")
        if title is None:
            continue
        assert not bad.search(title), (path.name, title)
        assert _loose(title) != _loose(Path(name).stem), (path.name, title)
        assert len(title) <= MAX_TITLE_CHARS
    assert seen >= 40


@pytest.mark.corpus
@pytest.mark.slow
def test_corpus_truth_title_rate():
    corpus = _corpus()
    from publications.propose import token_similarity

    with TRUTH.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert len(rows) >= 40
    near = 0
    for row in rows:
        ex = _open(corpus / "pdfs" / row["file"])
        assert ex is not None, row["file"]
        got = _full_title(propose_metadata(ex, filename=_upload_name(row["file"])))
        near += _loose(got) == _loose(row["title"]) or token_similarity(got, row["title"]) >= 0.9
    assert near / len(rows) >= 0.85


def test_a_byline_after_a_dash_in_the_title_field_goes_to_the_authors() -> None:
    page = ("Loneliness in Later Life\nMargaret Okoro, PhD\n" + BODY)
    ex = _extraction(pages=(page,), info={
        "Title": "Loneliness in Later Life - Margaret Okoro, PhD",
        "Author": "Northfield Council"})
    p = propose_metadata(ex)
    assert p.value("title") == "Loneliness in Later Life"
    assert p.value("authors") == ["Margaret Okoro"]
    # a dash before words that are not a person's name is part of the title
    ex = _extraction(info={"Title": "Adult Social Care Funding - Annual Review 2019"})
    assert propose_metadata(ex).value("title") == "Adult Social Care Funding - Annual Review 2019"
