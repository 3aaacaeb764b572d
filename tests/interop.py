"""A small published collection for the interoperability tests (exports, feeds, OAI, API)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from portal.app import create_app
from publications.fields import build_record
from publications.indexer import Indexer
from publications.ingest import Ingester, Job
from publications.settings import Settings
from tests import pdfs

REPORT_META = {
    "authors": [{"name": "Priya Shah", "affiliation": "Northfield Policy Hub"}, "Tom Reed"],
    "organisations": [{"name": "Northfield Policy Hub", "role": "publisher"},
                      {"name": "Lanton Council", "role": "commissioned by"}],
    "topics": ["Libraries and culture", "Volunteering"],
    "keywords": ["community libraries"],
    "series": "Hub Insight",
    "series_number": "7",
    "date": "2021-03",
    "doi": "10.5555/nph.2021.007",
    "licence": "CC-BY-4.0",
    "isbn": "978-1-4028-9462-6",
    "abstract": "How volunteer-run libraries in Lanton fared after the closures.",
}
# Record-only publications, one per export type that matters.
RECORDS = [
    {"title": "Commissioning for outcomes", "type": "working paper", "date": "2019",
     "authors": ["Ana de la Cruz"], "series": "Working Papers", "series_number": "12",
     "organisations": [{"name": "Northfield Policy Hub", "role": "publisher"}],
     "topics": ["Health"]},
    {"title": "Local taxes and trust", "type": "article", "date": "2020-06-02",
     "authors": ["Kofi Mensah", "Li Wei"], "doi": "10.1234/ltt.2020", "issn": "1234-5678",
     "topics": ["Local government"]},
    {"title": "The civic library", "type": "book", "date": "2018",
     "authors": ["Maria Rossi"], "isbn": "978-0-306-40615-7",
     "organisations": [{"name": "Civic Press", "role": "publisher"}]},
    {"title": "Libraries as social infrastructure", "type": "chapter", "date": "2017",
     "authors": ["Tom Reed"], "topics": ["Libraries and culture"]},
    {"title": "Hub newsletter, spring", "type": "newsletter", "date": "2022-04",
     "organisations": [{"name": "Northfield Policy Hub", "role": "publisher"}]},
]


def build_app(settings: Settings, tmp_path: Path, **config: object) -> Flask:
    """An app holding one ingested report (with REPORT_META) and the RECORDS, indexed.

    `app.config["SLUGS"]` maps 'report' and each record's type to its slug.
    """
    app = create_app(settings, TESTING=True, **config)
    cat = app.extensions["catalogue"]
    path = pdfs.write(tmp_path / "report.pdf",
                      pdfs.report_pdf("Volunteer-run libraries in Lanton", "Libraries", 3))
    with Ingester(cat, publish=True) as ing:
        (out,) = ing.run([Job(str(path), path)])
    assert out.status == "added", out.error
    cat.update(out.id, REPORT_META)
    slugs = {"report": out.slug}
    for record in RECORDS:
        stored = cat.add(build_record(record), status="published")
        slugs[str(record["type"])] = stored.slug
    app.config["SLUGS"] = slugs
    Indexer(cat, app.extensions["index"]).apply_pending()
    return app


def close_app(app: Flask) -> None:
    app.extensions["index"].close()
    app.extensions["catalogue"].close()
