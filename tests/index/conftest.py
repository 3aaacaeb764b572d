"""Fixtures for index tests: a small collection with pages, drafts and a French publication."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import PublicationDoc, SearchIndex

LIB_PAGES = (
    "Contents. Introduction to local services in the county.",
    "Library closures hit rural areas hardest; volunteers now keep <some> branches & reading rooms open.",
    "Parks and leisure budgets were also reduced.",
    "Volunteers reported that library closures reduced access to the internet for older residents.",
)

DOCS = [
    PublicationDoc(
        id=1,
        slug="libraries-under-pressure",
        title="Public libraries under pressure",
        subtitle="Closures, volunteers and the future of the branch network",
        authors=("Jane Smith", "Ali Khan"),
        organisations=("County Council",),
        topics=("Libraries & culture", "Local government"),
        keywords=("library closures", "volunteering"),
        abstract="How councils closed libraries and came to rely on volunteers to keep branches open.",
        body="\n".join(LIB_PAGES),
        type="Report",
        year=2021,
        date="2021-03-04",
        series="Local Services",
        pages=LIB_PAGES,
    ),
    PublicationDoc(
        id=2,
        slug="green-spaces",
        title="Parks and green spaces after austerity",
        authors=("Bob Jones",),
        organisations=("Parks Trust",),
        topics=("Environment",),
        abstract="Funding for parks fell; friends groups stepped in.",
        type="Briefing",
        year=2019,
        date="2019-11",
        pages=("Parks funding fell by a third.", "Friends groups and volunteers maintain parks."),
    ),
    PublicationDoc(
        id=3,
        slug="housing-benefit",
        title="Housing benefit and rent arrears",
        authors=("Jane Smith",),
        organisations=("Housing Alliance", "County Council"),
        topics=("Housing", "Local government"),
        abstract="Rent arrears grew after housing benefit changes.",
        type="Working paper",
        year=2020,
        date="2020-06-01",
        series="Local Services",
        pages=("Rent arrears and housing benefit.",),
    ),
    PublicationDoc(
        id=4,
        slug="volunteer-libraries-draft",
        title="Volunteer-run libraries (draft)",
        abstract="A draft on volunteer libraries.",
        type="Report",
        year=2022,
        status="draft",
    ),
    PublicationDoc(
        id=5,
        slug="withdrawn-libraries",
        title="Libraries statistics (withdrawn)",
        abstract="Library statistics withdrawn after errors.",
        type="Report",
        year=2018,
        status="withdrawn",
    ),
    PublicationDoc(
        id=6,
        slug="bibliotheques",
        title="Les bibliothèques publiques et les bénévoles",
        abstract="Les bibliothèques publiques ferment; les bénévoles organisent les services.",
        type="Report",
        year=2020,
        language="fr",
        pages=("Les bibliothèques publiques ferment.", "Les bénévoles organisent."),
    ),
]

BY_ID = {d.id: d for d in DOCS}


def page_text(pub_id: int, page: int) -> str:
    return BY_ID[pub_id].pages[page - 1]


@pytest.fixture()
def ix(tmp_path: Path) -> SearchIndex:
    index = SearchIndex(tmp_path / "index")
    index.add_or_replace(DOCS)
    yield index
    index.close()
