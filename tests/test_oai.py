"""OAI-PMH: Sickle harvests a collection that needs resumption tokens; every error code."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sickle import Sickle, oaiexceptions
from werkzeug.serving import make_server

from portal.app import create_app
from publications.fields import build_record
from publications.settings import Settings

NS = {"o": "http://www.openarchives.org/OAI/2.0/", "dc": "http://purl.org/dc/elements/1.1/"}
PUBLISHED = 30
PAGE = 7


@pytest.fixture(scope="module")
def app(tmp_path_factory):  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("oai") / "home"
    app = create_app(Settings(home=home), TESTING=True, OAI_PAGE_SIZE=PAGE)
    cat = app.extensions["catalogue"]
    slugs = []
    for n in range(PUBLISHED):
        stored = cat.add(build_record({
            "title": f"Report number {n}", "date": f"{2000 + n % 20}",
            "type": "working paper" if n % 3 == 0 else "report",
            "authors": ["Priya Shah"], "topics": ["Housing"] if n % 2 else ["Health"],
            "abstract": f"Findings {n}.", "doi": f"10.5555/r{n}",
        }), status="published")
        slugs.append(stored.slug)
    cat.add(build_record({"title": "A draft"}), status="draft")
    cat.set_status(slugs[4], "withdrawn", reason="Superseded")
    with cat.reading() as session:
        app.config["IDS"] = {s: cat.get(session, s).id for s in slugs}
    yield app
    cat.close()
    app.extensions["index"].close()


@pytest.fixture(scope="module")
def base_url(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/oai"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


def _sickle(base_url: str) -> Sickle:
    return Sickle(base_url, max_retries=0, timeout=10)


def test_sickle_harvests_everything_through_resumption_tokens(app, base_url) -> None:  # type: ignore[no-untyped-def]
    records = list(_sickle(base_url).ListRecords(metadataPrefix="oai_dc"))
    assert len(records) == PUBLISHED  # 29 published + 1 withdrawn (deleted); no draft
    deleted = [r for r in records if r.deleted]
    assert len(deleted) == 1
    assert deleted[0].header.identifier.endswith(":" + str(app.config["IDS"]["report-number-4"]))
    live = [r for r in records if not r.deleted]
    titles = {r.metadata["title"][0] for r in live}
    assert titles == {f"Report number {n}" for n in range(PUBLISHED) if n != 4}
    first = next(r for r in live if r.metadata["title"] == ["Report number 0"])
    assert first.metadata["creator"] == ["Priya Shah"]
    assert "https://doi.org/10.5555/r0" in first.metadata["identifier"]
    assert first.metadata["date"] == ["2000"]
    identifiers = list(_sickle(base_url).ListIdentifiers(metadataPrefix="oai_dc"))
    assert len(identifiers) == PUBLISHED
    assert len({h.identifier for h in identifiers}) == PUBLISHED


def test_sets_and_dates(base_url) -> None:  # type: ignore[no-untyped-def]
    sickle = _sickle(base_url)
    specs = {s.setSpec for s in sickle.ListSets()}
    assert specs == {"type:report", "type:working-paper", "topic:health", "topic:housing"}
    working = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", set="type:working-paper"))
    assert len(working) == 10
    housing = list(sickle.ListRecords(metadataPrefix="oai_dc", set="topic:housing"))
    assert len(housing) == 15
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert len(list(sickle.ListIdentifiers(metadataPrefix="oai_dc", **{"from": today}))) == 30
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    with pytest.raises(oaiexceptions.NoRecordsMatch):
        list(sickle.ListIdentifiers(metadataPrefix="oai_dc", **{"from": tomorrow}))
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    with pytest.raises(oaiexceptions.NoRecordsMatch):
        list(sickle.ListIdentifiers(metadataPrefix="oai_dc", until=yesterday))
    with pytest.raises(oaiexceptions.NoRecordsMatch):
        list(sickle.ListIdentifiers(metadataPrefix="oai_dc", set="topic:nothing"))


def test_identify_formats_and_get_record(app, base_url) -> None:  # type: ignore[no-untyped-def]
    sickle = _sickle(base_url)
    identify = sickle.Identify()
    assert identify.protocolVersion == "2.0"
    assert identify.deletedRecord == "persistent"
    assert identify.granularity == "YYYY-MM-DDThh:mm:ssZ"
    assert identify.baseURL == "http://127.0.0.1:5000/oai"
    assert [f.metadataPrefix for f in sickle.ListMetadataFormats()] == ["oai_dc"]
    pub_id = app.config["IDS"]["report-number-0"]
    record = sickle.GetRecord(identifier=f"oai:127.0.0.1:{pub_id}", metadataPrefix="oai_dc")
    assert record.metadata["title"] == ["Report number 0"]
    assert "type:working-paper" in record.header.setSpecs
    formats = list(sickle.ListMetadataFormats(identifier=f"oai:127.0.0.1:{pub_id}"))
    assert len(formats) == 1


def _error(client, **args: str) -> str:  # type: ignore[no-untyped-def]
    response = client.get("/oai", query_string=args)
    assert response.status_code == 200 and response.mimetype == "text/xml"
    root = ET.fromstring(response.data)
    (error,) = root.findall("o:error", NS)
    request = root.find("o:request", NS)
    if error.get("code") in ("badVerb", "badArgument"):
        assert request is not None and not request.attrib  # no echo of a bad request
    return error.get("code") or ""


def test_every_error_code(app, client) -> None:  # type: ignore[no-untyped-def]
    draft_id = max(app.config["IDS"].values()) + 1
    assert _error(client) == "badVerb"
    assert _error(client, verb="Harvest") == "badVerb"
    assert client.get("/oai?verb=Identify&verb=Identify").data.count(b'code="badVerb"') == 1
    assert _error(client, verb="Identify", extra="1") == "badArgument"
    assert _error(client, verb="ListRecords") == "badArgument"
    assert _error(client, verb="GetRecord", identifier="oai:127.0.0.1:1") == "badArgument"
    assert _error(client, verb="ListRecords", metadataPrefix="oai_dc",
                  **{"from": "2020-01-01T00:00:00Z", "until": "2021-01-01"}) == "badArgument"
    assert _error(client, verb="ListRecords", metadataPrefix="oai_dc",
                  **{"from": "yesterday"}) == "badArgument"
    assert _error(client, verb="ListRecords", metadataPrefix="oai_dc",
                  resumptionToken="abc") == "badArgument"
    assert client.get("/oai?verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc"
                      ).data.count(b'code="badArgument"') == 1
    assert _error(client, verb="ListRecords", metadataPrefix="marcxml") == "cannotDisseminateFormat"
    assert _error(client, verb="GetRecord", identifier="oai:127.0.0.1:1",
                  metadataPrefix="mods") == "cannotDisseminateFormat"
    assert _error(client, verb="GetRecord", identifier="oai:elsewhere.org:1",
                  metadataPrefix="oai_dc") == "idDoesNotExist"
    assert _error(client, verb="GetRecord", identifier=f"oai:127.0.0.1:{draft_id}",
                  metadataPrefix="oai_dc") == "idDoesNotExist"
    assert _error(client, verb="ListMetadataFormats",
                  identifier="oai:127.0.0.1:99999") == "idDoesNotExist"
    assert _error(client, verb="ListIdentifiers", metadataPrefix="oai_dc",
                  **{"from": "2999-01-01"}) == "noRecordsMatch"
    assert _error(client, verb="ListRecords", resumptionToken="not-a-token") == (
        "badResumptionToken")
    assert _error(client, verb="ListSets", resumptionToken="x") == "badResumptionToken"


def test_withdrawn_record_is_a_deleted_header(app, client) -> None:  # type: ignore[no-untyped-def]
    pub_id = app.config["IDS"]["report-number-4"]
    response = client.get("/oai", query_string={"verb": "GetRecord", "metadataPrefix": "oai_dc",
                                                 "identifier": f"oai:127.0.0.1:{pub_id}"})
    root = ET.fromstring(response.data)
    header = root.find("o:GetRecord/o:record/o:header", NS)
    assert header is not None and header.get("status") == "deleted"
    assert root.find("o:GetRecord/o:record/o:metadata", NS) is None


def test_post_and_token_pages(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/oai", data={"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"})
    root = ET.fromstring(response.data)
    token = root.find("o:ListIdentifiers/o:resumptionToken", NS)
    assert token is not None and token.get("completeListSize") == "30"
    assert token.get("cursor") == "0" and len(root.findall("o:ListIdentifiers/o:header", NS)) == 7
    seen = 7
    while token is not None and token.text:
        root = ET.fromstring(client.get("/oai", query_string={
            "verb": "ListIdentifiers", "resumptionToken": token.text}).data)
        seen += len(root.findall("o:ListIdentifiers/o:header", NS))
        token = root.find("o:ListIdentifiers/o:resumptionToken", NS)
    assert seen == 30 and token is not None and token.get("cursor") == "28"
