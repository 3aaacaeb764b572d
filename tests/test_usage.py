"""Views and downloads per publication: counted for readers, not robots, shown to staff."""

from __future__ import annotations

from pathlib import Path

from publications.ingest import Ingester, Job
from tests import pdfs
from tests.staff_helpers import EDITOR, app, close, make_app  # noqa: F401
from tests.staff_helpers import sign_in

READER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}


def test_views_and_downloads_are_counted_and_shown(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cat = app.extensions["catalogue"]
    path = pdfs.write(tmp_path / "a.pdf", pdfs.report_pdf("Counted report", "libraries", 2))
    with Ingester(cat, publish=True) as ing:
        (out,) = ing.run([Job(str(path), path)])
    reader = app.test_client()
    for _ in range(3):
        reader.get(f"/publications/{out.slug}", headers=READER)
    reader.get(f"/publications/{out.slug}", headers={"User-Agent": "Googlebot/2.1"})
    whole = reader.get(f"/publications/{out.slug}/file.pdf", headers=READER)
    whole.close()
    chunk = reader.get(f"/publications/{out.slug}/file.pdf",
                       headers={**READER, "Range": "bytes=100-200"})
    chunk.close()
    assert reader.get_cookie("session") is None  # no cookie was set on readers

    staff = app.test_client()
    sign_in(staff, EDITOR)
    html = staff.get("/staff/").get_data(as_text=True)
    section = html.split('id="usage"')[1].split("</table>")[0]
    assert "Counted report" in section
    assert "<td>3</td><td>1</td>" in section
