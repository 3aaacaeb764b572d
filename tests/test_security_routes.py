"""Every route, for an anonymous reader, an editor and an administrator: who gets what, CSRF
on every state change, session rotation at sign-in, and security headers on every answer.

The matrix is built from `app.url_map`: a route added without a line in ROUTES fails
`test_every_route_is_classified`, so nobody can forget to decide who may reach it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from publications.catalogue import audit_events, staff_listing
from publications.users import Accounts
from tests import pdfs
from tests.security_helpers import Portal, build_portal, close, token
from tests.staff_helpers import ADMIN, EDITOR

ANON, ED, ADM = "anonymous", "editor", "admin"
WHO = {ANON: None, ED: EDITOR, ADM: ADMIN}
LOGIN = "login"  # expected: a redirect to the sign-in page
HOME = "home"  # expected: a redirect to the staff home page


def same(code: int) -> dict[str, int | str]:
    return {ANON: code, ED: code, ADM: code}


def staff(editor: int | str, admin: int | str | None = None) -> dict[str, int | str]:
    return {ANON: LOGIN, ED: editor, ADM: editor if admin is None else admin}


# (endpoint, method) -> (URL with {placeholders}, form data, expected status for each role).
# Staff POSTs send a valid CSRF token and a form that is refused for its content, so the
# matrix checks who gets through without changing anything.
ROUTES: dict[tuple[str, str], tuple[str, dict[str, str], dict[str, int | str]]] = {
    ("reader.home", "GET"): ("/", {}, same(200)),
    ("reader.publications", "GET"): ("/publications", {}, same(200)),
    ("reader.publication", "GET"): ("/publications/{report}", {}, same(200)),
    ("reader.search_within", "GET"): ("/publications/{report}/search?q=libraries", {},
                                      same(200)),
    ("reader.cover", "GET"): ("/publications/{report}/cover.png", {}, same(200)),
    ("reader.download", "GET"): ("/publications/{report}/file.pdf", {}, same(200)),
    ("exports.publication", "GET"): ("/publications/{report}/cite.bib", {}, same(200)),
    ("exports.search", "GET"): ("/search/cite.ris?q=libraries", {}, same(200)),
    ("search.results", "GET"): ("/search?q=libraries&topic=Volunteering", {}, same(200)),
    ("feeds.search", "GET"): ("/search.atom?q=libraries", {}, same(200)),
    ("feeds.latest", "GET"): ("/feeds/latest.atom", {}, same(200)),
    ("feeds.topic", "GET"): ("/feeds/topics/{topics}.atom", {}, same(200)),
    ("feeds.organisation", "GET"): ("/feeds/organisations/{organisations}.atom", {},
                                    same(200)),
    ("feeds.person", "GET"): ("/feeds/people/{people}.atom", {}, same(200)),
    ("feeds.series", "GET"): ("/feeds/series/{series}.atom", {}, same(200)),
    ("api.search", "GET"): ("/api/search?q=libraries", {}, same(200)),
    ("api.publications", "GET"): ("/api/publications", {}, same(200)),
    ("api.publication", "GET"): ("/api/publications/{report}", {}, same(200)),
    # OAI-PMH allows POST for its (read-only) verbs; it changes nothing, so needs no token.
    ("oai.endpoint", "GET"): ("/oai?verb=Identify", {}, same(200)),
    ("oai.endpoint", "POST"): ("/oai", {"verb": "Identify"}, same(200)),
    ("sitemap.robots", "GET"): ("/robots.txt", {}, same(200)),
    ("sitemap.sitemap", "GET"): ("/sitemap.xml", {}, same(200)),
    ("sitemap.opensearch", "GET"): ("/opensearch.xml", {}, same(200)),
    ("browse.topics", "GET"): ("/topics", {}, same(200)),
    ("browse.topic", "GET"): ("/topics/{topics}", {}, same(200)),
    ("browse.types", "GET"): ("/types", {}, same(200)),
    ("browse.type", "GET"): ("/types/{types}", {}, same(200)),
    ("browse.years", "GET"): ("/years", {}, same(200)),
    ("browse.year", "GET"): ("/years/2021", {}, same(200)),
    ("browse.organisations", "GET"): ("/organisations", {}, same(200)),
    ("browse.organisation", "GET"): ("/organisations/{organisations}", {}, same(200)),
    ("browse.person", "GET"): ("/people/{people}", {}, same(200)),
    ("browse.series_index", "GET"): ("/series", {}, same(200)),
    ("browse.series", "GET"): ("/series/{series}", {}, same(200)),
    ("browse.titles", "GET"): ("/titles", {}, same(200)),
    ("static", "GET"): ("/static/portal.css", {}, same(200)),
    # Staff workspace.
    ("staff.auth.login", "GET"): ("/staff/login", {}, {ANON: 200, ED: HOME, ADM: HOME}),
    ("staff.auth.login", "POST"): ("/staff/login", {"email": "x@y.z", "password": "wrong"},
                                   same(401)),
    ("staff.auth.logout", "POST"): ("/staff/logout", {}, staff(LOGIN)),
    ("staff.dashboard.home", "GET"): ("/staff/", {}, staff(200)),
    ("staff.dashboard.audit", "GET"): ("/staff/audit", {}, staff(200)),
    ("staff.dashboard.publications", "GET"): ("/staff/publications", {}, staff(200)),
    ("staff.upload.upload", "GET"): ("/staff/upload", {}, staff(200)),
    ("staff.upload.upload", "POST"): ("/staff/upload", {}, staff(400)),
    ("staff.upload.status", "GET"): ("/staff/uploads/0123456789abcdef", {}, staff(404)),
    ("staff.edit.edit", "GET"): ("/staff/publications/{id_report}/edit", {}, staff(200)),
    ("staff.edit.edit", "POST"): ("/staff/publications/{id_report}/edit", {}, staff(400)),
    ("staff.edit.replace", "POST"): ("/staff/publications/{id_report}/file", {}, staff(400)),
    ("staff.edit.withdraw", "POST"): ("/staff/publications/{id_report}/withdraw", {},
                                      staff(422)),
    ("staff.edit.restore", "POST"): ("/staff/publications/{id_draft}/restore", {}, staff(400)),
    ("staff.edit.delete", "GET"): ("/staff/publications/{id_report}/delete", {},
                                   staff(403, 200)),
    ("staff.edit.delete", "POST"): ("/staff/publications/{id_report}/delete",
                                    {"confirm": "not the slug"}, staff(403, 422)),
    ("staff.edit.version_file", "GET"): ("/staff/publications/{id_report}/versions/1.pdf", {},
                                         staff(200)),
    ("staff.accounts.users", "GET"): ("/staff/users/", {}, staff(403, 200)),
    ("staff.accounts.add", "POST"): ("/staff/users/", {"email": "not an address"},
                                     staff(403, 422)),
    ("staff.accounts.disable", "POST"): ("/staff/users/disable", {"email": "nobody@x.y"},
                                         staff(403, 422)),
    ("staff.accounts.reset_password", "POST"): ("/staff/users/password",
                                                {"email": "nobody@x.y", "password": "short"},
                                                staff(403, 422)),
}
SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy",
                    "X-Frame-Options")


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    work = tmp_path_factory.mktemp("security-routes")
    built = build_portal(work / "home", work)
    yield built
    close(built)


def _url(portal: Portal, template: str) -> str:
    values = {**portal.slugs, **{f"id_{k}": v for k, v in portal.ids.items()}}
    return template.format(**values)


def _rules(portal: Portal) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) for every route the application has."""
    return [(rule.endpoint, method, rule.rule)
            for rule in portal.app.url_map.iter_rules()
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})]


def assert_security_headers(response: TestResponse, what: object) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, what
    assert "script-src" not in csp or "unsafe-inline" not in csp, what
    assert response.headers.get("X-Content-Type-Options") == "nosniff", what
    assert response.headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", what
    assert response.headers.get("X-Frame-Options") == "DENY", what


def test_every_route_is_classified(portal: Portal) -> None:
    routes = _rules(portal)
    missing = [(e, m, r) for e, m, r in routes if (e, m) not in ROUTES]
    assert not missing, f"classify these routes in ROUTES (who may reach them): {missing}"
    stale = set(ROUTES) - {(e, m) for e, m, _r in routes}
    assert not stale, f"ROUTES names routes that no longer exist: {stale}"
    # State changes happen only in the staff workspace (behind CSRF) or are read-only.
    changing = {(e, m) for e, m, _r in routes if m not in ("GET",)}
    assert all(e.startswith("staff.") or e == "oai.endpoint" for e, _m in changing), changing
    assert not {m for _e, m, _r in routes} - {"GET", "POST"}, "PUT/DELETE need a CSRF plan"


@pytest.mark.parametrize("role", [ANON, ED, ADM])
def test_route_matrix(portal: Portal, role: str) -> None:
    """Each route answers each role as ROUTES says, with the security headers."""
    failures = []
    client = portal.client(WHO[role])
    # Signing out ends every session of the account, so it comes last.
    for (endpoint, method), (template, form, expected) in sorted(
            ROUTES.items(), key=lambda item: item[0][0] == "staff.auth.logout"):
        url = _url(portal, template)
        data = dict(form)
        if method == "POST" and endpoint.startswith("staff."):
            data["csrf_token"] = token(client, "/staff/login" if role == ANON else "/staff/")
        response = client.open(url, method=method, data=data or None)
        want = expected[role]
        got: int | str = response.status_code
        location = response.headers.get("Location", "")
        if got == 302 and location.startswith("/staff/login"):
            got = LOGIN
        elif got == 302 and location == "/staff/":
            got = HOME
        if got != want:
            failures.append((method, url, f"wanted {want}, got {got}"))
        assert_security_headers(response, (method, url))
        if endpoint.startswith("staff."):
            assert "no-store" in response.headers.get("Cache-Control", ""), (method, url)
        response.close()
    assert not failures, failures


def test_unknown_slugs_are_404_for_everyone(portal: Portal) -> None:
    client = portal.client(ADMIN)
    for (endpoint, _method), (template, _form, _expected) in ROUTES.items():
        if "{" not in template or endpoint.startswith("staff."):
            continue
        values = {k: "no-such-thing" for k in portal.slugs} | {f"id_{k}": 999999
                                                              for k in portal.ids}
        url = template.format(**values)
        response = client.get(url)
        assert response.status_code == 404, url
        assert_security_headers(response, url)
        response.close()
    for url in ("/staff/publications/999999/edit", "/staff/publications/999999/versions/1.pdf",
                f"/staff/publications/{portal.ids['report']}/versions/99.pdf"):
        assert client.get(url).status_code == 404, url


def test_drafts_are_invisible_to_readers_but_not_to_staff(portal: Portal) -> None:
    draft = portal.slugs["draft"]
    anon = portal.client()
    for url in (f"/publications/{draft}", f"/publications/{draft}/file.pdf",
                f"/publications/{draft}/cite.bib", f"/api/publications/{draft}",
                f"/publications/{portal.ids['draft']}"):
        assert anon.get(url).status_code == 404, url
    assert "A draft nobody may see" not in anon.get("/search?q=draft nobody").get_data(
        as_text=True)
    editor = portal.client(EDITOR)
    assert editor.get(f"/staff/publications/{portal.ids['draft']}/edit").status_code == 200


def _snapshot(portal: Portal) -> tuple[object, ...]:
    cat = portal.app.extensions["catalogue"]
    with cat.reading() as session:
        pubs = [(p.id, p.status, p.title, p.revision, len(p.versions))
                for p in staff_listing(session, None, limit=1000)]
        events = len(audit_events(session, limit=100000))
    users = [(a.email, a.role, a.active, a.session_epoch)
             for a in Accounts(cat).list()]
    return pubs, events, users


def _forms(portal: Portal, client: FlaskClient) -> dict[tuple[str, str], dict[str, object]]:
    """For each state-changing staff route, a form that WOULD change something if its CSRF
    token were accepted."""
    report = portal.ids["report"]
    edit = client.get(f"/staff/publications/{report}/edit").get_data(as_text=True)
    revision = re.search(r'name="revision" value="(\d+)"', edit)
    assert revision
    pdf = pdfs.report_pdf("A file sent by a forged form", "Forgery", 2)
    return {
        ("staff.auth.login", "POST"): {"email": EDITOR[0], "password": EDITOR[1]},
        ("staff.auth.logout", "POST"): {},
        ("staff.edit.edit", "POST"): {"revision": revision.group(1), "title": "Forged title",
                                      "type": "report", "action": "publish"},
        ("staff.edit.replace", "POST"): {"file": pdfs_upload(pdf, "forged.pdf"),
                                         "revision": revision.group(1)},
        ("staff.edit.withdraw", "POST"): {"reason": "forged"},
        ("staff.edit.restore", "POST"): {},
        ("staff.edit.delete", "POST"): {"confirm": portal.slugs["report"]},
        ("staff.upload.upload", "POST"): {"files": pdfs_upload(pdf, "forged.pdf")},
        ("staff.accounts.add", "POST"): {"email": "forged@hub.example", "role": "admin",
                                         "password": "a long forged password"},
        ("staff.accounts.disable", "POST"): {"email": EDITOR[0]},
        ("staff.accounts.reset_password", "POST"): {"email": EDITOR[0],
                                                    "password": "a forged new password"},
    }


def pdfs_upload(data: bytes, name: str) -> tuple[io.BytesIO, str]:
    return (io.BytesIO(data), name)


def test_every_state_change_needs_a_valid_csrf_token(portal: Portal) -> None:
    admin = portal.client(ADMIN)
    other = portal.client(EDITOR)
    someone_elses = token(other, "/staff/")  # valid, but for another session
    before = _snapshot(portal)
    changing = sorted((e, m) for e, m, _r in _rules(portal)
                      if m != "GET" and e.startswith("staff."))
    forms = _forms(portal, admin)
    assert set(forms) == set(changing), "add a would-be-harmful form for each new route"
    for endpoint, method in changing:
        url = _url(portal, ROUTES[(endpoint, method)][0].replace("{id_draft}", "{id_report}"))
        for csrf in (None, "forged", "", someone_elses):
            data = dict(forms[(endpoint, method)])
            for key, value in data.items():  # a fresh stream for every attempt
                if isinstance(value, tuple):
                    data[key] = pdfs_upload(value[0].getvalue(), value[1])
            if csrf is not None:
                data["csrf_token"] = csrf
            response = admin.open(url, method=method, data=data)
            assert response.status_code == 400, (endpoint, csrf, response.status_code)
            assert "nothing was changed" in response.get_data(as_text=True)
            assert_security_headers(response, url)
    assert _snapshot(portal) == before
    assert admin.get("/staff/").status_code == 200  # still signed in: logout was refused too
    uploads_dir = portal.app.extensions["catalogue"].settings.files_dir / "tmp"
    assert not any(uploads_dir.glob("*")) if uploads_dir.is_dir() else True


def test_other_methods_are_not_allowed(portal: Portal) -> None:
    admin = portal.client(ADMIN)
    before = _snapshot(portal)
    for endpoint, _method, rule in _rules(portal):
        if not endpoint.startswith("staff."):
            continue
        url = _url(portal, ROUTES[(endpoint, _method)][0])
        for method in ("PUT", "PATCH", "DELETE"):
            assert admin.open(url, method=method).status_code == 405, (method, rule)
    assert _snapshot(portal) == before


def test_sign_in_rotates_the_session(portal: Portal) -> None:
    client = portal.app.test_client()
    page = client.get("/staff/login")
    planted = client.get_cookie("session")
    assert planted is not None, "the sign-in form starts a session (for its CSRF token)"
    before = planted.value
    done = client.post("/staff/login", data={"email": EDITOR[0], "password": EDITOR[1],
                                             "csrf_token": token(client)})
    assert done.status_code == 302 and page.status_code == 200
    after = client.get_cookie("session")
    assert after is not None and after.value != before
    assert client.get("/staff/").status_code == 200
    # Someone who planted or kept the pre-sign-in cookie is not signed in by it.
    attacker = portal.app.test_client()
    attacker.set_cookie("session", before)
    assert attacker.get("/staff/").status_code == 302
    # The signed-in session does not carry the old CSRF token over either.
    assert token(client, "/staff/") != token(attacker, "/staff/login")


def test_sign_out_ends_copies_of_the_session_cookie(portal: Portal) -> None:
    client = portal.client(EDITOR)
    copy = client.get_cookie("session")
    assert copy is not None
    client.post("/staff/logout", data={"csrf_token": token(client, "/staff/")})
    thief = portal.app.test_client()
    thief.set_cookie("session", copy.value)
    assert thief.get("/staff/").status_code == 302


def test_a_forged_or_tampered_session_cookie_is_not_signed_in(portal: Portal) -> None:
    client = portal.client(ADMIN)
    cookie = client.get_cookie("session")
    assert cookie is not None
    tampered = portal.app.test_client()
    tampered.set_cookie("session", cookie.value[:-2] + ("AA" if cookie.value[-2:] != "AA"
                                                        else "BB"))
    assert tampered.get("/staff/").status_code == 302
    made_up = portal.app.test_client()
    made_up.set_cookie("session", '{"uid": 1, "epoch": 1, "since": 9999999999}')
    assert made_up.get("/staff/").status_code == 302


def _error_responses(portal: Portal) -> dict[str, TestResponse]:
    client = portal.client()
    report = portal.slugs["report"]
    return {
        "400": client.get("/search?page=x"),
        "404": client.get("/no/such/page"),
        "405": client.post("/publications"),
        "410": client.get(f"/publications/{portal.slugs['withdrawn']}"),
        "413": client.get("/search?q=" + "x" * 2000),
        "api 404": client.get("/api/publications/nope"),
        "pdf": client.get(f"/publications/{report}/file.pdf"),
        "pdf range": client.get(f"/publications/{report}/file.pdf",
                                headers={"Range": "bytes=0-10"}),
        "cover": client.get(f"/publications/{report}/cover.png"),
        "static": client.get("/static/portal.css"),
        "feed": client.get("/feeds/latest.atom"),
        "oai": client.get("/oai?verb=ListRecords&metadataPrefix=oai_dc"),
        "oai error": client.get("/oai?verb=Nonsense"),
        "json": client.get("/api/search?q=libraries"),
        "bibtex": client.get(f"/publications/{report}/cite.bib"),
        "redirect": client.get(f"/publications/{portal.ids['report']}"),
        "not modified": client.get("/feeds/latest.atom", headers={
            "If-None-Match": client.get("/feeds/latest.atom").headers["ETag"]}),
    }


def test_security_headers_on_every_kind_of_response(portal: Portal) -> None:
    answers = _error_responses(portal)
    codes = {k: r.status_code for k, r in answers.items()}
    assert codes["400"] == 400 and codes["404"] == 404 and codes["405"] == 405
    assert codes["410"] == 410 and codes["413"] == 413 and codes["api 404"] == 404
    assert codes["pdf range"] == 206 and codes["redirect"] == 301
    assert codes["not modified"] == 304
    for name, response in answers.items():
        assert_security_headers(response, name)
        response.close()


def test_security_headers_on_an_internal_error(portal: Portal, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    app = portal.app
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the database fell over")

    monkeypatch.setattr(app.extensions["catalogue"], "count", broken)
    response = app.test_client().get("/")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "fell over" not in html and "Traceback" not in html
    assert_security_headers(response, "500")


def test_https_deployments_get_strict_transport_security(tmp_path: Path) -> None:
    from portal.app import create_app
    from publications.settings import Settings

    plain = create_app(Settings(home=tmp_path / "a"), TESTING=True)
    assert "Strict-Transport-Security" not in plain.test_client().get("/").headers
    secure = create_app(Settings(home=tmp_path / "b", base_url="https://pubs.example"),
                        TESTING=True)
    hsts = secure.test_client().get("/robots.txt").headers.get("Strict-Transport-Security")
    assert hsts and "max-age=" in hsts
    for app in (plain, secure):
        app.extensions["catalogue"].close()


class _CountingFile(io.FileIO):
    """A request body on disk that counts how much of it the portal reads."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.consumed = 0

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def,override]
        n = super().readinto(buffer) or 0
        self.consumed += n
        return n

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        self.consumed += len(data or b"")
        return data or b""


def _big_multipart(path: Path, megabytes: int) -> str:
    boundary = "b0undary"
    with open(path, "wb") as out:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                  f'filename="big.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n'
                  .encode())
        out.write(b"0" * (megabytes * 1024 * 1024))
        out.write(f"\r\n--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}"


def test_large_bodies_are_refused_before_they_are_read(portal: Portal, tmp_path: Path) -> None:
    body = tmp_path / "body"
    content_type = _big_multipart(body, 5)
    size = body.stat().st_size
    # Not signed in: turned away without reading the body (no parsing, no spooling).
    for url in ("/staff/upload", f"/staff/publications/{portal.ids['report']}/file",
                "/staff/users/"):
        with _CountingFile(body) as stream:
            response = portal.app.test_client().post(url, input_stream=stream,
                                                     content_type=content_type)
            assert response.status_code == 302, url
            assert stream.consumed < 64 * 1024, (url, stream.consumed)
    # Signed in, a form that takes no file refuses a body past a form's size (413)...
    editor = portal.client(EDITOR)
    for url in ("/staff/users/disable", f"/staff/publications/{portal.ids['report']}/withdraw",
                "/staff/login"):
        with _CountingFile(body) as stream:
            response = editor.post(url, input_stream=stream, content_type=content_type)
            assert response.status_code == 413, url
            assert stream.consumed < size, url
    # ...and so does the public OAI-PMH endpoint, the one reader route that takes a POST.
    with _CountingFile(body) as stream:
        response = portal.app.test_client().post("/oai", input_stream=stream,
                                                 content_type=content_type)
        assert response.status_code == 413
        assert_security_headers(response, "413")
