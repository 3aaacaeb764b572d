"""OAI-PMH 2.0 at /oai: the six verbs, oai_dc records, sets by type and topic, stateless
resumption tokens, withdrawn publications as deleted records. Drafts never appear."""

from __future__ import annotations

import base64
import binascii
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, request, url_for
from werkzeug.datastructures import MultiDict

from portal import metadata
from publications import harvest
from publications.catalogue import type_slug
from publications.errors import NotFound
from publications.models import Publication

bp = Blueprint("oai", __name__)
OAI = "http://www.openarchives.org/OAI/2.0/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
FORMATS = {"oai_dc": ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC)}
PAGE_SIZE = 100  # records per list response; app.config["OAI_PAGE_SIZE"] overrides it
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
VERBS: dict[str, tuple[set[str], set[str], str]] = {
    # verb: (required, optional, exclusive)
    "Identify": (set(), set(), ""),
    "ListMetadataFormats": (set(), {"identifier"}, ""),
    "ListSets": (set(), set(), "resumptionToken"),
    "GetRecord": ({"identifier", "metadataPrefix"}, set(), ""),
    "ListIdentifiers": ({"metadataPrefix"}, {"from", "until", "set"}, "resumptionToken"),
    "ListRecords": ({"metadataPrefix"}, {"from", "until", "set"}, "resumptionToken"),
}


class OAIError(Exception):
    """An OAI-PMH error condition: `code` is the protocol's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _repository_id() -> str:
    return urlsplit(current_app.config["PORTAL_SETTINGS"].base_url).hostname or "localhost"


def identifier_of(pub: Publication) -> str:
    """'oai:<host>:<id>': the id, not the slug, so a retitled publication keeps it."""
    return f"oai:{_repository_id()}:{pub.id}"


def _id_from(identifier: str) -> int:
    prefix = f"oai:{_repository_id()}:"
    local = identifier.removeprefix(prefix)
    if local == identifier or not local.isdigit():
        raise OAIError("idDoesNotExist", f"{identifier} is not an identifier of this repository")
    return int(local)


def _parse_date(value: str, name: str) -> tuple[datetime, bool]:
    """(moment, is_day) from 'YYYY-MM-DD' or 'YYYY-MM-DDThh:mm:ssZ'; else badArgument."""
    for fmt, is_day in (("%Y-%m-%d", True), ("%Y-%m-%dT%H:%M:%SZ", False)):
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if len(value) == (10 if is_day else 20):
            return parsed, is_day
    raise OAIError("badArgument", f"{name} must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ")


def _window(args: dict[str, str]) -> harvest.Window:
    since = before = None
    day_from = day_until = None
    if "from" in args:
        since, day_from = _parse_date(args["from"], "from")
    if "until" in args:
        until, day_until = _parse_date(args["until"], "until")
        before = until + (timedelta(days=1) if day_until else timedelta(seconds=1))
    if day_from is not None and day_until is not None and day_from != day_until:
        raise OAIError("badArgument", "from and until must have the same granularity")
    return harvest.Window(args.get("set", ""), since, before)


# --- resumption tokens: the list request and where it stopped, signed by nothing but
# checked on the way back in; a harvester can only ask for records it could ask for anyway.

def _encode_token(state: dict[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        state = json.loads(raw)
        if not (isinstance(state, dict) and isinstance(state.get("after"), int)
                and isinstance(state.get("cursor"), int) and state.get("prefix") in FORMATS):
            raise ValueError("incomplete token")
        return state
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise OAIError("badResumptionToken", "the resumption token is not valid") from error


# --- the response document ---------------------------------------------------------------

def _envelope(verb: str, args: dict[str, str], echo: bool) -> tuple[ET.Element, ET.Element]:
    root = ET.Element("OAI-PMH", {
        "xmlns": OAI, "xmlns:xsi": XSI,
        "xsi:schemaLocation": f"{OAI} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd",
    })
    ET.SubElement(root, "responseDate").text = _stamp(datetime.now(UTC))
    req = ET.SubElement(root, "request", {"verb": verb, **args} if echo else {})
    req.text = metadata.absolute(url_for("oai.endpoint"))
    return root, req


def _xml(root: ET.Element) -> Response:
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return Response(body, mimetype="text/xml")


def _header(parent: ET.Element, pub: Publication) -> None:
    attrs = {"status": "deleted"} if pub.status == "withdrawn" else {}
    header = ET.SubElement(parent, "header", attrs)
    ET.SubElement(header, "identifier").text = identifier_of(pub)
    ET.SubElement(header, "datestamp").text = _stamp(pub.updated_at)
    ET.SubElement(header, "setSpec").text = f"type:{type_slug(pub.type)}"
    for topic in pub.topics:
        ET.SubElement(header, "setSpec").text = f"topic:{topic.slug}"


def _oai_dc(parent: ET.Element, pub: Publication) -> None:
    """The record in simple Dublin Core."""
    dc = ET.SubElement(parent, "oai_dc:dc", {
        "xmlns:oai_dc": OAI_DC, "xmlns:dc": DC, "xmlns:xsi": XSI,
        "xsi:schemaLocation": f"{OAI_DC} {FORMATS['oai_dc'][0]}",
    })

    def add(name: str, value: str) -> None:
        if value.strip():
            ET.SubElement(dc, f"dc:{name}").text = " ".join(value.split())

    add("title", pub.title + (f": {pub.subtitle}" if pub.subtitle else ""))
    for a in pub.authors:
        add("creator", a.person.name)
    for t in pub.topics:
        add("subject", t.name)
    for k in pub.keywords or []:
        add("subject", k)
    add("description", pub.abstract)
    for o in pub.organisations:
        add("publisher" if o.role == "publisher" else "contributor", o.organisation.name)
    add("date", pub.date_iso)
    add("type", "Text")
    add("type", pub.type)
    if pub.current_version is not None:
        add("format", "application/pdf")
    add("identifier", metadata.page_url(pub))
    if pub.doi:
        add("identifier", f"https://doi.org/{pub.doi}")
    if pub.isbn:
        add("identifier", f"urn:isbn:{pub.isbn}")
    if pub.series:
        add("relation", f"{pub.series} {pub.series_number}".strip())
    add("language", pub.language)
    add("rights", pub.licence)


def _record(parent: ET.Element, pub: Publication) -> None:
    record = ET.SubElement(parent, "record")
    _header(record, pub)
    if pub.status != "withdrawn":  # a deleted record has a header only
        _oai_dc(ET.SubElement(record, "metadata"), pub)


# --- the verbs -----------------------------------------------------------------------------

def _identify(body: ET.Element, _args: dict[str, str]) -> None:
    cat = current_app.extensions["catalogue"]
    with cat.reading() as session:
        earliest = harvest.earliest_change(session) or datetime(1970, 1, 1)
    identify = ET.SubElement(body, "Identify")
    default_email = f"repository@{_repository_id()}"
    for tag, text in (
        ("repositoryName", "Policy publications portal"),
        ("baseURL", metadata.absolute(url_for("oai.endpoint"))),
        ("protocolVersion", "2.0"),
        ("adminEmail", current_app.config.get("OAI_ADMIN_EMAIL", default_email)),
        ("earliestDatestamp", _stamp(earliest)),
        ("deletedRecord", "persistent"),
        ("granularity", GRANULARITY),
    ):
        ET.SubElement(identify, tag).text = text


def _get(identifier: str) -> Publication:
    cat = current_app.extensions["catalogue"]
    with cat.reading() as session:
        try:
            # loads authors, topics and files, so the record can be written after the session
            pub = cat.get(session, _id_from(identifier))
        except NotFound:
            pub = None
        if pub is None or pub.status not in harvest.VISIBLE:
            raise OAIError("idDoesNotExist", f"{identifier} is not in this repository")
        return pub


def _list_formats(body: ET.Element, args: dict[str, str]) -> None:
    if "identifier" in args:
        _get(args["identifier"])
    formats = ET.SubElement(body, "ListMetadataFormats")
    for prefix, (schema, namespace) in FORMATS.items():
        fmt = ET.SubElement(formats, "metadataFormat")
        ET.SubElement(fmt, "metadataPrefix").text = prefix
        ET.SubElement(fmt, "schema").text = schema
        ET.SubElement(fmt, "metadataNamespace").text = namespace


def _list_sets(body: ET.Element, args: dict[str, str]) -> None:
    if "resumptionToken" in args:  # the set list always fits in one response
        raise OAIError("badResumptionToken", "ListSets does not issue resumption tokens")
    with current_app.extensions["catalogue"].reading() as session:
        sets = harvest.sets(session)
    listing = ET.SubElement(body, "ListSets")
    for spec, name in sets:
        node = ET.SubElement(listing, "set")
        ET.SubElement(node, "setSpec").text = spec
        ET.SubElement(node, "setName").text = name


def _check_prefix(prefix: str) -> None:
    if prefix not in FORMATS:
        raise OAIError("cannotDisseminateFormat", f"{prefix} is not a format this repository has")


def _get_record(body: ET.Element, args: dict[str, str]) -> None:
    _check_prefix(args["metadataPrefix"])
    pub = _get(args["identifier"])
    _record(ET.SubElement(body, "GetRecord"), pub)


def _list(body: ET.Element, args: dict[str, str], verb: str) -> None:
    if "resumptionToken" in args:
        state = _decode_token(args["resumptionToken"])
        window = _window({k: state[k] for k in ("from", "until", "set") if state.get(k)})
        prefix = state["prefix"]
    else:
        prefix = args["metadataPrefix"]
        _check_prefix(prefix)
        window = _window(args)
        state = {"prefix": prefix, "after": 0, "cursor": 0,
                 **{k: args[k] for k in ("from", "until", "set") if k in args}}
    size = int(current_app.config.get("OAI_PAGE_SIZE", PAGE_SIZE))
    window = harvest.Window(window.set_spec, window.since, window.before, state["after"])
    cat = current_app.extensions["catalogue"]
    with cat.reading() as session:
        pubs = harvest.changed(session, window, size + 1)
        if not pubs:
            if state["cursor"]:
                raise OAIError("badResumptionToken", "the resumption token has expired")
            raise OAIError("noRecordsMatch", "no records match the request")
        total = harvest.count_changed(session, window) if (pubs[size:] or state["cursor"]) else 0
        listing = ET.SubElement(body, verb)
        for pub in pubs[:size]:
            if verb == "ListRecords":
                _record(listing, pub)
            else:
                _header(listing, pub)
    if len(pubs) > size:
        token = _encode_token({**state, "after": pubs[size - 1].id,
                               "cursor": state["cursor"] + size})
        node = ET.SubElement(listing, "resumptionToken",
                             {"completeListSize": str(total), "cursor": str(state["cursor"])})
        node.text = token
    elif state["cursor"]:  # the last page of a list that came in parts: an empty token
        ET.SubElement(listing, "resumptionToken",
                      {"completeListSize": str(total), "cursor": str(state["cursor"])})


def _arguments(values: MultiDict) -> tuple[str, dict[str, str]]:
    """The verb and the other arguments; raises badVerb or badArgument."""
    verbs = values.getlist("verb")
    if len(verbs) != 1 or verbs[0] not in VERBS:
        raise OAIError("badVerb", "the verb is missing, repeated or not an OAI-PMH verb")
    verb = verbs[0]
    args: dict[str, str] = {}
    for key in values:
        if key == "verb":
            continue
        if len(values.getlist(key)) > 1:
            raise OAIError("badArgument", f"{key} is repeated")
        args[key] = values[key]
    required, optional, exclusive = VERBS[verb]
    unknown = set(args) - required - optional - {exclusive}
    if unknown:
        raise OAIError("badArgument", f"{verb} does not take {', '.join(sorted(unknown))}")
    if exclusive and exclusive in args:
        if len(args) > 1:
            raise OAIError("badArgument", f"{exclusive} must be the only argument")
        return verb, args
    missing = required - set(args)
    if missing:
        raise OAIError("badArgument", f"{verb} needs {', '.join(sorted(missing))}")
    return verb, args


@bp.route("/oai", methods=["GET", "POST"])
def endpoint() -> Response:
    """Answer one OAI-PMH request; every error is an <error> element with its code."""
    values = request.values if request.method == "POST" else request.args
    verb, args = values.get("verb", ""), {}
    try:
        verb, args = _arguments(values)
    except OAIError as error:
        root, _ = _envelope(verb, {}, echo=False)
        ET.SubElement(root, "error", code=error.code).text = error.message
        return _xml(root)
    root, echoed = _envelope(verb, args, echo=True)
    body = ET.Element("body")
    try:
        if verb == "Identify":
            _identify(body, args)
        elif verb == "ListMetadataFormats":
            _list_formats(body, args)
        elif verb == "ListSets":
            _list_sets(body, args)
        elif verb == "GetRecord":
            _get_record(body, args)
        else:
            _list(body, args, verb)
    except OAIError as error:
        if error.code == "badArgument":  # the protocol says: echo no arguments then
            echoed.attrib.clear()
        ET.SubElement(root, "error", code=error.code).text = error.message
        return _xml(root)
    root.extend(list(body))
    return _xml(root)
