"""Cover thumbnails of page one on publication pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal.app import create_app
from publications.covers import cover_path
from publications.ingest import Ingester, Job
from tests import pdfs


@pytest.fixture
def app(settings):  # type: ignore[no-untyped-def]
    app = create_app(settings, TESTING=True)
    yield app
    app.extensions["index"].close()
    app.extensions["catalogue"].close()


def _add(app, tmp_path: Path, data: bytes, publish: bool = True):  # type: ignore[no-untyped-def]
    path = pdfs.write(tmp_path / f"{len(data)}.pdf", data)
    with Ingester(app.extensions["catalogue"], publish=publish) as ing:
        (out,) = ing.run([Job(str(path), path)])
    assert out.status == "added", out.error
    return out


def test_cover_is_a_png_of_page_one_and_is_cached(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = _add(app, tmp_path, pdfs.report_pdf("Warm spaces, cold homes"))
    client = app.test_client()
    page = client.get(f"/publications/{out.slug}").get_data(as_text=True)
    assert f'src="/publications/{out.slug}/cover.png"' in page
    assert 'alt="First page of the PDF"' in page
    first = client.get(f"/publications/{out.slug}/cover.png")
    assert first.status_code == 200 and first.mimetype == "image/png"
    assert first.data.startswith(b"\x89PNG")
    first.close()
    cat = app.extensions["catalogue"]
    with cat.reading() as s:
        sha = cat.get(s, out.id).current_version.file.sha256
    assert cover_path(app.config["PORTAL_SETTINGS"], sha).is_file()


def test_no_cover_for_drafts_or_unknown(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = _add(app, tmp_path, pdfs.report_pdf("Not yet"), publish=False)
    client = app.test_client()
    assert client.get(f"/publications/{out.slug}/cover.png").status_code == 404
    assert client.get("/publications/nothing/cover.png").status_code == 404
