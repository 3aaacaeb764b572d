"""Browser tests: a real `portal serve` on loopback, driven by Chromium through Playwright.

One server per session, over a temporary data home loaded with the sample collection and, when
it is present, the third-party corpus (`portal ingest --publish`). One sample publication is
withdrawn so its tombstone page can be checked.

Skips, each with a message saying what is missing: the `playwright` package, Debian's
`chromium` (Playwright's own browser download is never used), axe-core (`npm ci` in
tests/browser, for the accessibility tests only), the corpus (for the tests that search it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli import ROOT, popen, portal
from tests.conftest import CORPUS

HERE = Path(__file__).resolve().parent
AXE_JS = HERE / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
WITHDRAWN = "hub-bulletin-issue-12-summer-2017"
WITHDRAWN_REASON = "Replaced by a corrected issue"


def missing(reason: str) -> None:
    """Skip on a developer's machine; fail in CI, where .ci/run installs everything, so a
    missing install step cannot hide behind a green run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI: {reason}")
    pytest.skip(reason)


def chromium_path() -> str:
    """Debian's Chromium, or skip with a message saying how to get it."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    missing("browser tests need Chromium at /usr/bin/chromium "
            "(Debian: apt-get install chromium; .ci/run installs it)")
    raise AssertionError("unreachable")


def axe_path() -> Path:
    if not AXE_JS.is_file():
        missing(f"accessibility tests need axe-core at {AXE_JS} "
                "(run `npm ci` in tests/browser; .ci/run does)")
    return AXE_JS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Site:
    url: str
    home: Path
    has_corpus: bool
    withdrawn: str = WITHDRAWN


def _wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"portal serve exited with {proc.returncode}: "
                               f"{proc.stderr.read() if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(url + "/static/portal.css", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"portal serve did not answer at {url} within {timeout:.0f} s")


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The portal served on 127.0.0.1 at a free port, loaded and with one tombstone."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing("browser tests need the `playwright` package (pip install -e '.[test]')")
    chromium_path()
    base = tmp_path_factory.mktemp("browser")
    home = base / "home"
    samples = base / "samples"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_samples.py"), str(samples)],
                   check=True, capture_output=True, cwd=ROOT, timeout=300)
    run = portal(home, "import", str(samples / "manifest.jsonl"), "--publish", timeout=300)
    assert run.code == 0, run.stderr
    has_corpus = (CORPUS / "pdfs").is_dir()
    if has_corpus:
        # Some corpus files are broken on purpose (exit 1 names them); the rest must go in.
        run = portal(home, "ingest", "--publish", "--jobs", "4", str(CORPUS / "pdfs"),
                     timeout=900)
        assert run.code in (0, 1), run.stderr
    run = portal(home, "withdraw", WITHDRAWN, "--reason", WITHDRAWN_REASON)
    assert run.code == 0, run.stderr

    port = free_port()
    proc = popen(home, "serve", "--host", "127.0.0.1", "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, proc)
        yield Site(url=url, home=home, has_corpus=has_corpus)
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


@pytest.fixture
def corpus_site(site: Site) -> Site:
    """The served portal, for tests that search the third-party corpus (skipped without it)."""
    if not site.has_corpus:
        pytest.skip(f"third-party corpus not found at {CORPUS} (see README: Tests)")
    return site


@pytest.fixture(scope="session")
def browser(site: Site):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _context(browser, site: Site, **options):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=site.url, **options)
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
def page(browser, site: Site):  # type: ignore[no-untyped-def]
    """A desktop-sized page (1280 x 800) in a fresh browser context."""
    context = _context(browser, site, viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser, site: Site):  # type: ignore[no-untyped-def]
    """A 375-pixel-wide page, as on a small phone."""
    context = _context(browser, site, viewport={"width": 375, "height": 740},
                       device_scale_factor=2, is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


@pytest.fixture
def axe_page(browser, site: Site):  # type: ignore[no-untyped-def]
    """A page whose context bypasses the portal's CSP, so axe-core can be injected."""
    axe_path()
    context = _context(browser, site, viewport={"width": 1280, "height": 800}, bypass_csp=True)
    yield context.new_page()
    context.close()


@pytest.fixture
def axe_phone(browser, site: Site):  # type: ignore[no-untyped-def]
    """As `axe_page`, 375 pixels wide."""
    axe_path()
    context = _context(browser, site, viewport={"width": 375, "height": 740}, is_mobile=True,
                       has_touch=True, bypass_csp=True)
    yield context.new_page()
    context.close()
