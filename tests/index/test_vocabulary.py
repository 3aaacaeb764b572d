"""Vocabulary of the field: synonyms and acronyms, British/American spellings, other languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import PublicationDoc, SearchIndex, SearchRequest
from index.vocabulary import build, load

GP_REPORT = PublicationDoc(
    10, "access-to-doctors", "Waiting to see a doctor",
    abstract="Rural patients wait longer for an appointment with their general practitioner.")
FE_REPORT = PublicationDoc(
    11, "colleges", "Colleges after the pandemic",
    abstract="Further education colleges lost learners aged 16 to 18.")
ORG_REPORT = PublicationDoc(
    12, "charities", "How small charities organise their volunteers",
    abstract="The organisation of volunteering in neighbourhood centres and their programmes.")
SEND_REPORT = PublicationDoc(
    13, "send-support", "SEND support in mainstream schools",
    abstract="Pupils with SEND wait for assessments.")
OTHER = PublicationDoc(14, "parks", "Parks funding", abstract="Council budgets for parks fell.")


def ids(ix: SearchIndex, q: str) -> list[int]:
    return [h.id for h in ix.search(SearchRequest(q)).hits]


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture()
def vix(home: Path) -> SearchIndex:
    index = SearchIndex(home / "index", synonyms_file=home / "synonyms.txt")
    index.add_or_replace([GP_REPORT, FE_REPORT, ORG_REPORT, SEND_REPORT, OTHER])
    yield index
    index.close()


def test_acronym_finds_report_written_in_full(vix: SearchIndex) -> None:
    assert ids(vix, "GP waiting times")[0] == 10
    assert ids(vix, "gp") == [10]
    assert ids(vix, "FE colleges")[0] == 11
    # and the other way round: the phrase finds the acronym
    assert ids(vix, "special educational needs and disabilities")[0] == 13


def test_synonym_words_are_marked_in_snippets(vix: SearchIndex) -> None:
    hit = vix.search(SearchRequest("GP")).hits[0]
    assert "<mark>general</mark> <mark>practitioner</mark>" in hit.snippet


def test_acronym_inside_an_and_query(vix: SearchIndex) -> None:
    assert ids(vix, "GP AND rural") == [10]
    assert ids(vix, "GP AND parks") == []


def test_staff_file_extends_and_overrides_the_shipped_list(vix: SearchIndex, home: Path) -> None:
    assert ids(vix, "council spending") == [14]
    assert ids(vix, "municipal") == []
    (home / "synonyms.txt").write_text(
        "# our own words\nmunicipal = council\n-GP\n", encoding="utf-8")
    # no reindex: the next search uses the new list
    assert ids(vix, "municipal") == [14]
    assert ids(vix, "GP") == []
    (home / "synonyms.txt").unlink()
    assert ids(vix, "GP") == [10]


def test_bad_lines_are_reported_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "synonyms.txt"
    path.write_text("lonely\nthe = it\nok one = ok two\n", encoding="utf-8")
    vocab = load(path)
    reasons = [str(p) for p in vocab.problems]
    assert any(":1:" in r and "two or more" in r for r in reasons)
    assert any(":2:" in r for r in reasons)
    assert any(m.text == "ok two" for g in vocab.groups for m in g)


def test_longest_phrase_wins() -> None:
    vocab = build("GP = general practitioner\n", None)
    assert [m.text for m in vocab.alternatives(("gp",))] == ["general practitioner"]
    assert vocab.alternatives(("general",)) == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("organization of volunteers", 12),
        ("organize volunteering", 12),
        ("neighborhood centers", 12),
        ("community programs", 12),
    ],
)
def test_american_spelling_finds_british_report(vix: SearchIndex, query: str, expected: int) -> None:
    assert ids(vix, query)[0] == expected


def test_british_spelling_finds_american_report(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "ix")
    ix.add_or_replace([
        PublicationDoc(1, "a", "Pediatric care and behavior programs",
                       abstract="Centers that analyze color vision in children."),
        PublicationDoc(2, "b", "Road maintenance", abstract="Potholes."),
    ])
    for q in ("paediatric", "behaviour", "programmes", "centres", "analysed", "colour"):
        assert ids(ix, q) == [1], q
    # words that only look like -ise/-ize variants are not conflated
    ix.add_or_replace([PublicationDoc(3, "c", "Exercise and size", abstract="Exercise classes.")])
    assert ids(ix, "exercize") == []
    ix.close()


GERMAN = PublicationDoc(
    20, "wohnen", "Wohnungen und Organisationen in der Stadt",
    abstract="Der Bericht untersucht die Wohnung als Aufgabe der Gemeinden und ihrer Organisationen.",
    language="de",
    pages=("Die Wohnungen der Gemeinde.",),
)
ENGLISH_ORGANS = PublicationDoc(
    21, "organs", "Organ donation", abstract="Waiting lists for organ transplants.")


def test_german_report_is_stemmed_as_german_not_english(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "ix")
    ix.add_or_replace([GERMAN, ENGLISH_ORGANS])
    # English Porter2 would reduce "Organisationen" and "organ" to one stem; German does not
    assert ids(ix, "organ") == [21]
    # the German stemmer finds other inflections of a German word
    assert ids(ix, "Wohnung") == [20]
    assert ids(ix, "Berichten") == [20]
    assert ids(ix, "Gemeinde") == [20]
    # phrases in German text follow the German stemmer too
    assert ids(ix, '"die wohnungen"') == [20]
    # best pages are found in German text, and the inflection is marked in snippets
    hit = ix.search(SearchRequest("Wohnung"), page_text=lambda pid, n: GERMAN.pages[n - 1]).hits[0]
    assert [p.page for p in hit.pages] == [1]
    assert "<mark>Wohnungen</mark>" in hit.pages[0].snippet
    ix.close()


@pytest.mark.slow
def test_portal_synonyms_commands_and_search(tmp_path: Path) -> None:
    from tests.cli import portal

    home = tmp_path / "home"
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        '{"title": "Councils and their reserves", "abstract": "How each local authority spends.", '
        '"type": "report"}\n', encoding="utf-8")
    assert portal(home, "import", str(manifest), "--publish").code == 0
    shown = portal(home, "synonyms", "show", "--json")
    assert {"members": ["LA", "local authority"], "source": "shipped"} in shown.lines
    assert portal(home, "search", "LA reserves", "--json").lines[0]["total"] == 1
    # a bad line is refused with a reason and nothing is written
    bad = portal(home, "synonyms", "add", "lonely")
    assert bad.code != 0 and "two or more" in bad.stderr
    assert not (home / "synonyms.txt").exists()
    assert portal(home, "search", "stockpiles", "--json").lines[0]["total"] == 0
    assert portal(home, "synonyms", "add", "stockpiles = reserves").code == 0
    assert portal(home, "search", "stockpiles", "--json").lines[0]["total"] == 1
    assert portal(home, "synonyms", "check").code == 0
    (home / "synonyms.txt").write_text("only-one\n", encoding="utf-8")
    check = portal(home, "synonyms", "check")
    assert check.code == 1 and "synonyms.txt:1" in check.stdout


def test_a_title_in_another_language_is_normalised_as_english_titles(tmp_path: Path) -> None:
    # Non-English text is indexed in fields of its own. Their length normalisation counts
    # the English titles too: a two-word Latin title is short, not many times the average
    # of the few titles that are not English.
    lorem = " ".join(["lorem ipsum dolor sit amet consectetur adipiscing elit"] * 40)
    ix = SearchIndex(tmp_path / "ix")
    ix.add_or_replace([
        PublicationDoc(30, "lorem", "Column layout", abstract=lorem, body=lorem, language="la"),
        PublicationDoc(31, "accounts", "Annual accounts of the borough council for the year",
                       abstract="The statement of accounts, with a column of figures for each "
                                "service.",
                       body="Spending and income of each service against the budget. " * 3),
        *[PublicationDoc(32 + n, f"filler-{n}", title, abstract="Spending on local services.")
          for n, title in enumerate(["Parks and open spaces in the city",
                                     "Road maintenance and the pothole backlog",
                                     "Library opening hours after the budget cuts",
                                     "School transport for pupils in rural areas"])],
    ])
    assert ids(ix, "column layout")[:1] == [30]
    assert ids(ix, "column")[:1] == [30]
    ix.close()


def test_the_fields_own_words_find_each_other(tmp_path: Path) -> None:
    # a reader's "charities" finds a report that says "voluntary organisations", and the
    # American "caregivers" one written for "carers"
    ix = SearchIndex(tmp_path / "ix")
    ix.add_or_replace([
        PublicationDoc(40, "partnerships", "The state of local partnerships",
                       abstract="Voluntary organisations are represented on partnership boards "
                                "but rarely influential."),
        PublicationDoc(41, "carers", "Unpaid carers in the pandemic",
                       abstract="Carers gave more hours of care while services were closed."),
        OTHER,
    ])
    assert ids(ix, "charities") == [40]
    assert ids(ix, "caregivers during covid")[:1] == [41]
    ix.close()
