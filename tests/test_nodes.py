"""Several portal nodes on one PostgreSQL catalogue, each with its own index replica.

Real `portal serve` processes on loopback; changes are made with the `portal` command run as
an operator of one node. Skipped without PORTAL_TEST_POSTGRES_URL (failed under CI=true).
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from index import SearchIndex
from tests import pdfs
from tests.nodes import Node, make_nodes, wait_for
from tests.pg import fresh_schema

pytestmark = pytest.mark.slow

# How long a change may take to reach another node's search in these tests. The design
# target is a few seconds (the indexer polls every second); the margin absorbs a loaded
# machine, and the tests print what they measured.
PROPAGATION = 30.0


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[Node]]:
    with fresh_schema() as url:
        started = make_nodes(tmp_path, url)
        try:
            yield started
        finally:
            for node in started:
                node.stop()


def _write_reports(directory: Path, titles: list[str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for n, title in enumerate(titles):
        body = "Reading rooms and volunteer librarians across the county"
        pdfs.write(directory / f"{n:03d}.pdf", pdfs.report_pdf(title, body, 2))
    return directory


def _ingest(node: Node, directory: Path) -> list[dict]:
    run = node.cli("ingest", "--publish", "--json", "--jobs", "2", str(directory))
    assert run.code == 0, run.stderr
    assert all(line["status"] == "added" for line in run.lines), run.stdout
    return run.lines


def _total(node: Node, q: str) -> int:
    return int(node.search(q)["total"])


def test_a_change_on_one_node_reaches_the_other(nodes: list[Node], tmp_path: Path) -> None:
    a, b = nodes
    a.start()
    b.start()

    # Published through A ...
    added = _ingest(a, _write_reports(tmp_path / "in", ["Community libraries after austerity"]))
    slug = added[0]["slug"]
    took = wait_for(lambda: "Community libraries after austerity" in b.titles("libraries"),
                    PROPAGATION, "the publication found by a search on node B")
    print(f"\npublished on A, found on B after {took:.1f} s")

    # ... edited on B shows on A ...
    run = b.cli("edit", slug, "--set", "title=Community libraries after the cuts")
    assert run.code == 0, run.stderr
    took = wait_for(lambda: "Community libraries after the cuts" in a.titles("libraries cuts"),
                    PROPAGATION, "the edited title in node A's search")
    print(f"edited on B, shown on A after {took:.1f} s")

    # ... withdrawn on either disappears from both.
    run = a.cli("withdraw", slug, "--reason", "Superseded by the 2024 edition")
    assert run.code == 0, run.stderr
    for node in (a, b):
        wait_for(lambda node=node: _total(node, "libraries") == 0, PROPAGATION,
                 f"the withdrawn publication gone from node {node.name}'s search")
        assert node.status(f"/publications/{added[0]['slug']}") == 410

    # Each node's `portal check` compares its own index with the shared catalogue.
    for node in (a, b):
        run = node.cli("check")
        assert run.code == 0, run.stdout + run.stderr
        assert "agree" in run.stdout


def test_a_stopped_node_catches_up_and_one_past_the_retention_rebuilds(
    nodes: list[Node], tmp_path: Path
) -> None:
    a, b = nodes
    a.start()
    b.start()
    _ingest(a, _write_reports(tmp_path / "first", ["Libraries survey one"]))
    wait_for(lambda: _total(b, "libraries") == 1, PROPAGATION, "node B has the first report")
    b.stop()

    # While B is down, A takes 50 uploads.
    titles = [f"Volunteer libraries study {n}" for n in range(50)]
    _ingest(a, _write_reports(tmp_path / "fifty", titles))
    assert _total(a, "libraries") == 51

    seen: list[int] = []
    b.start()
    took = wait_for(lambda: seen.append(_total(b, "libraries")) or seen[-1] == 51,
                    PROPAGATION * 2, "node B caught up with the 50 uploads")
    assert min(seen) >= 1, seen  # a reader on B never saw an empty index
    print(f"\nnode B caught up with 50 uploads {took:.1f} s after it answered")
    b.stop()

    # B down again; A keeps one day's journal ... of about a second, and prunes.
    generation = (b.index_dir / "CURRENT").read_text()
    # (Two changes: pruning always keeps the newest row, so B misses the first.)
    _ingest(a, _write_reports(tmp_path / "late", ["Libraries late report", "Libraries last"]))
    a.stop()
    time.sleep(2)
    a.start(PORTAL_JOURNAL_RETENTION_DAYS=str(1 / 86400))
    wait_for(lambda: "changes it never saw are gone" in b.cli("check").stdout,
             PROPAGATION, "the journal pruned past node B's position")

    seen = []
    b.start()
    wait_for(lambda: seen.append(_total(b, "libraries")) or seen[-1] == 53,
             PROPAGATION * 2, "node B rebuilt and has every publication")
    assert min(seen) >= 51, seen  # the old generation served until the new one was ready
    assert (b.index_dir / "CURRENT").read_text() != generation
    run = b.cli("check")
    assert run.code == 0, run.stdout + run.stderr


def test_a_node_killed_while_applying_the_journal_resumes(
    nodes: list[Node], tmp_path: Path
) -> None:
    a, b = nodes
    a.start()
    b.start()
    wait_for(lambda: (b.index_dir / "CURRENT").exists(), PROPAGATION, "node B has an index")
    b.stop()
    titles = [f"Library services review {n}" for n in range(50)]
    _ingest(a, _write_reports(tmp_path / "fifty", titles))
    a.stop()

    # Start B and SIGKILL it at random moments while it works through the 50 changes.
    rng = random.Random(9)
    for _ in range(4):
        b.start()
        time.sleep(rng.uniform(0.0, 1.5))
        b.stop(signal.SIGKILL)

    b.start()
    wait_for(lambda: _total(b, "library services") == 50, PROPAGATION * 2,
             "node B has every publication after the kills")
    b.stop()
    index = SearchIndex(b.index_dir)
    try:
        ids = index.doc_ids()
        assert len(ids) == 50
        assert index.doc_count() == 50  # nothing indexed twice
    finally:
        index.close()
    run = b.cli("check")
    assert run.code == 0, run.stdout + run.stderr


# --- behind nginx ---------------------------------------------------------------------------

NGINX_CONF = """
worker_processes 1;
error_log {dir}/error.log;
pid {dir}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream portal {{
        # max_fails=0: nginx's own probe, sent before the nodes start, must not mark them
        # down for the next 10 s (fail_timeout), or the test's first requests get 502
        server 127.0.0.1:{a} max_fails=0;
        server 127.0.0.1:{b} max_fails=0;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://portal;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


@pytest.fixture
def nginx(nodes: list[Node], tmp_path: Path) -> Iterator[str]:
    """nginx on loopback balancing (round robin) over the two nodes; yields its base URL."""
    import os
    import shutil
    import subprocess

    from tests.nodes import free_port

    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                       else None)
    if binary is None:
        message = "nginx is not installed (Debian package nginx; `.ci/run` installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    directory = tmp_path / "nginx"
    directory.mkdir()
    port = free_port()
    conf = directory / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=directory, a=nodes[0].port, b=nodes[1].port,
                                      port=port))
    # One foreground process, no privilege drop: a test's own small nginx.
    proc = subprocess.Popen(
        [binary, "-p", str(directory), "-c", str(conf), "-g", "daemon off; master_process off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url) or proc.poll() is not None, 20, "nginx answers")
        assert proc.poll() is None, (directory / "error.log").read_text(errors="replace")
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


def _answers(url: str) -> bool:
    """True once anything answers HTTP at `url` (a 502 counts: the nodes may not be up)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url + "/robots.txt", timeout=5):
            return True
    except urllib.error.HTTPError as exc:
        exc.close()
        return True
    except OSError:
        return False


class _Browser:
    """A cookie-keeping client that does not follow redirects (to see them)."""

    def __init__(self) -> None:
        import http.cookiejar
        import urllib.request

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
                return None

        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()
        )

    def request(self, url: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        import urllib.error
        from urllib.parse import urlencode

        data = urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(url, data=data, timeout=20) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


def test_behind_nginx_a_staff_login_and_a_reader_work_on_either_node(
    nodes: list[Node], nginx: str, tmp_path: Path
) -> None:
    import re
    import urllib.request

    a, b = nodes
    a.start()
    b.start()
    added = a.cli("users", "add", "editor@hub.example", "--role", "editor", "--password-stdin",
                  stdin="a long editor password\n")
    assert added.code == 0, added.stderr
    _ingest(a, _write_reports(tmp_path / "in", ["Libraries open on Sundays"]))
    wait_for(lambda: _total(b, "libraries") == 1, PROPAGATION, "node B has the report")

    # A reader gets the same answers whichever node nginx picks (round robin).
    reader = _Browser()
    for _ in range(4):
        status, html = reader.request(nginx + "/search?q=libraries+sundays")
        assert status == 200
        assert "Libraries open on Sundays" in html

    # Staff sign in through nginx: the form comes from one node and is posted to the other,
    # so the CSRF token and the session cookie are checked by a node that did not issue them.
    staff = _Browser()
    status, html = staff.request(nginx + "/staff/login")
    assert status == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token, html[:500]
    status, _ = staff.request(nginx + "/staff/login", {
        "email": "editor@hub.example", "password": "a long editor password",
        "csrf_token": token.group(1),
    })
    assert status == 302
    for node in (a, b):  # the signed session cookie works on each node directly
        req = urllib.request.Request(node.url + "/staff/",
                                     headers={"Cookie": staff.cookie_header()})
        with urllib.request.urlopen(req, timeout=20) as r:
            page = r.read().decode()
        assert "Sign out" in page or "sign out" in page.lower(), page[:500]
    for _ in range(4):  # and through nginx, whichever node answers
        status, page = staff.request(nginx + "/staff/")
        assert status == 200
