"""A member of staff's path through the workspace in Chromium: sign in, upload a PDF, watch it
being read, correct the proposed title, publish, find it through the public search, replace its
file, withdraw it and see the tombstone; and two people uploading at the same moment.

Accounts are made with `portal users add --password-stdin` against the served data home, as
whoever runs the portal would. The session fixture has already ingested the whole corpus, so a
corpus PDF uploaded as it is would be a duplicate: the tests upload copies with a PDF comment
appended (same content, new SHA-256), or small PDFs made on the fly.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from tests.browser.conftest import Site
from tests.cli import portal
from tests.conftest import CORPUS
from tests.pdfs import report_pdf

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIRST_PDF = "cermine__example3.pdf"
SECOND_PDF = "cermine__example2.pdf"
READ_TIMEOUT_MS = 60_000  # the background reader on a busy machine
SEARCH_WITHIN_S = 5.0


def _account(site: Site, role: str = "editor") -> tuple[str, str]:
    """A fresh staff account on the served data home: (email, password)."""
    tag = uuid.uuid4().hex[:10]
    email, password = f"staff-{tag}@hub.example", f"browser test password {tag}"
    run = portal(site.home, "users", "add", email, "--role", role, "--password-stdin",
                 stdin=password + "\n", timeout=60)
    assert run.code == 0, run.stderr
    return email, password


def _corpus_copy(name: str, tmp_path: Path) -> Path:
    """A corpus PDF with a comment appended after %%EOF: the same document, a new file."""
    source = CORPUS / "pdfs" / name
    if not source.is_file():
        pytest.skip(f"corpus file {source} not found (see README: Tests)")
    copy = tmp_path / f"copy-{uuid.uuid4().hex[:8]}-{name}"
    copy.write_bytes(source.read_bytes() + f"\n% copy for staff test {uuid.uuid4()}\n".encode())
    return copy


def _sign_in(page, email: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/staff/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/staff/login" not in url)


def _watch_status_pages(page) -> list[int]:  # type: ignore[no-untyped-def]
    """The HTTP statuses of every upload status page the browser is shown from now on."""
    seen: list[int] = []
    page.on("response", lambda r: seen.append(r.status) if "/staff/uploads/" in r.url else None)
    return seen


def _wait_for_form(page) -> int:  # type: ignore[no-untyped-def]
    """Wait while the status page refreshes itself until it moves on to the metadata form;
    the publication's id."""
    page.wait_for_url(re.compile(r"/staff/publications/\d+/edit\?new=1"), timeout=READ_TIMEOUT_MS)
    assert page.get_by_role("heading", level=1).inner_text().startswith("Check the details")
    match = re.search(r"/staff/publications/(\d+)/edit", page.url)
    assert match, page.url
    return int(match.group(1))


def _publish_with_title(page, title: str) -> str:  # type: ignore[no-untyped-def]
    """Replace the proposed title, save and publish; the public page's path."""
    field = page.get_by_label("Title", exact=True)
    proposed = field.input_value()
    assert proposed != title
    field.fill(title)
    page.get_by_role("button", name="Save and publish").click()
    page.wait_for_url(re.compile(r"/staff/publications/\d+/edit$"))
    assert page.locator(".status").first.inner_text() == "published"
    assert page.get_by_label("Title", exact=True).input_value() == title
    public = page.get_by_role("link", name="View the public page").get_attribute("href")
    assert public and public.startswith("/publications/"), public
    return public


def _search_finds(page, words: str, title: str) -> None:  # type: ignore[no-untyped-def]
    """The public search lists `title` within SEARCH_WITHIN_S seconds of publishing."""
    deadline = time.monotonic() + SEARCH_WITHIN_S
    found: list[str] = []
    while True:
        page.goto(f"/search?q={quote_plus(words)}")
        found = page.locator("ol.results > li.item h3 a").all_inner_texts()
        if title in found:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    raise AssertionError(f"{title!r} not found by searching {words!r} within "
                         f"{SEARCH_WITHIN_S:.0f} s; results: {found}")


def _versions(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.locator("table.versions tbody tr td:first-child").all_inner_texts()


def test_upload_correct_publish_search_replace_withdraw(  # type: ignore[no-untyped-def]
        page, corpus_site, tmp_path) -> None:
    email, password = _account(corpus_site)
    first = _corpus_copy(FIRST_PDF, tmp_path)
    second = _corpus_copy(SECOND_PDF, tmp_path)
    words = f"zephyrine {uuid.uuid4().hex[:8]} quillwort"
    title = f"Staff browser test {words}"

    _sign_in(page, email, password)
    page.goto("/staff/upload")
    status_pages = _watch_status_pages(page)
    page.set_input_files("#files", str(first))
    page.get_by_role("button", name="Upload").click()
    pub_id = _wait_for_form(page)
    assert status_pages, "the upload went to its status page"
    public = _publish_with_title(page, title)
    edit_url = page.url

    # Readers find it.
    _search_finds(page, words, title)
    page.get_by_role("link", name=title).click()
    page.wait_for_url(re.compile(re.escape(public) + "$"))
    assert page.get_by_role("heading", level=1).inner_text() == title

    # A new file becomes version 2; version 1 stays listed.
    page.goto(edit_url)
    assert _versions(page) == ["1 (current)"]
    page.set_input_files("#file", str(second))
    page.get_by_role("button", name="Upload new version").click()
    page.wait_for_url(re.compile(rf"/staff/publications/{pub_id}/edit$"))
    assert page.locator(".problem").count() == 0, page.locator(".problem").inner_text()
    assert _versions(page) == ["2 (current)", "1"]
    assert page.get_by_role("link", name=second.name).count() == 1

    # Withdraw with a reason: the public page is a tombstone that says why.
    reason = f"Withdrawn by the staff browser test {uuid.uuid4().hex[:6]}"
    page.get_by_label("Withdraw: reason shown to readers").fill(reason)
    page.get_by_role("button", name="Withdraw").click()
    page.wait_for_url(re.compile(rf"/staff/publications/{pub_id}/edit$"))
    assert page.locator(".status").first.inner_text() == "withdrawn"
    response = page.goto(public)
    assert response is not None and response.status == 410
    assert page.get_by_role("heading", level=1).inner_text() == title
    assert "This publication has been withdrawn." in page.locator("main").inner_text()
    assert reason in page.locator("main").inner_text()


def test_two_people_upload_at_the_same_moment(browser, site, tmp_path) -> None:  # type: ignore[no-untyped-def]
    accounts = [_account(site), _account(site)]
    tag = uuid.uuid4().hex[:8]
    words = [f"marshwort {tag} alpha", f"marshwort {tag} bravo"]
    files = []
    for n, w in enumerate(words):
        files.append(tmp_path / f"simultaneous-{n}.pdf")
        files[-1].write_bytes(report_pdf(f"Proposed title {w}",
                                         f"Body text of the simultaneous upload {w}.", pages=2))
    contexts = [browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 800})
                for _ in accounts]
    try:
        pages = []
        for context, (email, password), path in zip(contexts, accounts, files, strict=True):
            context.set_default_timeout(15_000)
            p = context.new_page()
            _sign_in(p, email, password)
            p.goto("/staff/upload")
            p.set_input_files("#files", str(path))
            pages.append(p)
        # Send both forms before waiting for either to be read.
        for p in pages:
            p.get_by_role("button", name="Upload").click(no_wait_after=True)
        ids = [_wait_for_form(p) for p in pages]
        assert len(set(ids)) == 2, ids
        titles = [f"Simultaneous upload {w}" for w in words]
        for p, t in zip(pages, titles, strict=True):
            _publish_with_title(p, t)
        for w, t in zip(words, titles, strict=True):
            _search_finds(pages[0], w, t)
    finally:
        for context in contexts:
            context.close()
