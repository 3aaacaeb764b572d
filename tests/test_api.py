"""The JSON API, driven by the examples in docs/api.md, plus its CORS, ETags and errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.interop import build_app, close_app

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
BLOCK = re.compile(r"```(http|json)\n(.*?)```", re.S)


def examples() -> list[tuple[str, object]]:
    """(path, documented JSON) for each `http` block and the `json` block after it."""
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    out = []
    for (kind, text), (next_kind, answer) in zip(blocks, blocks[1:], strict=False):
        if kind == "http" and next_kind == "json":
            method, path = text.split()
            assert method == "GET"
            out.append((path, json.loads(answer)))
    return out


@pytest.fixture(scope="module")
def app(tmp_path_factory):  # type: ignore[no-untyped-def]
    from publications.settings import Settings

    tmp = tmp_path_factory.mktemp("api")
    app = build_app(Settings(home=tmp / "home", extract_timeout=60.0), tmp)
    yield app
    close_app(app)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


def _same_shape(documented: object, actual: object, where: str) -> None:
    """Every key the docs show is in the answer, recursively (values may differ)."""
    if isinstance(documented, dict):
        assert isinstance(actual, dict), where
        for key, value in documented.items():
            assert key in actual, f"{where}.{key} is documented but missing"
            _same_shape(value, actual[key], f"{where}.{key}")
    elif isinstance(documented, list) and documented:
        assert isinstance(actual, list) and actual, f"{where} should be a non-empty list"
        _same_shape(documented[0], actual[0], f"{where}[0]")


def test_docs_have_examples() -> None:
    assert len(examples()) >= 3


@pytest.mark.parametrize(("path", "documented"), examples())
def test_documented_example(client, path: str, documented: object) -> None:  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.mimetype == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    _same_shape(documented, response.get_json(), path)


def test_search_matches_the_search_page(client) -> None:  # type: ignore[no-untyped-def]
    data = client.get("/api/search?q=libraries").get_json()
    assert data["total"] >= 2
    first = data["hits"][0]
    assert first["title"] == "Volunteer-run libraries in Lanton"
    assert first["pages"] and first["pages"][0]["url"].endswith(f"#page={first['pages'][0]['page']}")
    assert {f for f in data["facets"]} >= {"type", "year", "topic"}
    html = client.get("/search?q=libraries").get_data(as_text=True)
    assert f"<strong>{data['total']}</strong> result" in html
    books = client.get("/api/search?type=book").get_json()
    assert [h["title"] for h in books["hits"]] == ["The civic library"]


def test_etags_and_errors(app, client) -> None:  # type: ignore[no-untyped-def]
    slug = app.config["SLUGS"]["report"]
    first = client.get(f"/api/publications/{slug}")
    etag = first.headers["ETag"]
    again = client.get(f"/api/publications/{slug}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["Access-Control-Allow-Origin"] == "*"
    missing = client.get("/api/publications/no-such-thing")
    assert missing.status_code == 404 and missing.get_json()["error"]["status"] == 404
    assert client.get("/api/search?limit=500").status_code == 400
    assert client.get("/api/search?sort=up").status_code == 400
    assert client.get("/api/publications?page=x").status_code == 400
    assert client.get("/api/publications?page=99").status_code == 404
    assert client.get("/api/search", query_string={"q": "x" * 1001}).status_code == 413
    by_id = client.get(f"/api/publications/{first.get_json()['id']}")
    assert by_id.status_code == 301 and by_id.headers["Location"].endswith(slug)


def test_withdrawn_and_drafts(app, client) -> None:  # type: ignore[no-untyped-def]
    from publications.fields import build_record

    cat = app.extensions["catalogue"]
    draft = cat.add(build_record({"title": "Hidden draft"}), status="draft")
    assert client.get(f"/api/publications/{draft.slug}").status_code == 404
    gone = cat.add(build_record({"title": "Withdrawn one"}), status="published")
    cat.set_status(gone.slug, "withdrawn", reason="Errors found")
    answer = client.get(f"/api/publications/{gone.slug}")
    assert answer.status_code == 410 and answer.get_json()["withdrawn_reason"] == "Errors found"
    listed = client.get("/api/publications?per_page=100").get_json()
    assert {"Hidden draft", "Withdrawn one"}.isdisjoint(p["title"] for p in listed["publications"])
