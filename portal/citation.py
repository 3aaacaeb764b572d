"""A publication's citation in an APA-like style: Authors (Year). *Title*. Publisher. Link."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from publications.models import Publication

MAX_NAMED = 20  # APA 7: up to 20 authors are named; beyond that, 19, an ellipsis and the last


@dataclass(frozen=True)
class Citation:
    """The parts of a citation, so a template can set the title in italics."""

    authors: str
    year: str
    title: str
    series: str
    publisher: str
    link: str

    @property
    def lead(self) -> str:
        """Everything before the title: 'Shah, P., & Reed, T. (2021).' Empty for a work with
        no author: APA 7 then puts the title first and the year after it."""
        return f"{self.authors} ({self.year})." if self.authors else ""

    @property
    def after_title(self) -> str:
        """Everything after the title, starting with its closing punctuation."""
        out = f" ({self.series})" if self.series else ""
        out += "" if (not self.series and self.title[-1:] in "?!.") else "."
        if not self.authors:
            out += f" ({self.year})."
        if self.publisher:
            out += f" {_sentence(self.publisher)}"
        if self.link:
            out += f" {self.link}"
        return out

    @property
    def text(self) -> str:
        """The whole citation as plain text (the title without italics)."""
        return _joined(self.lead, self.title, self.after_title)


def _joined(lead: str, title: str, after_title: str) -> str:
    return f"{lead} {title}{after_title}" if lead else f"{title}{after_title}"


def cite(pub: Publication, page_url: str = "") -> Citation:
    """The citation of a publication; links to its DOI when it has one, else to `page_url`."""
    publishers = [o.organisation.name for o in pub.organisations if o.role == "publisher"]
    authors = format_authors([a.person.name for a in pub.authors])
    publisher = "; ".join(publishers)
    if not authors and publisher:
        # A report with no named authors is cited under its publishing body (a group author).
        authors, publisher = _sentence(publisher), ""
    title = pub.title
    if pub.subtitle:
        title = f"{title}: {pub.subtitle}"
    series = pub.series
    if series and pub.series_number:
        series = f"{series}, No. {pub.series_number}"
    link = f"https://doi.org/{pub.doi}" if pub.doi else page_url
    return Citation(authors, str(pub.date_year or "n.d."), title, series, publisher, link)


def format_authors(names: Sequence[str]) -> str:
    """['Priya Shah', 'Tom Reed'] -> 'Shah, P., & Reed, T.' (APA 7 rules for long lists)."""
    inverted = [invert_name(n) for n in names if n.strip()]
    if len(inverted) <= 1:
        return "".join(inverted)
    if len(inverted) > MAX_NAMED:
        return ", ".join(inverted[: MAX_NAMED - 1]) + ", . . . " + inverted[-1]
    return ", ".join(inverted[:-1]) + ", & " + inverted[-1]


def invert_name(name: str) -> str:
    """'Priya Shah' -> 'Shah, P.'; 'Ludwig van Beethoven' -> 'van Beethoven, L.'.

    A name that already has a comma ('Shah, Priya') is taken as family name first. A single
    word (or anything we cannot split sensibly) is returned as written.
    """
    name = " ".join(name.split())
    if "," in name:
        family, _, given = name.partition(",")
    else:
        words = name.split(" ")
        if len(words) < 2:
            return name
        cut = len(words) - 1
        while cut > 1 and words[cut - 1][:1].islower():  # particles: van, de, von der...
            cut -= 1
        family, given = " ".join(words[cut:]), " ".join(words[:cut])
    initials = " ".join(_initials(word) for word in given.split())
    return f"{family.strip()}, {initials}" if initials else family.strip()


def _initials(word: str) -> str:
    parts = [p for p in word.split("-") if p]
    return "-".join(f"{p[0].upper()}." for p in parts)


def _sentence(text: str) -> str:
    return text if text[-1:] in ".?!" else f"{text}."


@dataclass(frozen=True)
class Formatted:
    """A citation in a named style, split so a template can set the title in italics."""

    style: str
    lead: str
    title: str
    after_title: str

    @property
    def text(self) -> str:
        return _joined(self.lead, self.title, self.after_title)


def styles(pub: Publication, page_url: str = "") -> list[Formatted]:
    """The citation in every style the publication page offers: APA, then Harvard."""
    apa = cite(pub, page_url)
    return [Formatted("APA", apa.lead, apa.title, apa.after_title), harvard(pub, page_url)]


def harvard(pub: Publication, page_url: str = "") -> Formatted:
    """Harvard (Cite Them Right): 'Shah, P. and Reed, T. (2021) *Title*. Publisher. Available
    at: link.'"""
    base = cite(pub, page_url)
    inverted = [invert_name(a.person.name) for a in pub.authors if a.person.name.strip()]
    if len(inverted) > 3:
        authors = f"{inverted[0]} et al."
    elif len(inverted) > 1:
        authors = ", ".join(inverted[:-1]) + " and " + inverted[-1]
    else:
        authors = "".join(inverted) or base.authors.rstrip(".")
    # with no author the title leads and the year follows it (Cite Them Right)
    lead = f"{authors} ({base.year})" if authors else ""
    after = "" if authors else f" ({base.year})"
    if base.series:
        after += f". {base.series}"
    after += "" if (authors and not base.series and base.title[-1:] in "?!.") else "."
    if base.publisher:
        after += f" {_sentence(base.publisher)}"
    if base.link:
        after += f" Available at: {base.link}."
    return Formatted("Harvard", lead, base.title, after)
