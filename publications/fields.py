"""Checks and normalises the metadata fields of a publication record (from staff, a manifest
or a proposal) into the shape the catalogue stores."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from publications.errors import InvalidRecord
from publications.models import ORGANISATION_ROLES, PUBLICATION_TYPES

TEXT_LIMITS = {
    "title": 1000,
    "subtitle": 1000,
    "series": 300,
    "series_number": 40,
    "language": 16,
    "licence": 200,
    "doi": 200,
    "isbn": 40,
    "issn": 40,
    "url": 2000,
    "external_link": 2000,
}
ABSTRACT_LIMIT = 20_000
# Fields copied as they are from a checked record onto a publication.
PLAIN_FIELDS = (
    "series",
    "series_number",
    "abstract",
    "language",
    "licence",
    "doi",
    "isbn",
    "issn",
    "url",
    "external_link",
)
KNOWN_FIELDS = frozenset(
    {
        "title",
        "subtitle",
        "authors",
        "organisations",
        "date",
        "type",
        "series",
        "series_number",
        "topics",
        "keywords",
        "abstract",
        "language",
        "licence",
        "doi",
        "isbn",
        "issn",
        "url",
        "external_link",
        "status",
        "withdrawn_reason",
        "file",
        "id",
        "slug",
    }
)
_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
TYPE_ALIASES = {"working-paper": "working paper", "workingpaper": "working paper", "paper": "working paper"}
ROLE_ALIASES = {"commissioned-by": "commissioned by", "commissioner": "commissioned by"}


@dataclass(frozen=True)
class Author:
    name: str
    affiliation: str = ""


@dataclass(frozen=True)
class OrgRole:
    name: str
    role: str = "publisher"


@dataclass
class Record:
    """A publication's descriptive fields, checked and normalised."""

    title: str = ""
    subtitle: str = ""
    authors: list[Author] = field(default_factory=list)
    organisations: list[OrgRole] = field(default_factory=list)
    date: tuple[int | None, int | None, int | None] = (None, None, None)
    type: str = "report"
    series: str = ""
    series_number: str = ""
    topics: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    abstract: str = ""
    language: str = "en"
    licence: str = ""
    doi: str = ""
    isbn: str = ""
    issn: str = ""
    url: str = ""
    external_link: str = ""


def clean_text(value: Any, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int | float):
        raise InvalidRecord(f"expected text, got {type(value).__name__}")
    text = _CONTROL.sub(" ", str(value))
    text = " ".join(text.split())
    return text[:limit].strip()


def parse_date(value: Any) -> tuple[int | None, int | None, int | None]:
    """'2021', '2021-03' or '2021-03-04' (or an int year) -> (year, month, day)."""
    if value in (None, ""):
        return (None, None, None)
    text = str(value).strip()
    m = _DATE.match(text)
    if not m:
        raise InvalidRecord(f"date {text[:40]!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    year = int(m.group(1))
    month = int(m.group(2)) if m.group(2) else None
    day = int(m.group(3)) if m.group(3) else None
    if not 1000 <= year <= 2999 or (month is not None and not 1 <= month <= 12):
        raise InvalidRecord(f"date {text!r} is out of range")
    if day is not None:
        import datetime

        try:
            datetime.date(year, month or 1, day)
        except ValueError as exc:
            raise InvalidRecord(f"date {text!r} is not a real day") from exc
    return (year, month, day)


def _items(value: Any, what: str) -> list[Any]:
    """A list field's items: a list as it is, text split on ';', nothing for empty values."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [v for v in re.split(r"\s*;\s*", value) if v]
    if not isinstance(value, list | tuple):
        raise InvalidRecord(f"{what} must be a list")
    return list(value)


def _names(value: Any, what: str) -> list[str]:
    out: list[str] = []
    for v in _items(value, what):
        name = clean_text(v, 300)
        if name and name not in out:
            out.append(name)
    return out


def _authors(value: Any) -> list[Author]:
    out: list[Author] = []
    for v in _items(value, "authors"):
        if isinstance(v, Mapping):
            name = clean_text(v.get("name"), 300)
            aff = clean_text(v.get("affiliation"), 300)
        else:
            name, aff = clean_text(v, 300), ""
        if name and all(a.name != name for a in out):
            out.append(Author(name, aff))
    return out


def _organisations(value: Any) -> list[OrgRole]:
    out: list[OrgRole] = []
    for v in _items(value, "organisations"):
        if isinstance(v, Mapping):
            name = clean_text(v.get("name"), 300)
            role = clean_text(v.get("role") or "publisher", 40).lower()
        else:
            name, role = clean_text(v, 300), "publisher"
        role = ROLE_ALIASES.get(role, role)
        if role not in ORGANISATION_ROLES:
            raise InvalidRecord(
                f"organisation role {role!r} is not one of: {', '.join(ORGANISATION_ROLES)}"
            )
        if name and OrgRole(name, role) not in out:
            out.append(OrgRole(name, role))
    return out


def normalise_type(value: Any) -> str:
    text = clean_text(value, 40).lower() or "report"
    text = TYPE_ALIASES.get(text, text.replace("_", " "))
    if text not in PUBLICATION_TYPES:
        raise InvalidRecord(f"type {text!r} is not one of: {', '.join(PUBLICATION_TYPES)}")
    return text


def build_record(data: Mapping[str, Any]) -> Record:
    """Check a mapping of field values; raises InvalidRecord naming the field at fault."""
    rec = Record()
    for name, limit in TEXT_LIMITS.items():
        if name in data:
            try:
                setattr(rec, name, clean_text(data[name], limit))
            except InvalidRecord as exc:
                raise InvalidRecord(f"{name}: {exc}") from exc
    try:
        rec.authors = _authors(data.get("authors"))
        rec.organisations = _organisations(data.get("organisations"))
        rec.topics = _names(data.get("topics"), "topics")
        rec.keywords = _names(data.get("keywords"), "keywords")
        rec.date = parse_date(data.get("date"))
        rec.type = normalise_type(data.get("type"))
        rec.abstract = _abstract(data.get("abstract"))
    except InvalidRecord:
        raise
    rec.language = (rec.language or "en").lower()
    rec.doi = _doi(rec.doi)
    return rec


def _abstract(value: Any) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise InvalidRecord("abstract must be text")
    text = _CONTROL.sub(" ", value)
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p)[:ABSTRACT_LIMIT]


def _doi(value: str) -> str:
    value = value.strip()
    for prefix in ("https://doi.org/", "http://doi.org/", "http://dx.doi.org/", "doi:"):
        if value.lower().startswith(prefix):
            value = value[len(prefix) :]
    return value


def date_iso(date: tuple[int | None, int | None, int | None]) -> str:
    year, month, day = date
    if year is None:
        return ""
    text = f"{year:04d}"
    if month:
        text += f"-{month:02d}"
        if day:
            text += f"-{day:02d}"
    return text
