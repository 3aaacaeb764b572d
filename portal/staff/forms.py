"""Between a publication's record and the edit form: plain text boxes people can fill in.

Authors are one per line as "Name (Affiliation)", organisations one per line as
"Name (role)", topics and keywords one per line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from publications.fields import ROLE_ALIASES, build_record
from publications.models import ORGANISATION_ROLES

TEXT_FIELDS = ("title", "subtitle", "date", "type", "series", "series_number", "abstract",
               "language", "licence", "doi", "isbn", "issn", "url", "external_link")
LIST_FIELDS = ("authors", "organisations", "topics", "keywords")
FIELDS = TEXT_FIELDS + LIST_FIELDS
_PARENS = re.compile(r"^(.*?)\s*\(([^()]*)\)\s*$")

# Where a proposed value came from, in words staff understand.
SOURCES = {
    "document-metadata": "from the PDF's document properties",
    "xmp": "from the PDF's XMP metadata",
    "first-page": "read from the first page",
    "text": "read from the text",
    "filename": "from the file name",
    "staff": "entered by staff",
    "manifest": "from an import manifest",
    "needs-title": "not found: please enter it",
}


def source_label(source: str | None) -> str:
    if not source:
        return ""
    return SOURCES.get(source, f"from {source}")


def to_form(record: Mapping[str, Any]) -> dict[str, str]:
    """A record_of() mapping as the strings shown in the form."""
    out = {name: str(record.get(name) or "") for name in TEXT_FIELDS}
    out["authors"] = "\n".join(
        f"{a['name']} ({a['affiliation']})" if a.get("affiliation") else a["name"]
        for a in record.get("authors") or [])
    out["organisations"] = "\n".join(
        f"{o['name']} ({o['role']})" for o in record.get("organisations") or [])
    out["topics"] = "\n".join(record.get("topics") or [])
    out["keywords"] = "\n".join(record.get("keywords") or [])
    return out


def from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The submitted text boxes as a record mapping (checked later by build_record)."""
    values: dict[str, Any] = {name: form.get(name, "") for name in TEXT_FIELDS}
    values["authors"] = [_author(line) for line in _lines(form.get("authors", ""))]
    values["organisations"] = [_organisation(line)
                               for line in _lines(form.get("organisations", ""))]
    values["topics"] = _lines(form.get("topics", ""))
    values["keywords"] = _lines(form.get("keywords", ""))
    return values


def changed_fields(current: Mapping[str, Any], submitted: Mapping[str, Any]) -> dict[str, Any]:
    """Only the fields whose checked value differs, so the audit shows real changes.

    Raises InvalidRecord (naming the field) when a submitted value cannot be used.
    """
    before, after = build_record(current), build_record(submitted)
    return {name: submitted[name] for name in FIELDS
            if getattr(before, name) != getattr(after, name)}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _author(line: str) -> dict[str, str]:
    m = _PARENS.match(line)
    if m and m.group(1):
        return {"name": m.group(1), "affiliation": m.group(2)}
    return {"name": line, "affiliation": ""}


def _organisation(line: str) -> dict[str, str]:
    m = _PARENS.match(line)
    if m and m.group(1):
        role = m.group(2).strip().lower()
        role = ROLE_ALIASES.get(role, role)
        if role in ORGANISATION_ROLES:
            return {"name": m.group(1), "role": role}
    return {"name": line, "role": "publisher"}
