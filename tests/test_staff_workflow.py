"""The staff workflow end to end: upload, review, publish, replace, withdraw, conflicts."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from publications.catalogue import audit_events, describe
from publications.indexer import Indexer
from publications.settings import Settings
from tests import pdfs
from tests.staff_helpers import (
    ADMIN,
    EDITOR,
    EDITOR2,
    app,
    client,
    close,
    make_app,
    pdf_upload,
    revision_of,
    sign_in,
)

__all__ = ["app", "client"]

# Runs on SQLite and on PostgreSQL (see tests/conftest.py).
pytestmark = pytest.mark.databases


def _upload(client: FlaskClient, data: bytes, name: str = "report.pdf"):  # type: ignore[no-untyped-def]
    sent = client.post("/staff/upload", data={"files": [pdf_upload(data, name)]},
                       content_type="multipart/form-data")
    return _finished(client, sent)


def _finished(client: FlaskClient, sent):  # type: ignore[no-untyped-def]
    """Follow the upload's status page, as its refresh does, until every file is read."""
    assert sent.status_code == 303, sent.get_data(as_text=True)
    status_url = sent.headers["Location"]
    assert re.fullmatch(r"/staff/uploads/[0-9a-f]{16}", status_url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page = client.get(status_url)
        if page.status_code == 303 or 'http-equiv="refresh"' not in page.get_data(as_text=True):
            return page
        time.sleep(0.05)
    raise AssertionError("the upload was not read within a minute")


def _new_draft(client: FlaskClient, title: str = "Libraries after the cuts") -> int:
    response = _upload(client, pdfs.report_pdf(title, "Libraries volunteers", pages=3))
    assert response.status_code == 303, response.get_data(as_text=True)
    m = re.match(r"/staff/publications/(\d+)/edit\?new=1", response.headers["Location"])
    assert m, response.headers["Location"]
    return int(m.group(1))


def _form(client: FlaskClient, pub_id: int) -> dict[str, str]:
    """The edit form's current values, as a browser would send them back."""
    html = client.get(f"/staff/publications/{pub_id}/edit").get_data(as_text=True)
    form = html.split('class="staff-form edit"', 1)[1].split("</form>", 1)[0]
    values = dict(re.findall(r'<input id="f-\w+" name="(\w+)" value="([^"]*)"', form))
    values.update(re.findall(r'name="(\w+)" rows="\d+"[^>]*>([^<]*)</textarea>', form))
    values["type"] = re.search(r'<option value="([^"]+)" selected', form).group(1)  # type: ignore[union-attr]
    values["revision"] = revision_of(form)
    return values


def _search(app: Flask, client: FlaskClient, q: str) -> str:
    Indexer(app.extensions["catalogue"], app.extensions["index"]).apply_pending()
    return client.get(f"/search?q={q}").get_data(as_text=True)


def test_upload_review_publish_and_find(app, client) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, EDITOR)
    pub_id = _new_draft(client, "Libraries after teh cuts")
    page = client.get(f"/staff/publications/{pub_id}/edit?new=1").get_data(as_text=True)
    assert "Check the details" in page
    assert 'value="Libraries after teh cuts"' in page
    assert "read from the first page" in page  # where the proposed title came from
    assert "Priya Shah" in page
    # a draft is kept at once and is not public anywhere
    assert "teh cuts" not in _search(app, client, "libraries")
    assert "teh cuts" not in client.get("/publications").get_data(as_text=True)
    for public in ("/", "/titles", "/types/report", "/years/2021", "/api/publications"):
        response = client.get(public)
        assert "teh cuts" not in response.get_data(as_text=True), public
    dashboard = client.get("/staff/").get_data(as_text=True)
    assert "Libraries after teh cuts" in dashboard.split('id="drafts"')[1].split('id="attention"')[0]
    # staff correct the title and publish
    values = _form(client, pub_id)
    values.update(title="Libraries after the cuts", action="publish", abstract="Closures.")
    saved = client.post(f"/staff/publications/{pub_id}/edit", data=values)
    assert saved.status_code == 303
    results = _search(app, client, "libraries")
    assert "Libraries after the cuts" in results
    cat = app.extensions["catalogue"]
    with cat.reading() as session:
        pub = cat.get(session, pub_id)
        assert pub.status == "published" and pub.metadata_confirmed
        assert pub.provenance["title"] == "staff"
        (edit,) = [e for e in audit_events(session, publication_id=pub_id) if e.action == "edit"]
    assert edit.actor == EDITOR[0]
    assert edit.details["changes"]["title"] == ["Libraries after teh cuts",
                                                "Libraries after the cuts"]
    assert set(edit.details["changes"]) == {"title", "abstract"}  # only what really changed
    public = client.get(f"/publications/{pub.slug}")
    assert public.status_code == 200
    audit = client.get("/staff/audit").get_data(as_text=True)
    assert "<strong>title</strong>: <del>Libraries after teh cuts</del>" in audit
    assert "publish" in audit and EDITOR[0] in audit


def test_several_files_duplicates_and_refusals(settings: Settings, tmp_path: Path) -> None:
    app = make_app(Settings(home=settings.home, max_upload_bytes=4000))
    client = app.test_client()
    sign_in(client, EDITOR)
    first = _new_draft(client, "Housing need in Lanton")
    small = pdfs.report_pdf("Warm spaces", "Energy", pages=1)
    sent = client.post("/staff/upload", content_type="multipart/form-data", data={"files": [
        pdf_upload(pdfs.report_pdf("Housing need in Lanton", "Libraries volunteers", pages=3),
                   "again.pdf"),
        pdf_upload(b"<html><body>Not found</body></html>", "error.pdf"),
        pdf_upload(small, "warm.pdf"),
        pdf_upload(pdfs.report_pdf("Big", "x" * 3000, pages=3), "big.pdf"),
    ]})
    response = _finished(client, sent)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "this file is already in the collection as" in html
    assert f'href="/staff/publications/{first}/edit">Housing need in Lanton</a>' in html
    assert "not a PDF: the file is an HTML web page" in html
    assert "larger than the limit" in html
    assert "warm.pdf</strong>:\n    kept as a draft" in html
    assert "“Warm spaces” and publish</a>" in html
    with app.extensions["catalogue"].reading() as session:
        assert app.extensions["catalogue"].count(session, status=None) == 2
    # a request far over the cap is refused while it streams in
    huge = client.post("/staff/upload", content_type="multipart/form-data",
                       data={"files": [pdf_upload(b"%PDF-1.7\n" + b"0" * 300_000)]})
    assert huge.status_code == 413
    close(app)


def test_replacing_the_file_keeps_earlier_versions(app, client) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, EDITOR)
    pub_id = _new_draft(client)
    rev = _form(client, pub_id)["revision"]
    new = pdfs.report_pdf("Libraries after the cuts", "Second edition", pages=5)
    response = client.post(f"/staff/publications/{pub_id}/file", content_type="multipart/form-data",
                           data={"file": pdf_upload(new, "second.pdf"), "revision": rev})
    assert response.status_code == 303, response.get_data(as_text=True)
    page = client.get(f"/staff/publications/{pub_id}/edit").get_data(as_text=True)
    assert (f'<td>2 (current)</td><td><a href="/staff/publications/{pub_id}/versions/2.pdf">'
            "second.pdf</a></td><td>5</td>") in page
    assert (f'<td>1</td><td><a href="/staff/publications/{pub_id}/versions/1.pdf">'
            "report.pdf</a></td><td>3</td>") in page
    first = client.get(f"/staff/publications/{pub_id}/versions/1.pdf")
    assert first.status_code == 200 and first.data.startswith(b"%PDF-")
    assert first.headers["Cache-Control"] == "private, no-store"
    first.close()
    assert client.get(f"/staff/publications/{pub_id}/versions/3.pdf").status_code == 404
    cat = app.extensions["catalogue"]
    with cat.reading() as session:
        out = describe(cat.get(session, pub_id))
        assert [v["number"] for v in out["versions"]] == [1, 2]
        assert out["file"]["pages"] == 5
        assert all(cat.files.exists(v["sha256"]) for v in out["versions"])
        assert "replace-file" in [e.action for e in audit_events(session, publication_id=pub_id)]
    # the same bytes again are refused, naming where they are
    again = client.post(f"/staff/publications/{pub_id}/file", content_type="multipart/form-data",
                        data={"file": pdf_upload(new, "again.pdf")})
    assert again.status_code == 409
    assert "already attached" in again.get_data(as_text=True)


def test_withdraw_leaves_a_tombstone_and_restore_brings_it_back(app, client) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, EDITOR)
    pub_id = _new_draft(client)
    values = _form(client, pub_id)
    client.post(f"/staff/publications/{pub_id}/edit", data={**values, "action": "publish"})
    slug = describe_slug(app, pub_id)
    assert client.post(f"/staff/publications/{pub_id}/withdraw",
                       data={"reason": ""}).status_code == 422
    client.post(f"/staff/publications/{pub_id}/withdraw",
                data={"reason": "Superseded by the 2024 edition"})
    tomb = client.get(f"/publications/{slug}")
    assert tomb.status_code == 410
    assert "Superseded by the 2024 edition" in tomb.get_data(as_text=True)
    assert "Libraries after the cuts" not in _search(app, client, "libraries")
    client.post(f"/staff/publications/{pub_id}/restore")
    assert client.get(f"/publications/{slug}").status_code == 200


def describe_slug(app: Flask, pub_id: int) -> str:
    cat = app.extensions["catalogue"]
    with cat.reading() as session:
        return cat.get(session, pub_id).slug


def test_second_save_of_the_same_publication_is_refused(app, client) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, EDITOR)
    pub_id = _new_draft(client)
    other = app.test_client()
    sign_in(other, EDITOR2)
    mine, theirs = _form(client, pub_id), _form(other, pub_id)
    assert client.post(f"/staff/publications/{pub_id}/edit",
                       data={**mine, "title": "Title from the first editor"}).status_code == 303
    refused = other.post(f"/staff/publications/{pub_id}/edit",
                         data={**theirs, "title": "Title from the second editor"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert f"changed by {EDITOR[0]}" in html and "since you opened it" in html
    assert "Title from the second editor" in html  # their typing is not lost
    assert describe_title(app, pub_id) == "Title from the first editor"
    # the form now carries the fresh revision: saving again is a deliberate choice
    again = _form(other, pub_id)
    assert again["title"] == "Title from the first editor"


def describe_title(app: Flask, pub_id: int) -> str:
    cat = app.extensions["catalogue"]
    with cat.reading() as session:
        return cat.get(session, pub_id).title


def test_bad_values_are_shown_back_not_saved(app, client) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, EDITOR)
    pub_id = _new_draft(client)
    values = _form(client, pub_id)
    response = client.post(f"/staff/publications/{pub_id}/edit",
                           data={**values, "date": "March 2021", "subtitle": "Kept"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "is not YYYY, YYYY-MM or YYYY-MM-DD" in html
    assert 'value="Kept"' in html
    assert client.post(f"/staff/publications/{pub_id}/edit",
                       data={**values, "title": "", "action": "publish"}).status_code == 422


def test_only_admins_delete_and_only_after_confirming(app, client) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, EDITOR)
    pub_id = _new_draft(client)
    slug = describe_slug(app, pub_id)
    assert client.post(f"/staff/publications/{pub_id}/delete",
                       data={"confirm": slug}).status_code == 403
    client.post("/staff/logout")
    sign_in(client, ADMIN)
    assert "Type" in client.get(f"/staff/publications/{pub_id}/delete").get_data(as_text=True)
    assert client.post(f"/staff/publications/{pub_id}/delete",
                       data={"confirm": "no"}).status_code == 422
    done = client.post(f"/staff/publications/{pub_id}/delete", data={"confirm": slug})
    assert done.status_code == 303
    assert client.get(f"/staff/publications/{pub_id}/edit").status_code == 404
    cat = app.extensions["catalogue"]
    with cat.reading() as session:
        (event,) = [e for e in audit_events(session, publication_id=pub_id)
                    if e.action == "delete"]
    assert event.actor == ADMIN[0] and event.details["record"]["slug"] == slug
    assert cat.files.exists(event.details["record"]["file"]["sha256"])  # the file is kept
    Indexer(cat, app.extensions["index"]).apply_pending()


def test_dashboard_lists_what_needs_attention(app, client) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, EDITOR)
    response = _upload(client, pdfs.blank_pdf(2), "scan.pdf")
    pub_id = int(re.search(r"/publications/(\d+)/", response.headers["Location"]).group(1))  # type: ignore[union-attr]
    html = client.get("/staff/").get_data(as_text=True)
    attention = html.split('id="attention"')[1].split('id="recent"')[0]
    assert f"/staff/publications/{pub_id}/edit" in attention
    for reason in ("needs a title", "no text layer", "no abstract", "no date",
                   "proposed metadata not confirmed"):
        assert reason in attention
    assert "create" in html.split('id="recent"')[1]
