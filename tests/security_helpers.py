"""A populated portal for the security tests: a published report with a file, a draft, a
withdrawn publication, hostile metadata and hostile PDF text, staff accounts, and CSRF on."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from publications.fields import build_record
from publications.indexer import Indexer
from publications.ingest import Ingester, Job
from publications.settings import Settings
from publications.users import Accounts
from tests import pdfs
from tests.interop import build_app
from tests.staff_helpers import ADMIN, EDITOR, EDITOR2

SCRIPT = "<script>alert('xss')</script>"
IMG = '"><img src=x onerror=alert(1)>'
# Hostile metadata, stored as staff or a manifest could store it.
HOSTILE = {
    "title": f"Hostile {SCRIPT} title",
    "subtitle": IMG,
    "type": "report",
    "date": "2020",
    "authors": [f"Eve {SCRIPT}"],
    "organisations": [{"name": f"Org {IMG}", "role": "publisher"}],
    "topics": [f"Topic {SCRIPT}"],
    "series": f"Series {IMG}",
    "abstract": f"Abstract with {SCRIPT} and {IMG} inside.",
    "url": "javascript:alert(1)",
}
PDF_SCRIPT = "<script>alert('pdf')</script>"


@dataclass
class Portal:
    app: Flask
    ids: dict[str, int] = field(default_factory=dict)
    slugs: dict[str, str] = field(default_factory=dict)

    def client(self, who: tuple[str, str] | None = None) -> FlaskClient:
        """A fresh browser: anonymous, or signed in as `who` (with CSRF tokens on)."""
        client = self.app.test_client()
        if who is not None:
            response = client.post("/staff/login", data={
                "email": who[0], "password": who[1], "csrf_token": token(client)})
            assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client


def token(client: FlaskClient, path: str = "/staff/login") -> str:
    """The CSRF token of this browser's session, read from a form like a browser would."""
    html = client.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def build_portal(home: Path, work: Path, **settings: object) -> Portal:
    """The interop collection plus a draft, a withdrawn publication, hostile records and a
    PDF whose text holds a script tag; rate limits off unless `settings` say otherwise."""
    values: dict[str, object] = {"login_rate_limit": "off", "search_rate_limit": "off"}
    values.update(settings)
    app = build_app(Settings(home=home, extract_timeout=60.0, **values), work,  # type: ignore[arg-type]
                    WTF_CSRF_ENABLED=True)
    cat = app.extensions["catalogue"]
    accounts = Accounts(cat)
    for who, role in ((EDITOR, "editor"), (EDITOR2, "editor"), (ADMIN, "admin")):
        accounts.add(who[0], role, who[1])
    portal = Portal(app, slugs=dict(app.config["SLUGS"]))
    with cat.reading() as session:
        portal.ids["report"] = cat.get(session, portal.slugs["report"]).id
    draft = cat.add(build_record({"title": "A draft nobody may see", "type": "report"}),
                    status="draft")
    withdrawn = cat.add(build_record({"title": "Withdrawn for a reason", "type": "report"}),
                        status="published")
    cat.set_status(withdrawn.id, "withdrawn", reason="Superseded")
    hostile = cat.add(build_record(HOSTILE), status="published")
    path = pdfs.write(work / "hostile.pdf", pdfs.text_pdf([
        [(20, "Scripted findings"), (11, f"The body says {PDF_SCRIPT} about libraries")],
        [(11, f"Page two repeats {PDF_SCRIPT} for libraries")]]))
    with Ingester(cat, publish=True) as ing:
        (out,) = ing.run([Job(str(path), path)])
    assert out.status == "added", out.error
    for name, stored in (("draft", draft), ("withdrawn", withdrawn), ("hostile", hostile)):
        portal.ids[name], portal.slugs[name] = stored.id, stored.slug
    portal.ids["pdf_script"], portal.slugs["pdf_script"] = out.id, out.slug
    Indexer(cat, app.extensions["index"]).apply_pending()
    # Browse addresses of the report, as its page links to them.
    html = app.test_client().get(f"/publications/{portal.slugs['report']}").get_data(
        as_text=True)
    for kind in ("topics", "organisations", "people", "series", "types"):
        m = re.search(rf'href="/{kind}/([^"/?#]+)"', html)
        assert m, f"the report's page links to no {kind}"
        portal.slugs[kind] = m.group(1)
    return portal


def close(portal: Portal) -> None:
    portal.app.extensions["staff_uploads"].join(60)
    portal.app.extensions["index"].close()
    portal.app.extensions["catalogue"].close()
