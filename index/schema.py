"""The Whoosh schema, its version, and the mapping from PublicationDoc to index documents."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from whoosh import columns, fields
from whoosh.formats import Positions

from .analysis import (
    LIST_SEP,
    PagedText,
    PagePositions,
    clean_label,
    english_analyzer,
    exact_list_analyzer,
    mark_language,
    other_language_analyzer,
    plain_analyzer,
    title_sort_key,
)
from .documents import PublicationDoc

# Bump whenever fields, analysis or document mapping change: `needs_rebuild()` compares it.
SCHEMA_VERSION = 2

KIND_PUB = "pub"
KIND_PAGE = "page"
KIND_META = "meta"

# English (stemmed) text fields of publication documents, and their unstemmed twins used
# for non-English publications.
PUB_TEXT_FIELDS = ("title", "subtitle", "abstract", "keywords", "topic_t", "series_t", "body")
PUB_PLAIN_FIELDS = ("title_u", "abstract_u", "body_u", "names")
PAGE_FIELDS = ("content", "content_u")
# A publication's text goes to the English field or to its twin for other languages, never
# both. Each twin is length-normalised against the average of the part it holds over every
# publication (or page), whichever field holds it: a report in Latin has a title of ordinary
# length, not one many times the average of the few titles that are not English.
LANGUAGE_TWINS = {
    "title": ("title_u",),
    "title_u": ("title", "subtitle"),  # title_u holds the title and subtitle together
    "abstract": ("abstract_u",),
    "abstract_u": ("abstract",),
    "body": ("body_u",),
    "body_u": ("body",),
    "content": ("content_u",),
    "content_u": ("content",),
}

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def build_schema() -> fields.Schema:
    """Return a fresh schema object (one index holds publication, page and meta documents)."""
    en = english_analyzer()
    plain = plain_analyzer()
    other = other_language_analyzer()
    exact = exact_list_analyzer()
    schema = fields.Schema(
        uid=fields.ID(unique=True, stored=True),
        kind=fields.ID(stored=True),
        pid=fields.ID(stored=True),
        pub_id=fields.NUMERIC(int, bits=64, stored=True, sortable=True),
        page_no=fields.NUMERIC(int, stored=True),
        info=fields.STORED(),
        meta_value=fields.STORED(),
        # publication text (English analysis)
        title=fields.TEXT(analyzer=en),
        subtitle=fields.TEXT(analyzer=en),
        abstract=fields.TEXT(analyzer=en),
        keywords=fields.TEXT(analyzer=en),
        topic_t=fields.TEXT(analyzer=en),
        series_t=fields.TEXT(analyzer=en),
        body=fields.TEXT(analyzer=en),
        # names and non-English text (no stemming)
        names=fields.TEXT(analyzer=plain),
        author_t=fields.TEXT(analyzer=plain),
        org_t=fields.TEXT(analyzer=plain),
        title_u=fields.TEXT(analyzer=other),
        abstract_u=fields.TEXT(analyzer=other),
        body_u=fields.TEXT(analyzer=other),
        # page documents
        content=fields.TEXT(analyzer=en),
        content_u=fields.TEXT(analyzer=other),
        # metadata, filters, sorting
        type=fields.ID(stored=True),
        type_t=fields.TEXT(analyzer=plain),
        f_type=fields.KEYWORD(analyzer=exact),
        year=fields.NUMERIC(int, bits=32, stored=True, sortable=True),
        date_key=fields.NUMERIC(int, bits=32, sortable=True),
        title_key=fields.ID(sortable=True),
        language=fields.ID(stored=True),
        status=fields.ID(stored=True),
        f_topic=fields.KEYWORD(analyzer=exact),
        f_author=fields.KEYWORD(analyzer=exact),
        f_org=fields.KEYWORD(analyzer=exact),
        f_series=fields.KEYWORD(analyzer=exact),
        facets=fields.COLUMN(columns.VarBytesColumn()),
        spell=fields.TEXT(analyzer=plain, phrase=False),
    )
    for name in schema.names():
        field = schema[name]
        if field.analyzer in (en, other) and type(field.format) is Positions:
            # the same postings, from each page's analysis when it was already made
            field.format = PagePositions(field_boost=field.format.field_boost)
    return schema


def clean_text(text: str) -> str:
    """Remove control characters (keeping newlines and tabs) from text to be indexed."""
    return _CONTROL.sub(" ", text or "")


def date_key(date: str, year: int | None) -> int:
    """Integer yyyymmdd from an ISO prefix ("2021", "2021-03", "2021-03-04"); 0 if unknown."""
    m = re.match(r"^\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", date or "")
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0)
        return y * 10000 + min(mo, 12) * 100 + min(d, 31)
    if year is not None and 0 < year < 10000:
        return year * 10000
    return 0


def is_english(language: str) -> bool:
    """True when a language tag means English (or is unknown)."""
    lang = (language or "en").strip().lower()
    return lang in ("", "en", "eng", "english") or lang.startswith("en-") or lang == "und"


def _labels(values: tuple[str, ...] | list[str]) -> list[str]:
    seen: list[str] = []
    for v in values:
        label = clean_label(str(v))
        if label and label not in seen:
            seen.append(label)
    return seen


def facet_payload(doc: PublicationDoc) -> dict[str, Any]:
    """The facet values of a publication, as kept in the `facets` column."""
    return {
        "type": clean_label(doc.type),
        "year": doc.year if doc.year is not None and 0 < doc.year < 10000 else None,
        "topic": _labels(doc.topics),
        "organisation": _labels(doc.organisations),
        "author": _labels(doc.authors),
        "series": clean_label(doc.series),
    }


def _body(body: str, pages: list[str]) -> str:
    """The body text to index: `body` when given, else the pages joined.

    When the body is the pages joined (as the catalogue makes it), it is returned as a
    `PagedText`, so each page's analysis is shared with its page document.
    """
    body = clean_text(body)
    if not body:
        return PagedText(pages, "\n") if pages else ""
    for sep in ("\n\n", "\n"):
        if len(body) == sum(map(len, pages)) + len(sep) * (len(pages) - 1) and body == sep.join(pages):
            return PagedText(pages, sep)
    return body


def to_index_documents(doc: PublicationDoc) -> Iterator[dict[str, Any]]:
    """Yield the Whoosh field dicts for one publication: the publication, then each page."""
    pid = str(int(doc.id))
    english = is_english(doc.language)
    status = (doc.status or "published").strip().lower()
    language = (doc.language or "en").strip().lower()[:20] or "en"
    facets = facet_payload(doc)
    title = clean_text(doc.title)
    subtitle = clean_text(doc.subtitle)
    abstract = clean_text(doc.abstract)
    pages = [clean_text(p) for p in doc.pages]
    body = _body(doc.body, pages)
    keywords = [clean_label(k) for k in doc.keywords if clean_label(k)]
    names = facets["author"] + facets["organisation"]

    pub: dict[str, Any] = {
        "uid": f"pub:{pid}",
        "kind": KIND_PUB,
        "pid": pid,
        "pub_id": int(doc.id),
        "page_no": 0,
        "info": {
            "slug": doc.slug,
            "title": title,
            "subtitle": subtitle,
            "abstract": abstract,
            "keywords": keywords,
            "topics": facets["topic"],
            "date": (doc.date or "")[:10],
            "type": facets["type"],
            "year": facets["year"],
            "status": (doc.status or "published").strip().lower(),
            "language": (doc.language or "en").strip().lower()[:20] or "en",
            "english": english,
        },
        "title": title,
        "subtitle": subtitle,
        "abstract": abstract,
        "keywords": "; ".join(keywords),
        "topic_t": " ; ".join(facets["topic"]),
        "series_t": facets["series"],
        "names": " ; ".join(names),
        "author_t": " ; ".join(facets["author"]),
        "org_t": " ; ".join(facets["organisation"]),
        "type": facets["type"].lower(),
        "type_t": facets["type"],
        "f_type": facets["type"],
        "date_key": date_key(doc.date, doc.year),
        "title_key": title_sort_key(title) or "\uffff",
        "language": language,
        "status": status,
        "f_topic": LIST_SEP.join(facets["topic"]),
        "f_author": LIST_SEP.join(facets["author"]),
        "f_org": LIST_SEP.join(facets["organisation"]),
        "f_series": facets["series"],
        "facets": json.dumps(facets, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        "spell": " ".join([title, subtitle, abstract, " ".join(keywords), " ".join(facets["topic"])]),
    }
    if facets["year"] is not None:
        pub["year"] = facets["year"]
    if english:
        pub["body"] = body
    else:
        # Non-English text goes to fields without English stemming, stemmed instead in its
        # own language when Whoosh has a stemmer for it (see analysis.LANGUAGE_MARK).
        pub["title"] = ""
        pub["subtitle"] = ""
        pub["abstract"] = ""
        pub["title_u"] = mark_language(language, " ".join(p for p in (title, subtitle) if p))
        pub["abstract_u"] = mark_language(language, abstract)
        pub["body_u"] = mark_language(language, body)
    yield {k: v for k, v in pub.items() if v != ""}

    for number, text in enumerate(pages, start=1):
        page: dict[str, Any] = {
            "uid": f"page:{pid}:{number}",
            "kind": KIND_PAGE,
            "pid": pid,
            "pub_id": int(doc.id),
            "page_no": number,
            "status": status,
            "language": language,
        }
        if english:
            page["content"] = text
        else:
            page["content_u"] = mark_language(language, text)
        yield page
