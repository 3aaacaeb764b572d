"""The catalogue: records, slugs and their history, status changes, migrations."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from publications.catalogue import Catalogue, describe
from publications.errors import InvalidRecord, NotFound
from publications.fields import build_record
from publications.models import AuditEvent, JournalEntry

# Runs on SQLite and on PostgreSQL (see tests/conftest.py).
pytestmark = pytest.mark.databases


def _add(cat: Catalogue, **fields):  # type: ignore[no-untyped-def]
    data = {"title": "Libraries and volunteers", "type": "report", "date": "2021-03"} | fields
    return cat.add(build_record(data), status=fields.pop("status", "draft"))


def test_schema_is_made_by_migrations(catalogue: Catalogue) -> None:
    tables = set(inspect(catalogue.engine).get_table_names())
    assert {"publications", "files", "page_texts", "index_journal", "alembic_version"} <= tables


def test_full_record_round_trips(catalogue: Catalogue) -> None:
    stored = catalogue.add(
        build_record(
            {
                "title": "Social value in local procurement",
                "subtitle": "What councils buy",
                "authors": [{"name": "Ada Smith", "affiliation": "Hub"}, "Ben Jones"],
                "organisations": [
                    {"name": "Ashdown Council", "role": "commissioned by"},
                    {"name": "Policy Hub", "role": "publisher"},
                ],
                "date": "2020-11-04",
                "type": "working paper",
                "series": "Working Papers",
                "series_number": "7",
                "topics": ["Procurement", "Social value"],
                "keywords": ["contracts"],
                "abstract": "First paragraph.\n\nSecond paragraph.",
                "language": "en",
                "licence": "CC-BY-4.0",
                "doi": "https://doi.org/10.5555/x.1",
                "isbn": "978-0-00-000000-0",
                "external_link": "https://example.org/x",
            }
        ),
        provenance={"title": "staff"},
    )
    with catalogue.reading() as s:
        data = describe(catalogue.get(s, stored.id))
    assert data["authors"] == [
        {"name": "Ada Smith", "affiliation": "Hub"},
        {"name": "Ben Jones", "affiliation": ""},
    ]
    assert {"name": "Ashdown Council", "role": "commissioned by"} in data["organisations"]
    assert data["date"] == "2020-11-04" and data["date_precision"] == "day"
    assert data["doi"] == "10.5555/x.1"
    assert data["topics"] == ["Procurement", "Social value"]
    assert data["abstract"] == "First paragraph.\n\nSecond paragraph."
    assert data["status"] == "draft"
    assert data["provenance"] == {"title": "staff"}


def test_date_precision(catalogue: Catalogue) -> None:
    a = _add(catalogue, title="A", date="2019")
    b = _add(catalogue, title="B", date="2019-05")
    with catalogue.reading() as s:
        assert catalogue.get(s, a.id).date_precision == "year"
        assert catalogue.get(s, b.id).date_precision == "month"


@pytest.mark.parametrize(
    "bad",
    [{"date": "March 2021"}, {"date": "2021-13"}, {"date": "2021-02-30"}, {"type": "poem"},
     {"organisations": [{"name": "X", "role": "owner"}]}],
)
def test_bad_fields_are_refused_with_a_reason(bad: dict) -> None:
    with pytest.raises(InvalidRecord):
        build_record({"title": "T", **bad})


def test_slugs_are_unique_and_old_slugs_still_resolve(catalogue: Catalogue) -> None:
    first = _add(catalogue, status="published")
    second = _add(catalogue)
    assert first.slug == "libraries-and-volunteers"
    assert second.slug == "libraries-and-volunteers-2"
    catalogue.update(first.id, {"title": "Libraries, volunteers and closures"})
    with catalogue.reading() as s:
        pub = catalogue.get(s, "libraries-and-volunteers")
        assert pub.id == first.id
        assert pub.slug == "libraries-volunteers-and-closures"


def test_numeric_titles_never_give_numeric_slugs(catalogue: Catalogue) -> None:
    stored = _add(catalogue, title="2020")
    assert not stored.slug.isdigit()


def test_status_changes_are_journalled_and_audited(catalogue: Catalogue) -> None:
    stored = _add(catalogue)
    catalogue.set_status(stored.slug, "published")
    with pytest.raises(InvalidRecord):
        catalogue.set_status(stored.slug, "withdrawn")
    catalogue.set_status(stored.slug, "withdrawn", reason="superseded by the 2022 edition")
    with catalogue.reading() as s:
        pub = catalogue.get(s, stored.id)
        assert pub.status == "withdrawn"
        assert pub.withdrawn_reason == "superseded by the 2022 edition"
        journal = s.query(JournalEntry).filter_by(publication_id=stored.id).count()
        actions = [e.action for e in s.query(AuditEvent).order_by(AuditEvent.id)]
    assert journal == 3
    assert actions == ["create", "publish", "withdraw"]


def test_unknown_reference_is_not_found(catalogue: Catalogue) -> None:
    with catalogue.reading() as s, pytest.raises(NotFound):
        catalogue.get(s, "nothing-here")


def test_catalogue_reopens_without_migrating_again(settings) -> None:  # type: ignore[no-untyped-def]
    Catalogue(settings).close()
    cat = Catalogue(settings)
    _add(cat)
    cat.close()


def test_the_head_revision_is_the_newest_migration() -> None:
    """`publications.db.HEAD_REVISION` lets a command skip Alembic when the catalogue is
    current; it must name the newest migration, or the catalogue would not be upgraded."""
    from alembic.script import ScriptDirectory

    from publications import db

    assert ScriptDirectory(str(db.MIGRATIONS)).get_current_head() == db.HEAD_REVISION


def test_a_new_catalogue_is_brought_to_the_head_revision(catalogue: Catalogue) -> None:
    from publications import db

    with catalogue.engine.connect() as connection:
        assert db.current_revision(connection) == db.HEAD_REVISION
