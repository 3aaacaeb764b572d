"""Hostile input: redirect targets, paths and file names that try to leave the data home,
download names that try to add headers, and script in metadata, PDF text and queries."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from portal.security import content_disposition
from portal.staff.upload import plain_name
from publications.filestore import FileStore
from publications.manifest import read_manifest
from tests import pdfs
from tests.security_helpers import IMG, PDF_SCRIPT, SCRIPT, Portal, build_portal, close, token
from tests.staff_helpers import ADMIN, EDITOR


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    work = tmp_path_factory.mktemp("security-input")
    built = build_portal(work / "home", work)
    yield built
    close(built)


# --- ?next= after sign-in -----------------------------------------------------------------

OFF_SITE = [
    "//evil.example", "//evil.example/staff/", "https://evil.example", "http://evil.example/staff/",
    "/\\evil.example", "\\\\evil.example", "/\\/evil.example", "javascript:alert(1)",
    "JavaScript:alert(1)", " javascript:alert(1)", "data:text/html,<script>x</script>",
    "%2F%2Fevil.example", "/%2F/evil.example", "%2f%2fevil.example", "/%5Cevil.example",
    "https:%2F%2Fevil.example", "/staff/%0d%0aSet-Cookie:%20x=1", "/staff/\r\nLocation: //e",
    "/staff/../..//evil.example", "/staff/%2e%2e/%2e%2e//evil.example", "\t//evil.example",
    "/staff@evil.example", "staff/", "/stafff", "https://evil.example/staff/",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_next_never_leaves_the_workspace(portal: Portal, target: str) -> None:
    client = portal.app.test_client()
    done = client.post("/staff/login", data={"email": EDITOR[0], "password": EDITOR[1],
                                             "next": target, "csrf_token": token(client)})
    assert done.status_code == 302
    assert done.headers["Location"] == "/staff/", target
    assert "Set-Cookie: x" not in str(done.headers)
    # Already signed in, the GET form follows the same rule.
    again = client.get("/staff/login?next=" + quote(target, safe=""))
    assert again.status_code in (302, 400)
    if again.status_code == 302:
        assert again.headers["Location"] == "/staff/", target


def test_next_inside_the_workspace_is_followed(portal: Portal) -> None:
    client = portal.app.test_client()
    done = client.post("/staff/login", data={"email": EDITOR[0], "password": EDITOR[1],
                                             "next": "/staff/audit?actor=x",
                                             "csrf_token": token(client)})
    assert done.headers["Location"] == "/staff/audit?actor=x"


def test_next_is_shown_as_text_on_the_sign_in_page(portal: Portal) -> None:
    html = portal.app.test_client().get(
        "/staff/login?next=" + quote(f'/staff/"><script>alert(1)</script>')).get_data(
        as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&#34;&gt;&lt;script&gt;" in html or "&quot;&gt;&lt;script&gt;" in html


# --- paths that try to leave the data home -------------------------------------------------

TRAVERSALS = [
    "..", "../..", "../../etc/passwd", "..%2f..%2fetc%2fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2e%2e", "..%5c..%5cwindows", "%252e%252e%252f", "/etc/passwd", "%2Fetc%2Fpasswd",
    "....//....//etc", "a%00.pdf", "%00", "..%00", "C:%5CWindows%5Cwin.ini", "~root",
]


@pytest.mark.parametrize("bad", TRAVERSALS)
def test_traversal_in_slugs_finds_nothing(portal: Portal, bad: str) -> None:
    client = portal.client(ADMIN)
    for template in ("/publications/{}", "/publications/{}/file.pdf",
                     "/publications/{}/cover.png", "/publications/{}/cite.bib",
                     "/publications/{}/search?q=x", "/api/publications/{}", "/topics/{}",
                     "/feeds/topics/{}.atom", "/people/{}", "/series/{}", "/types/{}",
                     "/organisations/{}", "/staff/uploads/{}"):
        url = template.format(bad)
        response = client.get(url)
        assert response.status_code in (400, 404), (url, response.status_code)
        assert b"root:" not in response.data
        response.close()


@pytest.mark.parametrize("bad", ["../security.py", "..%2fsecurity.py", "%2e%2e/app.py",
                                 "%2e%2e%2f%2e%2e%2fpyproject.toml", "/etc/passwd",
                                 "..%5csecurity.py", "portal.css%00.py", "..", "."])
def test_traversal_in_static_finds_nothing(portal: Portal, bad: str) -> None:
    client = portal.app.test_client()
    response = client.get("/static/" + bad)
    if response.status_code == 308:  # `//` merged: a redirect on the same site, then 404
        assert urlsplit(response.headers["Location"]).netloc in ("", "localhost")
        response = client.get(response.headers["Location"])
    assert response.status_code in (400, 404), bad
    assert b"import" not in response.data
    response.close()


def test_nul_and_control_characters_in_the_query_are_refused(portal: Portal) -> None:
    client = portal.app.test_client()
    for url in ("/search?topic=%00", "/search?q=x&type=a%0d%0ab", "/api/search?year=%00",
                "/staff/login?next=/staff/%00", "/oai?verb=Identify%00", "/titles?letter=%00",
                "/staff/audit?actor=%00", "/publications/x%00", "/search?q%00=x"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "Traceback" not in response.get_data(as_text=True)
    # Free search text may hold anything: it is a query, answered normally.
    for url in ("/search?q=a%00b", "/api/search?q=%0d%0a", "/search.atom?q=%00"):
        assert client.get(url).status_code == 200, url


def test_url_for_options_in_the_query_are_refused(portal: Portal) -> None:
    """Listing pages rebuild links from the query string; url_for's own options in it would
    make absolute or broken links (and a 500)."""
    client = portal.app.test_client()
    topic = portal.slugs["topics"]
    for url in ("/search?q=libraries&_scheme=javascript&_external=1", "/search?q=x&_anchor=x",
                "/search?q=x&_method=POST", f"/topics/{topic}?_external=1&page=1",
                "/publications?_external=1", f"/publications/{portal.ids['report']}/search"
                "?q=x&_external=1&_scheme=javascript", "/search.atom?q=x&_external=1"):
        response = client.get(url)
        assert response.status_code == 400, url
    html = client.get(f"/topics/{topic}?q=x&_=123").get_data(as_text=True)
    assert 'href="http' not in html.split("<main", 1)[1].split("</main>")[0]


def test_the_store_names_files_only_by_their_hash(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    for bad in ("../../etc/passwd", "/etc/passwd", "a" * 63 + "/", "A" * 64, "", "ab\x00cd"):
        with pytest.raises(ValueError):
            store.path_for(bad)
    good = "0" * 64
    assert store.path_for(good).is_relative_to(tmp_path / "files")


def test_uploaded_file_names_are_only_names(portal: Portal, tmp_path: Path) -> None:
    client = portal.client(EDITOR)
    home = portal.app.extensions["catalogue"].settings.home
    names = ["../../../escape.pdf", "/etc/cron.d/escape.pdf", "..\\..\\escape.pdf",
             "C:\\Windows\\escape.pdf", "esc\x00ape.pdf", ".."]
    sent = []
    for n, name in enumerate(names):
        data = pdfs.report_pdf(f"Upload name test {n}", "Names", 2)
        sent.append(data)
        response = client.post("/staff/upload", data={
            "files": (io.BytesIO(data), name), "csrf_token": token(client, "/staff/upload")})
        assert response.status_code == 303, response.get_data(as_text=True)[:300]
    portal.app.extensions["staff_uploads"].join(60)
    with portal.app.extensions["catalogue"].reading() as session:
        from publications.uploads import Upload

        stored = [u.filename for u in session.query(Upload).order_by(Upload.id)][-len(names):]
    # Only names are kept (the multipart parser may drop a backslash on its own).
    assert all(n.endswith("escape.pdf") for n in stored[:5]) and stored[5] == "unnamed.pdf"
    assert stored[:2] == ["escape.pdf", "escape.pdf"]
    assert not any(ch in n for n in stored for ch in "/\\\x00")
    # (A browser cannot send CR LF inside a multipart file name; the name cleaner drops them.)
    assert plain_name("report\r\nX-Evil: 1.pdf") == "reportX-Evil: 1.pdf"
    assert plain_name("..\\..\\escape.pdf") == plain_name("C:\\x\\escape.pdf") == "escape.pdf"
    assert plain_name("../..") == plain_name("") == plain_name("/") == "unnamed.pdf"
    # Nothing was written under any of those names, inside or outside the data home.
    for root in (home.parent, home, Path("/etc/cron.d")):
        assert not list(root.glob("**/escape.pdf")) if root != Path("/etc/cron.d") \
            else not (root / "escape.pdf").exists()


def test_manifest_files_stay_inside_the_manifest_folder(tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    (folder / "files").mkdir(parents=True)
    outside = tmp_path / "secret.pdf"
    outside.write_bytes(pdfs.report_pdf("Secret", "x", 1))
    lines = [{"title": "ok", "file": "files/a.pdf"},
             {"title": "up", "file": "../secret.pdf"},
             {"title": "deep", "file": "files/../../secret.pdf"},
             {"title": "abs", "file": str(outside)},
             {"title": "win", "file": "..\\secret.pdf"},
             {"title": "nul", "file": "files/a\x00.pdf"}]
    manifest = folder / "manifest.jsonl"
    manifest.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    read = list(read_manifest(manifest))
    assert read[0].error is None and read[0].file == (folder / "files" / "a.pdf").resolve()
    for line in read[1:]:
        assert line.error and line.file is None, line
    assert "NUL" in (read[-1].error or "")


# --- download names -------------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    'a"b.pdf', "line\r\nSet-Cookie: x=1.pdf", "résumé – ünïcode.pdf", "日本語.pdf", "a;b=c.pdf",
    "\x00\x7f.pdf", "", "..\\..\\x.pdf", "%0d%0a.pdf",
])
def test_content_disposition_cannot_carry_a_header(name: str) -> None:
    value = content_disposition(name)
    assert "\r" not in value and "\n" not in value and "\x00" not in value
    m = re.fullmatch(r'inline; filename="([A-Za-z0-9._-]+)"(?:; filename\*=UTF-8\'\'(\S+))?',
                     value)
    assert m, value
    if m.group(2):  # RFC 5987: only unreserved characters and percent-escapes
        assert re.fullmatch(r"[A-Za-z0-9%._~-]+", m.group(2)), value
    if "ü" in name:
        assert "%C3%BC" in value  # the real name survives for browsers that read filename*


def test_downloads_name_the_file_safely(portal: Portal) -> None:
    cat = portal.app.extensions["catalogue"]
    from publications.fields import build_record

    stored = cat.add(build_record({"title": 'Évaluation "finale"\r\nSet-Cookie: x=1; ü',
                                   "type": "report"}), status="published")
    client = portal.client(ADMIN)
    for url in (f"/publications/{stored.slug}/cite.bib", f"/publications/{stored.slug}/cite.ris",
                f"/publications/{portal.slugs['report']}/file.pdf",
                f"/staff/publications/{portal.ids['report']}/versions/1.pdf",
                "/search/cite.bib?q=" + quote('"finale"\r\n')):
        response = client.get(url)
        if response.status_code == 400:  # the CR LF query is refused outright
            continue
        assert response.status_code == 200, url
        disposition = response.headers["Content-Disposition"]
        assert re.fullmatch(r'inline; filename="[A-Za-z0-9._-]+"', disposition), disposition
        assert "Set-Cookie" not in response.headers or "x=1" not in response.headers[
            "Set-Cookie"]
        response.close()


# --- script shown as text ------------------------------------------------------------------

def _no_live_script(html: str, where: str) -> None:
    assert SCRIPT not in html, where
    assert PDF_SCRIPT not in html, where
    assert IMG not in html, where
    assert not re.search(r"<script>alert|<img[^>]*onerror|<svg[^>]*onload", html), where
    # the only script elements are the portal's own JSON-LD and external files
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert 'type="application/ld+json"' in tag or "src=" in tag, (where, tag)


def test_stored_metadata_is_shown_as_text(portal: Portal) -> None:
    slug = portal.slugs["hostile"]
    client = portal.client(EDITOR)
    pages = [f"/publications/{slug}", "/publications", "/", "/titles?letter=H",
             f"/search?q={quote('hostile title')}", "/topics", "/organisations", "/series",
             f"/staff/publications/{portal.ids['hostile']}/edit", "/staff/publications",
             "/staff/", "/staff/audit"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        _no_live_script(html, url)
    page = client.get(f"/publications/{slug}").get_data(as_text=True)
    assert "Hostile &lt;script&gt;alert(" in page
    assert 'href="javascript:' not in page.lower()
    # JSON-LD inside the page cannot close its script element
    for block in re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S):
        assert "</" not in block and "<script" not in block
        assert json.loads(block)


def test_pdf_text_is_shown_as_text_in_snippets(portal: Portal) -> None:
    client = portal.app.test_client()
    slug = portal.slugs["pdf_script"]
    for url in ("/search?q=alert+pdf+libraries", f"/publications/{slug}/search?q=alert",
                "/search?q=script"):
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, url
        _no_live_script(html, url)
    html = client.get(f"/publications/{slug}/search?q=alert").get_data(as_text=True)
    assert "&lt;script&gt;" in html and "<mark>" in html  # found, highlighted, escaped


REFLECTED = [SCRIPT, IMG, "</textarea><script>alert(1)</script>", "';alert(1)//",
             "{{7*7}}", "javascript:alert(1)"]


@pytest.mark.parametrize("attack", REFLECTED)
def test_reflected_input_is_shown_as_text(portal: Portal, attack: str) -> None:
    client = portal.app.test_client()
    q = quote(attack, safe="")
    report = portal.slugs["report"]
    for url in (f"/search?q={q}", f"/search?q=libraries&topic={q}", f"/search?q=x&{q}=y",
                f"/search?q=libraries&author={q}&year={q}", f"/search?q=x&sort={q}",
                f"/search?q=x&page={q}", f"/publications/{report}/search?q={q}",
                f"/publications/{q}", f"/no-such-page/{q}", f"/titles?letter={q}",
                f"/staff/login?next={q}", f"/topics/{q}", f"/publications?sort={q}",
                f"/publications?page={q}"):
        response = client.get(url)
        assert response.status_code < 500, url
        html = response.get_data(as_text=True)
        if "text/html" in response.content_type:
            assert attack not in html or not re.search(r"[<>\"']", attack), url
            assert "49" not in html or "{{7*7}}" not in attack or html.count("49") == \
                client.get("/search?q=x").get_data(as_text=True).count("49"), url
    for url in (f"/search.atom?q={q}", f"/api/search?q={q}", f"/search/cite.bib?q={q}",
                f"/oai?verb={q}"):
        response = client.get(url)
        assert response.status_code < 500, url
        assert "text/html" not in response.content_type, url  # never rendered as a page
        if "xml" in response.content_type:
            assert "<script" not in response.get_data(as_text=True), url


def test_feeds_and_oai_escape_stored_script(portal: Portal) -> None:
    client = portal.app.test_client()
    for url in ("/feeds/latest.atom", "/oai?verb=ListRecords&metadataPrefix=oai_dc",
                "/sitemap.xml"):
        body = client.get(url).get_data(as_text=True)
        assert "<script" not in body and "<img" not in body, url
    latest = client.get("/feeds/latest.atom").get_data(as_text=True)
    assert "&lt;script&gt;" in latest
    api = client.get(f"/api/publications/{portal.slugs['hostile']}")
    assert api.content_type.startswith("application/json")
    assert api.headers["X-Content-Type-Options"] == "nosniff"
    assert api.get_json()["title"] == f"Hostile {SCRIPT} title"  # data, kept exact
