"""Citation exports of publications: BibTeX, RIS and CSL-JSON, written from a plain Reference.

Pure functions, no Flask: the portal builds a `Reference` per publication (it knows the
public addresses) and asks for text back. Nothing here can fail on odd metadata; a field
that is empty is left out.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from publications.models import Publication

# Publication type -> (BibTeX entry type, RIS TY, CSL type, label for "type"/"genre").
TYPES: dict[str, tuple[str, str, str, str]] = {
    "report": ("techreport", "RPRT", "report", "Report"),
    "working paper": ("techreport", "RPRT", "report", "Working paper"),
    "briefing": ("techreport", "RPRT", "report", "Briefing"),
    "article": ("article", "JOUR", "article-journal", ""),
    "book": ("book", "BOOK", "book", ""),
    "chapter": ("incollection", "CHAP", "chapter", ""),
    "newsletter": ("misc", "GEN", "article", "Newsletter"),
    "presentation": ("misc", "SLIDE", "speech", "Presentation"),
    "video": ("misc", "VIDEO", "motion_picture", "Video"),
    "other": ("misc", "GEN", "article", ""),
}
OTHER = TYPES["other"]
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
PARTICLES = {"van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "la", "le",
             "ter", "ten", "dos", "das", "bin", "al"}


@dataclass(frozen=True)
class Name:
    """A person's name split for citation; an organisation as author has only `literal`."""

    family: str = ""
    given: str = ""
    literal: str = ""

    @property
    def inverted(self) -> str:
        """'Shah, Priya' (or the literal name)."""
        if self.literal:
            return self.literal
        return f"{self.family}, {self.given}" if self.given else self.family


@dataclass(frozen=True)
class Reference:
    """Everything the export formats need about one publication, with absolute addresses."""

    id: int
    slug: str
    type: str
    title: str
    subtitle: str = ""
    authors: tuple[Name, ...] = ()
    year: int | None = None
    month: int | None = None
    day: int | None = None
    publishers: tuple[str, ...] = ()
    series: str = ""
    series_number: str = ""
    doi: str = ""
    isbn: str = ""
    issn: str = ""
    abstract: str = ""
    keywords: tuple[str, ...] = ()
    language: str = ""
    licence: str = ""
    page_url: str = ""
    pdf_url: str = ""

    @property
    def full_title(self) -> str:
        return f"{self.title}: {self.subtitle}" if self.subtitle else self.title


def split_name(name: str) -> Name:
    """'Priya Shah' -> Name('Shah', 'Priya'); 'Ludwig van Beethoven' -> ('van Beethoven', ...).

    'Shah, Priya' is taken as family name first; a single word stays whole as the family name.
    """
    name = " ".join(name.split())
    if "," in name:
        family, _, given = name.partition(",")
        return Name(family.strip(), given.strip())
    words = name.split(" ")
    if len(words) < 2:
        return Name(name)
    cut = len(words) - 1
    while cut > 1 and words[cut - 1].lower() in PARTICLES:
        cut -= 1
    return Name(" ".join(words[cut:]), " ".join(words[:cut]))


def reference_of(pub: Publication, page_url: str, pdf_url: str = "") -> Reference:
    """The Reference of a publication; authorless work is credited to its publisher(s)."""
    publishers = tuple(o.organisation.name for o in pub.organisations if o.role == "publisher")
    authors = tuple(split_name(a.person.name) for a in pub.authors if a.person.name.strip())
    if not authors:
        authors = tuple(Name(literal=p) for p in publishers)
    keywords = tuple(dict.fromkeys([*(t.name for t in pub.topics), *(pub.keywords or [])]))
    return Reference(
        id=pub.id, slug=pub.slug, type=pub.type, title=pub.title, subtitle=pub.subtitle,
        authors=authors, year=pub.date_year, month=pub.date_month, day=pub.date_day,
        publishers=publishers, series=pub.series, series_number=pub.series_number,
        doi=pub.doi, isbn=pub.isbn, issn=pub.issn, abstract=pub.abstract, keywords=keywords,
        language=pub.language, licence=pub.licence, page_url=page_url, pdf_url=pdf_url,
    )


# --- BibTeX -------------------------------------------------------------------------------

_TEX_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "&": r"\&", "%": r"\%", "$": r"\$",
    "#": r"\#", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
_TEX_RE = re.compile("|".join(re.escape(k) for k in _TEX_SPECIALS))


def tex_escape(text: str) -> str:
    """Escape LaTeX's special characters; other Unicode passes through (biber reads UTF-8)."""
    return _TEX_RE.sub(lambda m: _TEX_SPECIALS[m.group()], " ".join(text.split()))


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]", "", folded).lower()


def bibtex_key(ref: Reference) -> str:
    """'shah2021volunteer': first author's family name, year, first long word of the title."""
    first = ref.authors[0] if ref.authors else Name("anon")
    who = _ascii_word((first.family or first.literal).split(" ")[-1]) or "anon"
    words = [w for w in (_ascii_word(w) for w in ref.title.split()) if len(w) > 3]
    return f"{who}{ref.year or 'nd'}{words[0] if words else ref.id}"


def _bib_name(name: Name) -> str:
    if name.literal:
        return "{" + tex_escape(name.literal) + "}"  # braces: a body, not "Family, Given"
    return tex_escape(name.inverted)


def bibtex_entry(ref: Reference, key: str | None = None) -> str:
    """One BibTeX entry; @techreport for reports, working papers and briefings."""
    entry_type, _, _, label = TYPES.get(ref.type, OTHER)
    fields: list[tuple[str, str]] = [("title", "{" + tex_escape(ref.full_title) + "}")]
    if ref.authors:
        fields.append(("author", " and ".join(_bib_name(n) for n in ref.authors)))
    if ref.year:
        fields.append(("year", str(ref.year)))
        if ref.month:
            fields.append(("month", MONTHS[ref.month - 1]))
    publisher = " and ".join(ref.publishers)
    if publisher:
        fields.append(("institution" if entry_type == "techreport" else "publisher",
                       tex_escape(publisher)))
    if entry_type == "techreport" and label and label != "Report":
        fields.append(("type", label))
    if ref.series:
        fields.append(("series", tex_escape(ref.series)))
    if ref.series_number:
        fields.append(("number", tex_escape(ref.series_number)))
    for name, value in (("doi", ref.doi), ("isbn", ref.isbn), ("issn", ref.issn)):
        if value:
            fields.append((name, tex_escape(value)))
    if ref.page_url:
        fields.append(("url", ref.page_url))
    if ref.keywords:
        fields.append(("keywords", tex_escape(", ".join(ref.keywords))))
    if ref.language:
        fields.append(("language", tex_escape(ref.language)))
    if ref.abstract:
        fields.append(("abstract", tex_escape(ref.abstract)))
    body = ",\n".join(
        f"  {name} = {value}" if name == "month" else f"  {name} = {{{value}}}"
        for name, value in fields
    )
    return f"@{entry_type}{{{key or bibtex_key(ref)},\n{body}\n}}\n"


def bibtex(refs: Iterable[Reference]) -> str:
    """A BibTeX file; keys are made unique within it by adding a, b, c..."""
    seen: dict[str, int] = {}
    entries = []
    for ref in refs:
        key = bibtex_key(ref)
        n = seen.get(key, 0)
        seen[key] = n + 1
        entries.append(bibtex_entry(ref, key if n == 0 else f"{key}{_suffix(n)}"))
    return "\n".join(entries)


def _suffix(n: int) -> str:
    letters = ""
    while n > 0:
        n, rest = divmod(n - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters


# --- RIS ------------------------------------------------------------------------------------


def ris_entry(ref: Reference) -> str:
    """One RIS record, ending with 'ER  - '."""
    _, ty, _, label = TYPES.get(ref.type, OTHER)
    lines: list[tuple[str, str]] = [("TY", ty), ("ID", str(ref.id)), ("TI", ref.full_title)]
    lines += [("AU", n.inverted) for n in ref.authors]
    if ref.year:
        lines.append(("PY", str(ref.year)))
        month = f"{ref.month:02d}" if ref.month else ""
        day = f"{ref.day:02d}" if ref.day and ref.month else ""
        lines.append(("DA", f"{ref.year}/{month}/{day}/"))
    lines += [("PB", p) for p in ref.publishers]
    if ref.series:
        lines.append(("T3" if ty == "RPRT" else "T2", ref.series))
    if ref.series_number:
        lines.append(("VL" if ty == "RPRT" else "IS", ref.series_number))
    if label and ty in ("RPRT", "GEN"):
        lines.append(("M3", label))
    for value in (ref.isbn, ref.issn):
        if value:
            lines.append(("SN", value))
    if ref.doi:
        lines.append(("DO", ref.doi))
    if ref.page_url:
        lines.append(("UR", ref.page_url))
    if ref.pdf_url:
        lines.append(("L1", ref.pdf_url))
    if ref.abstract:
        lines.append(("AB", ref.abstract))
    lines += [("KW", k) for k in ref.keywords]
    if ref.language:
        lines.append(("LA", ref.language))
    out = [f"{tag}  - {' '.join(value.split())}" for tag, value in lines if value]
    return "\r\n".join([*out, "ER  - ", ""])


def ris(refs: Iterable[Reference]) -> str:
    """A RIS file: records one after another, each closed by its ER line."""
    return "\r\n".join(ris_entry(r) for r in refs)


# --- CSL-JSON -------------------------------------------------------------------------------


def csl_item(ref: Reference) -> dict[str, Any]:
    """One CSL-JSON item (CSL 1.0 variables only, so citation processors accept it)."""
    _, _, csl_type, label = TYPES.get(ref.type, OTHER)
    item: dict[str, Any] = {"id": ref.slug, "type": csl_type, "title": ref.full_title}
    authors = []
    for n in ref.authors:
        authors.append({"literal": n.literal} if n.literal
                       else {k: v for k, v in (("family", n.family), ("given", n.given)) if v})
    if authors:
        item["author"] = authors
    if ref.year:
        parts = [ref.year, *([ref.month] if ref.month else []),
                 *([ref.day] if ref.month and ref.day else [])]
        item["issued"] = {"date-parts": [parts]}
    optional = {
        "publisher": "; ".join(ref.publishers),
        "collection-title": ref.series,
        "number": ref.series_number,
        "genre": label if csl_type == "report" else "",
        "DOI": ref.doi,
        "ISBN": ref.isbn,
        "ISSN": ref.issn,
        "URL": ref.page_url,
        "abstract": ref.abstract,
        "keyword": ", ".join(ref.keywords),
        "language": ref.language,
    }
    item.update({k: v for k, v in optional.items() if v})
    return item


def csl_json(refs: Sequence[Reference]) -> str:
    """A CSL-JSON document: always a list of items, as reference managers expect."""
    return json.dumps([csl_item(r) for r in refs], ensure_ascii=False, indent=2) + "\n"
