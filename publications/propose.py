"""Propose a publication's metadata from staff input, the PDF's own metadata and its first pages."""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from publications.records import Extraction, Proposal, ProposedValue, TextRun

MAX_TITLE_CHARS = 300
MAX_ABSTRACT_CHARS = 2000
MAX_AUTHORS = 40
MAX_AUTHOR_CHARS = 200
MAX_KEYWORDS = 30
ABSTRACT_PAGES = 3  # look for an abstract / summary on this many first pages
LANGUAGE_SAMPLE_CHARS = 6000

SOURCE_STAFF = "staff"
SOURCE_INFO = "document-metadata"
SOURCE_XMP = "xmp"
SOURCE_FIRST_PAGE = "first-page"
SOURCE_TEXT = "text"

_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+", re.UNICODE)

# ---------------------------------------------------------------------------------------------
# text helpers


def normalise(text: Any, limit: int | None = None) -> str:
    """NFKC (folds ligatures such as "ﬁ"), drop control characters, collapse whitespace, bound."""
    if text is None:
        return ""
    s = unicodedata.normalize("NFKC", str(text)[:200_000])
    collapsed = _WS.sub(" ", s)
    if collapsed.isprintable():
        # no control or format character is left once whitespace is collapsed (isprintable
        # is False for exactly those and for whitespace other than " "): the slow path below
        # would give the same text, character by character
        s = collapsed.strip()
    else:
        s = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in s)
        s = _WS.sub(" ", s).strip()
    if limit is not None and len(s) > limit:
        cut = s[:limit]
        space = cut.rfind(" ")
        s = (cut[:space] if space > limit * 0.7 else cut).rstrip(" ,;:-–—")
    return s


def tokens(text: str) -> list[str]:
    """Lower-case word tokens with a light plural fold ("substances" ~ "substance")."""
    out = []
    for t in _WORD.findall(unicodedata.normalize("NFKC", text).casefold()):
        t = t.replace("_", "")
        if not t:
            continue
        if len(t) > 4 and t.endswith("s") and not t.endswith("ss"):
            t = t[:-1]
        out.append(t)
    return out


def token_similarity(a: str, b: str) -> float:
    """Dice coefficient of the two texts' token multisets (1.0 = same words)."""
    ta, tb = Counter(tokens(a)), Counter(tokens(b))
    total = sum(ta.values()) + sum(tb.values())
    if not total:
        return 0.0
    return 2 * sum((ta & tb).values()) / total


def _letters(text: str) -> int:
    return sum(1 for c in text if c.isalpha())


def _smart_case(title: str) -> str:
    """Title-case a title printed entirely in capitals; leave mixed-case titles alone."""
    letters = [c for c in title if c.isalpha()]
    if len(letters) < 6 or any(c.islower() for c in letters):
        return title
    small = {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to",
             "with", "from", "into", "via"}
    words = title.split(" ")
    out = []
    for i, w in enumerate(words):
        lw = w.lower()
        core = re.sub(r"\W", "", lw)
        if i > 0 and core in small:
            out.append(lw)
        else:
            out.append(re.sub(r"[^\W\d_]+", lambda m: m.group(0).capitalize(), lw, count=1)
                       if lw[:1].isalpha() else lw)
    return " ".join(out)


def _drop_defined_acronyms(title: str) -> str:
    """Remove "(FONSI)"-style acronyms that only spell out the words just before them."""

    def initials_match(acronym: str, words: list[str]) -> bool:
        for skip_small in (False, True):
            ws = [w for w in words if not (skip_small and w.lower() in {"of", "and", "the", "for",
                                                                         "on", "in", "to", "&"})]
            if len(ws) >= len(acronym):
                ini = "".join(w[0] for w in ws[-len(acronym):]).upper()
                if ini == acronym:
                    return True
        return False

    def repl(m: re.Match[str]) -> str:
        acronym = m.group(1)
        before = re.findall(r"[^\W\d_][\w'-]*", title[: m.start()])
        return "" if initials_match(acronym, before) else m.group(0)

    return _WS.sub(" ", re.sub(r"\s*\(([A-Z]{2,10})\)", repl, title)).strip()


def _join_lines(lines: Iterable[str]) -> str:
    """Join printed lines, undoing end-of-line hyphenation ("environ-" + "mental")."""
    out = ""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if out.endswith("-") and line[:1].islower() and len(out) > 1 and out[-2].isalpha():
            out = out[:-1] + line
        else:
            out = f"{out} {line}" if out else line
    return _WS.sub(" ", out).strip()


# ---------------------------------------------------------------------------------------------
# placeholders and junk

_FILE_EXT = (r"docx?|dotx?|pdf|tex|indd|idml|qxd|qxp|pub|rtf|txt|odt|ods|odp|wpd|wps|xlsx?|"
             r"pptx?|ppsx?|key|pages|ps|eps|dvi|html?|xml|csv|sgml?|exe|p65|pm[0-9]|fm|mif|ai|"
             r"psd|jpe?g|png|tiff?|gif|bmp|vsdx?|mdi|xps")
_PLACEHOLDER_RES = [
    re.compile(r"^microsoft\s+(word|powerpoint|excel|publisher)\b", re.I),
    re.compile(r"^(untitled|unbenannt|sans titre|no title|none|null|unknown|title|titre|"
               r"no job name|default|empty|test|draft|template|new document|"
               r"adobe photoshop pdf|powerpoint presentation|presentation|slide show)"
               r"(\s+document)?(\s*[-_]?\s*\d+)?$", re.I),
    re.compile(r"^(document|presentation|book|sheet|slide|page|doc|file|scan|image|img)"
               r"\s*[-_]?\s*\d*$", re.I),
    re.compile(r"\.(" + _FILE_EXT + r")\b", re.I),
    re.compile(r"^[a-z]:\\|^/|\\\\", re.I),  # paths
    re.compile(r"^https?://|^www\.", re.I),
]
_NOT_TITLES = {
    "contents", "table of contents", "abstract", "summary", "executive summary", "introduction",
    "preface", "foreword", "acknowledgements", "acknowledgments", "index", "references",
    "bibliography", "appendix", "open access", "research article", "review", "original article",
    "research", "article", "report", "proposed rules", "rules and regulations", "notices",
    "presidential documents", "federal register", "confidential", "draft", "for official use only",
    "official - subject to final review", "background", "overview", "inhaltsverzeichnis",
    "table des matières", "sommaire", "résumé", "slide", "agenda", "cover", "front cover",
}


def filename_stem(filename: str | None) -> str:
    if not filename:
        return ""
    name = PurePath(str(filename).replace("\\", "/")).name
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return " ".join(tokens(stem.replace("_", " ")))


def is_placeholder_title(title: str | None, filename: str | None = None) -> bool:
    """True when `title` is a producer placeholder, a file name, an id or other junk."""
    t = normalise(title)
    if not t:
        return True
    low = t.casefold().strip(" .:;-–—_")
    if low in _NOT_TITLES:
        return True
    if any(r.search(t) for r in _PLACEHOLDER_RES):
        return True
    if "..." in t or "…" in t:  # truncated by the producer
        return True
    letters = _letters(t)
    if letters < 3 or letters < 0.45 * len(t.replace(" ", "")):
        return True
    words = t.split()
    if len(words) == 1:
        w = words[0]
        # one token: ids, user names, file stems ("Yannis_DOE2000", "NFY5f7Ft2...", "jenki300")
        if "_" in w or any(c.isdigit() for c in w) or len(w) > 30 or letters < 4:
            return True
        if w.islower() and w.isascii():
            return True
    stem = filename_stem(filename)
    if stem:
        joined = " ".join(tokens(t))
        if joined == stem or joined.replace(" ", "") == stem.replace(" ", ""):
            return True
    # random-looking strings: long tokens mixing digits and letters without vowels pattern
    if len(words) <= 3 and all(
        re.search(r"\d", w) and re.search(r"[A-Za-z]", w) and len(w) >= 10 for w in words
    ):
        return True
    return False


_PAGE_NO = re.compile(
    r"^(page\s*)?[-–—]?\s*([0-9]{1,4}|[ivxlcdm]{1,6})\s*[-–—]?"
    r"(\s*(of|/)\s*[0-9]{1,4})?$",
    re.I,
)
_JUNK_LINE = re.compile(
    r"(https?://|www\.|@\w+\.\w|\bdoi\b|©|\(c\)\s*\d{4}|copyright|all rights reserved|"
    r"creative commons|licen[sc]e[de]?\b|^\s*vol\.?\s*\d|\bissn\b|\bisbn\b|^\s*page\s+\d+)",
    re.I,
)
_ADDRESS = re.compile(
    r"(\b(avenue|street|road|suite|drive|boulevard|p\.?\s?o\.?\s?box|floor)\b|"
    r"\b[A-Z]{2}\s+\d{5}(-\d{4})?\b|,\s*[A-Z][a-z]+\s+\d{5}\b|\(\d{3}\)\s*\d{3}-\d{4}|"
    r"\btel[:.]|\bfax[:.]|\be-?mail\b)",
    re.I,
)
_ORG_LAST = {
    "center", "centre", "service", "department", "division", "office", "agency",
    "administration", "bureau", "council", "university", "institute", "laboratory", "ministry",
    "commission", "committee", "subcommittee", "directorate", "foundation", "authority", "board",
    "inc", "ltd", "llc", "corporation", "association", "society", "school", "faculty",
    "college", "hospital",
}
_ORG_FIRST = {"department", "office", "ministry", "division", "bureau", "subcommittee",
              "committee", "university", "institute", "school", "faculty", "u.s.", "us"}
_BANNER = re.compile(r"^(\w\s){4,}\w?", re.UNICODE)  # letter-spaced "R E S E A R C H"


def _is_org_line(text: str) -> bool:
    first_seg = re.sub(r"\([^)]*\)", "", text.split(",")[0]).strip(" .:;")
    words = first_seg.split()
    if not words or len(words) > 8:
        return False
    last = words[-1].lower().strip(".")
    first = words[0].lower()
    if last in _ORG_LAST:
        return True
    return first in _ORG_FIRST and len(words) > 1 and (
        words[1].lower() in {"of", "on", "for", "department"} or first in {"u.s.", "us"}
    )


def _is_junk_line(text: str) -> bool:
    t = text.strip()
    if not t or _letters(t) < 2:
        return True
    if _PAGE_NO.match(t):
        return True
    return bool(_JUNK_LINE.search(t))


# ---------------------------------------------------------------------------------------------
# dates

_MONTHS = {
    # English, German, French, Spanish, Portuguese, Italian, Dutch (full and common short forms)
    "january": 1, "jan": 1, "januar": 1, "janvier": 1, "enero": 1, "janeiro": 1, "gennaio": 1,
    "januari": 1, "february": 2, "feb": 2, "februar": 2, "février": 2, "fevrier": 2,
    "febrero": 2, "fevereiro": 2, "febbraio": 2, "februari": 2, "march": 3, "mar": 3, "märz": 3,
    "maerz": 3, "mars": 3, "marzo": 3, "março": 3, "maart": 3, "april": 4, "apr": 4, "avril": 4,
    "abril": 4, "aprile": 4, "may": 5, "mai": 5, "mayo": 5, "maio": 5, "maggio": 5, "mei": 5,
    "june": 6, "jun": 6, "juni": 6, "juin": 6, "junio": 6, "junho": 6, "giugno": 6, "july": 7,
    "jul": 7, "juli": 7, "juillet": 7, "julio": 7, "julho": 7, "luglio": 7, "august": 8,
    "aug": 8, "août": 8, "aout": 8, "agosto": 8, "augustus": 8, "september": 9, "sep": 9,
    "sept": 9, "septembre": 9, "septiembre": 9, "setembro": 9, "settembre": 9, "october": 10,
    "oct": 10, "oktober": 10, "octobre": 10, "octubre": 10, "outubro": 10, "ottobre": 10,
    "november": 11, "nov": 11, "novembre": 11, "noviembre": 11, "novembro": 11, "december": 12,
    "dec": 12, "dezember": 12, "décembre": 12, "decembre": 12, "diciembre": 12, "dezembro": 12,
    "dicembre": 12,
}
_MONTH_RE = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_YEAR = r"(1[89]\d\d|20\d\d)"
_D_MONTH_Y = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\.?(?:\s*[-–]\s*\d{{1,2}}(?:st|nd|rd|th)?\.?)?"
    rf"\s+({_MONTH_RE})\.?,?\s+{_YEAR}\b",
    re.I,
)
_MONTH_D_Y = re.compile(
    rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(\s*[-–]\s*\d{{1,2}})?,?\s+{_YEAR}\b", re.I
)
_MONTH_Y = re.compile(rf"\b({_MONTH_RE})\.?\s*[-–,/]?\s*{_YEAR}\b", re.I)
_ISO = re.compile(rf"\b{_YEAR}-(\d{{2}})-(\d{{2}})\b")
_DMY_ABBR = re.compile(rf"\b(\d{{1,2}})-({_MONTH_RE})-{_YEAR}\b", re.I)
_NUMERIC = re.compile(r"(?<![\d/.-])(\d{1,2})[/.](\d{1,2})[/.](\d{4}|\d{2})(?![\d/.-])")
_YEAR_ONLY = re.compile(rf"(?<![\d-]){_YEAR}(?![\d-])")
_NOT_PUBLICATION_DATE = re.compile(
    r"\b(received|accepted|submitted|revised|updated|amended|modified|reviewed|printed|"
    r"born|deadline|expires?|due|redesignated|eingereicht|angenommen)\b", re.I)
_NUMBERED = re.compile(r"(\b[A-Z]\.\s?[A-Z]?\.?|\bno\.?|\bpart|\bpt\.|§|#|\bform)\s*"
                       r"(1[89]\d\d|20\d\d)\b", re.I)  # "H.R. 1904", "No. 2001": not years
_PUBLISHED = re.compile(r"\b(published|publication date|date of publication|issued|"
                        r"veröffentlicht|publié|publicado)\b", re.I)


def _valid(y: int, m: int = 1, d: int = 1) -> bool:
    if not 1800 <= y <= _dt.date.today().year + 1:
        return False
    try:
        _dt.date(y, m, d)
    except ValueError:
        return False
    return True


def _dates_in(line: str) -> list[tuple[int, str]]:
    """(position, ISO prefix) of every day- or month-precision date in a line of text."""
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []

    def add(m: re.Match[str], y: int, mo: int, d: int | None) -> None:
        if any(a <= m.start() < b or a < m.end() <= b for a, b in taken):
            return
        taken.append((m.start(), m.end()))  # an impossible date is not re-read as a month
        if not _valid(y, mo, d or 1):
            return
        found.append((m.start(), f"{y:04d}-{mo:02d}" + (f"-{d:02d}" if d else "")))

    for m in _ISO.finditer(line):
        add(m, int(m.group(1)), int(m.group(2)), int(m.group(3)))
    for m in _D_MONTH_Y.finditer(line):
        ranged = "-" in m.group(0).split(m.group(2))[0] or "–" in m.group(0)
        add(m, int(m.group(3)), _MONTHS[m.group(2).lower()], None if ranged else int(m.group(1)))
    for m in _MONTH_D_Y.finditer(line):
        add(m, int(m.group(4)), _MONTHS[m.group(1).lower()],
            None if m.group(3) else int(m.group(2)))
    for m in _DMY_ABBR.finditer(line):
        add(m, int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)))
    for m in _MONTH_Y.finditer(line):
        word = m.group(1).lower()
        if word == "may" and not m.group(1)[0].isupper():
            continue  # the verb "may"
        add(m, int(m.group(2)), _MONTHS[word], None)
    for m in _NUMERIC.finditer(line):
        a, b, y = int(m.group(1)), int(m.group(2)), m.group(3)
        year = int(y) if len(y) == 4 else (2000 + int(y) if int(y) < 50 else 1900 + int(y))
        if a > 12 and b <= 12:
            add(m, year, b, a)
        elif b > 12 and a <= 12:
            add(m, year, a, b)
        elif a <= 12 and b <= 12:
            # 04/05/2019 is ambiguous between day-first and month-first: keep only the year
            if _valid(year) and not any(s <= m.start() < e for s, e in taken):
                taken.append((m.start(), m.end()))
                found.append((m.start(), f"{year:04d}"))
    found.sort()
    return found


def parse_date(value: Any) -> str | None:
    """Parse a date written by a person or a PDF producer into "YYYY", "YYYY-MM" or "YYYY-MM-DD"."""
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    s = normalise(value, 200)
    if not s:
        return None
    m = re.match(r"^D:(\d{4})(\d{2})?(\d{2})?", s)  # PDF date string
    if m:
        y = int(m.group(1))
        mo = int(m.group(2)) if m.group(2) else None
        d = int(m.group(3)) if m.group(3) else None
        if mo and d and _valid(y, mo, d):
            return f"{y:04d}-{mo:02d}-{d:02d}"
        if mo and _valid(y, mo):
            return f"{y:04d}-{mo:02d}"
        return f"{y:04d}" if _valid(y) else None
    m = re.match(rf"^{_YEAR}(?:-(\d{{2}})(?:-(\d{{2}}))?)?(?:[T ]|$)", s)
    if m:
        y, mo, d = int(m.group(1)), m.group(2), m.group(3)
        if d and _valid(y, int(mo), int(d)):
            return f"{y:04d}-{int(mo):02d}-{int(d):02d}"
        if mo and _valid(y, int(mo)):
            return f"{y:04d}-{int(mo):02d}"
        return f"{y:04d}" if _valid(y) else None
    found = _dates_in(s)
    if found:
        return found[0][1]
    m = _YEAR_ONLY.search(s)
    if m and _valid(int(m.group(1))):
        return m.group(1)
    return None


def _lines(text: str) -> list[str]:
    return [normalise(x) for x in text.splitlines() if x.strip()]


def date_from_text(pages: Sequence[str], runs: Sequence[TextRun] = ()) -> str | None:
    """The publication date printed on the first page (or the second when the first has none)."""
    for n, page in enumerate(pages[:2]):
        if n == 0 and runs:
            # the runs hold only what is drawn inside the visible page (no proof slugs)
            lines = [normalise(r.text) for r in runs][:400]
        else:
            lines = _lines(page)[:400]
        labelled: list[str] = []
        dated: list[str] = []
        years: list[int] = []
        for i, line in enumerate(lines):
            ds = _dates_in(line)
            if _PUBLISHED.search(line):
                window = ds or _dates_in(" ".join(lines[i:i + 2]))
                if window:
                    labelled.append(window[0][1])
                else:
                    ys = [int(y) for y in _YEAR_ONLY.findall(line)]
                    if ys:
                        labelled.append(str(max(ys)))
                continue
            if _NOT_PUBLICATION_DATE.search(line):
                continue
            dated.extend(d for _, d in ds if len(d) > 4)
            if not ds:
                years.extend(int(y) for y in _YEAR_ONLY.findall(line))
        if labelled:
            return labelled[0]
        if dated:
            return dated[0]
        if n == 0 and runs:
            body = body_size(runs)
            # a year printed in display type (a cover's "2007"): take the one in the largest type
            big = sorted((r for r in runs if r.size > body + 0.5 and _YEAR_ONLY.search(r.text)
                          and not _NUMBERED.search(r.text)), key=lambda r: -r.size)
            for r in big:
                ys = [int(y) for y in _YEAR_ONLY.findall(r.text) if _valid(int(y))]
                if ys:
                    return str(max(ys))
        years = [y for y in years if _valid(y)]
        if years:
            return str(max(years))
    return None


# ---------------------------------------------------------------------------------------------
# first-page title


@dataclass
class _Block:
    text: str
    size: float
    runs: int


def body_size(runs: Sequence[TextRun]) -> float:
    """The size most characters on the page are drawn at."""
    weights: Counter[float] = Counter()
    for r in runs:
        weights[round(r.size * 2) / 2] += len(r.text)
    if not weights:
        return 0.0
    return weights.most_common(1)[0][0]


def _display_text(runs: Sequence[TextRun], at_least_body: bool = False) -> str:
    body = body_size(runs)
    if at_least_body:
        return " ".join(r.text for r in runs if r.size >= body - 0.25)
    return " ".join(r.text for r in runs if r.size > body + 0.5)


_CONNECTOR = {"for", "of", "and", "the", "on", "in", "to", "&", "a", "an", "und", "de", "et",
              "la", "le", "des", "du", "für", "zur", "zum"}


def _title_runs(runs: Sequence[TextRun]) -> list[TextRun]:
    """Runs that could be part of a title: no superscripts, page numbers, URLs, addresses."""
    keep = []
    for r in runs:
        t = normalise(r.text)
        if _letters(t) < 2 and not (t.isdigit() and len(t) == 4):
            continue  # superscripts, footnote marks, "®"
        if _is_junk_line(t) or _ADDRESS.search(t) or _is_org_line(t) or _BANNER.match(t):
            continue
        keep.append(TextRun(text=t, size=r.size, y=r.y))
    return keep


def _blocks(runs: Sequence[TextRun]) -> list[_Block]:
    """Group consecutive runs drawn at the same size on neighbouring lines."""
    blocks: list[list[TextRun]] = []
    for r in runs:
        if blocks:
            last = blocks[-1][-1]
            same = abs(r.size - last.size) <= 0.06 * max(r.size, last.size)
            near = abs(r.y - last.y) <= 2.2 * max(r.size, last.size)
            if same and near:
                blocks[-1].append(r)
                continue
        blocks.append([r])
    # "HANDBOOK" / "FOR" / "CODING GUIDELINES": a small connector word between two parts
    merged: list[list[TextRun]] = []
    i = 0
    while i < len(blocks):
        cur = blocks[i]
        while (
            i + 2 < len(blocks)
            and " ".join(x.text for x in blocks[i + 1]).lower() in _CONNECTOR
            and abs(blocks[i + 2][0].size - cur[0].size) <= 0.06 * cur[0].size
            and blocks[i + 1][0].size >= 0.6 * cur[0].size
        ):
            cur = cur + blocks[i + 1] + blocks[i + 2]
            i += 2
        merged.append(cur)
        i += 1
    out = []
    for b in merged:
        size = max(r.size for r in b)
        out.append(_Block(text=_join_lines(r.text for r in b), size=size, runs=len(b)))
    return out


_VOLUME_WORDS = re.compile(r"\b(volume|vol|issue|no|number|edition|page|nr|heft|ausgabe|"
                           r"numéro|fy|week|quarter|q[1-4])\b\.?", re.I)


def _is_bad_title_block(text: str) -> bool:
    if is_placeholder_title(text):
        return True
    stripped = text
    for pattern in (_ISO, _D_MONTH_Y, _MONTH_D_Y, _MONTH_Y, _NUMERIC, _YEAR_ONLY):
        stripped = pattern.sub(" ", stripped)
    stripped = _VOLUME_WORDS.sub(" ", stripped)
    stripped = re.sub(rf"\b({_MONTH_RE}|monday|tuesday|wednesday|thursday|friday|saturday|"
                      r"sunday)\b", " ", stripped, flags=re.I)
    if _letters(stripped) < 3:
        return True  # only a date / volume line
    if len(text) > 400:
        return True  # a paragraph, not a title
    return False


@dataclass
class _PageTitle:
    main: str
    subtitle: str | None
    size: float
    ratio: float  # size relative to the body text
    block_texts: list[tuple[str, float]]


def _looks_like_names(text: str) -> bool:
    return bool(_split_names(text, strict=True))


def page_title(runs: Sequence[TextRun], hint: str | None = None) -> _PageTitle | None:
    """The largest-type title block of a page (with a subtitle when one follows it)."""
    body = body_size(runs)
    cand = _title_runs(runs)
    blocks = _blocks(cand)
    if not blocks or body <= 0:
        return None
    top_size = max(b.size for b in blocks)
    if body >= top_size / 1.08:
        # a cover page: the title itself is most of the text; compare with the smaller text
        smaller = [r for r in runs if r.size < top_size / 1.08]
        if sum(len(r.text) for r in smaller) < 15:
            return None
        body = body_size(smaller)
    threshold = max(body * 1.08, body + 0.9)
    good = [(i, b) for i, b in enumerate(blocks)
            if b.size >= threshold and not _is_bad_title_block(b.text)
            and not (_looks_like_names(b.text) and re.search(r",|\band\b|&", b.text))]
    if not good:
        return None
    top_size = max(b.size for _, b in good)
    best_i, best = next((i, b) for i, b in good if abs(b.size - top_size) <= 0.06 * top_size)
    if hint:
        scored = [(token_similarity(hint, b.text), i, b) for i, b in good]
        sim, i, b = max(scored, key=lambda x: (x[0], x[2].size))
        if sim >= 0.5:
            best_i, best = i, b
    subtitle = None
    if best_i + 1 < len(blocks):
        nxt = blocks[best_i + 1]
        # vertical distance between the title's last line and the candidate's first line
        idx = sum(b.runs for b in blocks[: best_i + 1])
        close = idx < len(cand) and abs(cand[idx - 1].y - cand[idx].y) <= 3.0 * best.size
        if (
            close
            and 0.6 * best.size <= nxt.size < 0.95 * best.size
            and nxt.size >= body
            and len(nxt.text.split()) >= 3
            and not _is_bad_title_block(nxt.text)
            and not _looks_like_names(nxt.text)
            and not _dates_in(nxt.text)
            and not re.match(r"^(\d+(\.\d+)*\.?|[IVX]+\.)\s", nxt.text)
            and len(nxt.text.split()) <= 30
            and not re.search(r"[•●▪:;.!?]$|•|●|▪", nxt.text)
            and not re.match(r"^(by|this|these|the following|in this|we|our)\b", nxt.text, re.I)
            and not tokens(nxt.text)[: len(tokens(best.text))] == tokens(best.text)
        ):
            subtitle = nxt.text
    return _PageTitle(
        main=best.text,
        subtitle=subtitle,
        size=best.size,
        ratio=best.size / body if body else 1.0,
        block_texts=[(b.text, b.size) for _, b in good],
    )


_AGENCY = re.compile(r"^AGENCY:")
_REG_BOUNDARY = re.compile(r"^(RIN\s|\[|\d+\s+CFR|Docket|.*\]$|DEPARTMENT OF|[A-Z .,&]+$)")


def regulatory_title(page: str) -> str | None:
    """Federal Register style notices: the title printed just before the "AGENCY:" line."""
    lines = _lines(page)
    for i, line in enumerate(lines[:200]):
        if _AGENCY.match(line):
            picked: list[str] = []
            j = i - 1
            while j >= 0 and len(picked) < 6:
                if _REG_BOUNDARY.match(lines[j]):
                    break
                picked.insert(0, lines[j])
                j -= 1
            title = _join_lines(picked)
            if title and not _is_bad_title_block(title):
                return title
    return None


_SHORT_TITLE = re.compile(
    r"may be cited as (?:the )?[“\"‘'`]{1,2}\s*(.{5,200}?)\s*[”\"’']{1,2}", re.I | re.S
)


def short_title(pages: Sequence[str]) -> str | None:
    """Legislation: 'This Act may be cited as the "X Act of 2003"'."""
    text = _join_lines(_lines("\n".join(pages[:2])))
    m = _SHORT_TITLE.search(text)
    if m:
        t = normalise(m.group(1)).rstrip(".,;")
        if not is_placeholder_title(t):
            return t
    return None


def first_substantial_line(page: str, filename: str | None = None) -> str | None:
    for line in _lines(page)[:200]:
        if _is_junk_line(line) or _ADDRESS.search(line) or _BANNER.match(line):
            continue
        if _letters(line) < 6 or _letters(line) < 0.5 * len(line.replace(" ", "")):
            continue
        if is_placeholder_title(line, filename):
            continue
        return line
    return None


# ---------------------------------------------------------------------------------------------
# authors

_DEGREES = re.compile(
    r",?\s*\b(ph\.?\s?d|m\.?\s?d|m\.?\s?p\.?\s?h|abpp|msc|m\.?\s?sc|b\.?\s?sc|m\.?\s?a|b\.?\s?a|"
    r"dr\.?\s?phil|rn|frcs|frcp|esq|mba|prof)\b\.?", re.I)
_NAME_STOP = {
    "university", "department", "institute", "school", "college", "hospital", "center", "centre",
    "division", "faculty", "laboratory", "office", "abstract", "introduction", "summary",
    "background", "keywords", "email", "correspondence", "received", "accepted", "the", "of",
    "for", "in", "on", "with", "journal", "review", "article", "research", "report", "page",
    "january", "february", "march", "april", "june", "july", "august", "september", "october",
    "november", "december", "volume", "issue", "is", "are", "this", "that", "be", "to",
    "petitioner", "respondent", "section", "table", "figure", "contents", "program", "project",
}
_PARTICLES = {"van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "la", "le",
              "bin", "ibn", "al", "el", "dos", "das", "ter", "ten", "st.", "mac"}
_SUFFIX = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"}


def _clean_name(raw: str) -> str:
    s = normalise(raw)
    s = re.sub(r"[\d*†‡§¶∗#⁎✉]+", " ", s)  # affiliation marks
    s = _DEGREES.sub(" ", s)
    # "CharlesMunthali" -> "Charles Munthali", but not "DeLaune", "McDonald", "MacLeod"
    s = re.sub(r"(?<=[A-Z][a-z]{3})(?=[A-Z][a-z])|(?<=[a-z]{4})(?=[A-Z][a-z])", " ", s)
    s = _WS.sub(" ", s).strip(" ,;:-–—")
    if s.endswith(".") and not re.search(r"(\b[A-Z]|\b(Jr|Sr))\.$", s):
        s = s[:-1]
    words = s.split()
    fixed = []
    for w in words:
        core = w.strip(".,")
        if len(core) > 2 and core.isupper() and core.isalpha():
            w = w.capitalize()  # "DOUGLAS" -> "Douglas"
        elif len(core) > 2 and core.isupper() and "-" in core:
            w = "-".join(p.capitalize() for p in w.split("-"))
        fixed.append(w)
    return " ".join(fixed)[:MAX_AUTHOR_CHARS]


_COMMON_WORDS = set("""
guide resource resources report reports change changes policy policies review data
health service services research program programme management system systems analysis study
studies plan plans annual national public development information education community
acknowledgment acknowledgement summary introduction abstract overview background appendix
table contents chapter section part volume issue edition version draft final interim update
new medical export import batch type field document documents file files page pages
department office center centre division agency administration bureau council university
institute laboratory committee board foundation authority association society school college
hospital court state states federal county city region regional local government act bill law
rules rule notice notices order directive directives regulation regulations standard standards
statistics statistical survey census trade market economic economy finance financial budget
tax income housing transport transportation energy environment environmental water climate
social care children families family women men people workers employment labour labor work
science technology engineering physics chemistry biology medicine clinical cancer disease
treatment example examples course session workshop conference meeting proceedings journal
article paper papers working brief briefing note notes newsletter bulletin handbook manual
tutorial menu menus main support material process reference options option user users
issues issue evaluation index component source
""".split())


def _is_person_name(name: str) -> bool:
    words = name.split()
    if not 2 <= len(words) <= 6:
        return False
    if words[0] in {"A", "An", "The"}:
        return False
    if sum(1 for w in words if w.lower().strip(".,") in _COMMON_WORDS) > 0:
        return False
    if any(len(re.findall(r"[a-z][A-Z]", w)) > 1 or w[:1].islower() and w.lower() not in
           _PARTICLES for w in words):
        return False  # "VIReC", "iPhone": not names ("DeLaune", "McDonald" are)
    caps = 0
    for w in words:
        lw = w.lower().strip(".,")
        if lw in _NAME_STOP:
            return False
        if lw in _PARTICLES or lw in _SUFFIX:
            continue
        if not w[:1].isupper():
            return False
        if any(c.isdigit() for c in w):
            return False
        caps += 1
    return caps >= 2 or (caps >= 1 and len(words) >= 2)


def _split_names(line: str, strict: bool = False) -> list[str]:
    """Split a byline into names; [] when it does not look like a list of names."""
    text = normalise(line)
    text = re.sub(r"^(by|von|par|por|authors?|written by|prepared by)\s*:?\s+", "", text,
                  flags=re.I)
    text = _DEGREES.sub(" ", text)
    parts = re.split(r"\s*(?:;|,|\band\b|\bund\b|\bet\b|\by\b|&)\s*", text)
    names: list[str] = []
    for p in parts:
        p = p.strip()
        if not p:
            continue
        if p.lower().strip(".") in _SUFFIX and names:
            names[-1] = f"{names[-1]}, {p}"
            continue
        names.append(p)
    cleaned = [_clean_name(n) for n in names]
    cleaned = [c for c in cleaned if c]
    if not cleaned:
        return []
    good = [c for c in cleaned if _is_person_name(c.split(",")[0])]
    if len(good) < max(1, int(0.75 * len(cleaned) + 0.5)):
        return []
    if strict and len(" ".join(good)) < 5:
        return []
    return good


_BY_LINE = re.compile(r"^\s*(by|von|par|por|written by|prepared by|authors?:)\s+(.{3,300})$",
                      re.I)


def authors_from_page(page: str, title: str | None) -> list[str]:
    """'By ...' lines, or the name lines printed right under the title."""
    lines = _lines(page)[:300]
    for line in lines[:80]:
        m = _BY_LINE.match(line)
        if m:
            names = _split_names(m.group(2))
            if names:
                return names[:MAX_AUTHORS]
    if not title:
        return []
    # find the title's last line, then read the name lines under it
    tail = tokens(title)[-4:]
    start = None
    for i, line in enumerate(lines[:120]):
        lt = tokens(line)
        if tail and len(lt) >= 1 and lt[-len(tail):] == tail[-len(lt):][-len(tail):]:
            start = i + 1
        elif tail and " ".join(tail) in " ".join(lt):
            start = i + 1
        if start is not None:
            break
    if start is None:
        return []
    found: list[str] = []
    for line in lines[start:start + 6]:
        names = _split_names(line)
        if names:
            found.extend(names)
            if not re.search(r"(,|\band)\s*$", line):
                # a byline may wrap onto a second line ending without a comma; keep reading
                continue
        elif found:
            break
    # de-duplicate, keep order
    seen: set[str] = set()
    out = []
    for n in found:
        key = n.casefold()
        if key not in seen:
            seen.add(key)
            out.append(n)
    return out[:MAX_AUTHORS]


def _is_plausible_meta_author(name: str) -> bool:
    n = normalise(name)
    if not n or len(n) > MAX_AUTHOR_CHARS or _letters(n) < 4:
        return False
    if is_placeholder_title(n) and " " not in n:
        return False
    if " " not in n:
        return False  # user names ("jzh", "froscan") and single words
    if re.search(r"[:\\/@]|\d", n):
        return False
    return not n.islower()


def split_meta_authors(value: str) -> list[str]:
    parts = re.split(r"\s*(?:;|\band\b|&|\n)\s*", normalise(value))
    out: list[str] = []
    for p in parts:
        # "Tkaczyk, Dominika" vs "Dominika Tkaczyk, Pawel Szostek": split on commas between
        # full names only
        sub = [s.strip() for s in p.split(",")]
        if len(sub) > 1 and all(len(s.split()) >= 2 for s in sub if s):
            out.extend(s for s in sub if s)
        else:
            out.append(p.strip())
    return [o for o in out if o]


# ---------------------------------------------------------------------------------------------
# abstract

_ABSTRACT_HEAD = re.compile(
    r"^(abstract|summary|executive summary|résumé|resumen|resumo|zusammenfassung|"
    r"kurzfassung|samenvatting|sommario|riassunto)\s*(?:[:.—]\s*|\s+(?=[A-Z]))?(.*)$",
    re.I,
)
_ABSTRACT_END = re.compile(
    r"^((\d+(\.\d+)*\.?|[IVX]+\.)?\s*(introduction|background|keywords?|key words|index terms|"
    r"contents|table of contents|1\s+introduction|acknowledge?ments?|references|"
    r"einleitung|einführung)\b|(keywords?|key words|DATES|ADDRESSES|FOR FURTHER INFORMATION)\s*:)",
    re.I,
)


def abstract_from_pages(pages: Sequence[str]) -> str | None:
    for page in pages[:ABSTRACT_PAGES]:
        lines = _lines(page)
        for i, line in enumerate(lines):
            m = _ABSTRACT_HEAD.match(line)
            if not m:
                continue
            rest = m.group(2).strip()
            if rest and rest[:1] in "–-—(":
                continue  # "Abstract – Computer Codes Poster Session" is a heading
            if rest and rest[:1].islower():
                continue  # "summary statistics are ..." is prose, not a heading
            collected = [rest] if rest else []
            for nxt in lines[i + 1:]:
                if _ABSTRACT_END.match(nxt) and not re.match(
                        r"^(background|methods?|results?|conclusions?)\s*[:.]", nxt, re.I):
                    break
                collected.append(nxt)
                if sum(len(c) for c in collected) > MAX_ABSTRACT_CHARS * 1.5:
                    break
            text = _join_lines(collected)
            if len(text) >= 100:
                return clip_abstract(normalise(text))
    return None


_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s)")


def clip_abstract(text: str, limit: int = MAX_ABSTRACT_CHARS) -> str:
    """Bound a summary at a sentence end, so a long one never stops mid-sentence.

    When no sentence ends in the last 40% of the allowance, the summary is cut at a word and
    ends with an ellipsis, so the reader sees that it goes on in the document.
    """
    if len(text) <= limit:
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, limit)]
    if ends and ends[-1] >= limit * 0.6:
        return text[:ends[-1]]
    return normalise(text, limit - 1).rstrip(".") + "\u2026"


# ---------------------------------------------------------------------------------------------
# language

_LANG_ALIASES = {"eng": "en", "english": "en", "deu": "de", "ger": "de", "german": "de",
                 "fra": "fr", "fre": "fr", "french": "fr", "spa": "es", "spanish": "es",
                 "por": "pt", "portuguese": "pt", "ita": "it", "nld": "nl", "dut": "nl",
                 "cym": "cy", "wel": "cy", "gle": "ga", "jpn": "ja", "ara": "ar", "zho": "zh",
                 "chi": "zh"}


def language_code(value: Any) -> str | None:
    """An ISO 639-1 code from "en", "en-GB", "eng", "English"; None when not recognisable."""
    s = normalise(value, 40).lower()
    if not s or s in {"x-default", "x-unknown", "und"}:
        return None
    base = re.split(r"[-_ ]", s)[0]
    if re.fullmatch(r"[a-z]{2}", base):
        return base
    return _LANG_ALIASES.get(base)


def language_from_text(pages: Sequence[str]) -> str | None:
    sample = normalise(" ".join(pages[:5]))[:LANGUAGE_SAMPLE_CHARS]
    if _letters(sample) < 40:
        return None
    try:
        from publications import language_model

        code = language_model.classify(sample)
    except Exception:  # noqa: BLE001 - language is a nicety, never a failure
        return None
    return language_code(code)


# ---------------------------------------------------------------------------------------------
# the proposal


def _staff_value(name: str, value: Any) -> Any:
    if name == "authors":
        if isinstance(value, str):
            items = [normalise(v, MAX_AUTHOR_CHARS) for v in re.split(r"[;\n]", value)]
        else:
            items = [normalise(v, MAX_AUTHOR_CHARS) for v in list(value)]
        return [v for v in items if v][:MAX_AUTHORS]
    if name == "keywords":
        if isinstance(value, str):
            items = [normalise(v, 100) for v in re.split(r"[;,\n]", value)]
        else:
            items = [normalise(v, 100) for v in list(value)]
        return [v for v in items if v][:MAX_KEYWORDS]
    if name == "date":
        return parse_date(value) or normalise(value, 40)
    if name == "language":
        return language_code(value) or normalise(value, 20)
    if name == "title":
        return normalise(value, MAX_TITLE_CHARS)
    if name == "abstract":
        return normalise(value, MAX_ABSTRACT_CHARS * 5)
    if isinstance(value, str):
        return normalise(value, 2000)
    return value


def _finish_title(title: str) -> str:
    t = _drop_defined_acronyms(normalise(title))
    t = _smart_case(t).strip(" ,;:-–—")
    return normalise(t, MAX_TITLE_CHARS)


def _contains_run(seq: list[str], part: list[str]) -> bool:
    n = len(part)
    return n > 0 and any(seq[i:i + n] == part for i in range(len(seq) - n + 1))


def _coverage(candidate: str, text: str) -> float:
    ct = tokens(candidate)
    if not ct:
        return 0.0
    have = set(tokens(text))
    return sum(1 for t in ct if t in have) / len(ct)


_TRAILING_BYLINE = re.compile(r"\s+[-–—]\s+([^-–—:;]{3,150})$")


def _without_byline(title: str) -> str:
    """"Cognitive Remediation for Schizophrenia - Alan Bellack, PhD": a title field that ends
    with the author's name after a dash carries a byline, which belongs to the authors."""
    m = _TRAILING_BYLINE.search(title)
    if m and _is_person_name(_clean_name(m.group(1)).split(",")[0]):
        return title[: m.start()].rstrip()
    return title


def _choose_title(
    extraction: Extraction, filename: str | None
) -> tuple[str | None, str | None, str | None]:
    """(title, subtitle, source) following the trust order described in propose_metadata."""
    pages = extraction.pages
    page1 = pages[0] if pages else ""
    metas: list[tuple[str, str]] = []
    for raw, source in ((extraction.info.get("Title"), SOURCE_INFO),
                        (extraction.xmp.get("title"), SOURCE_XMP)):
        t = _without_byline(normalise(raw, 2000)) if raw else ""
        if t and len(t) <= 500 and not is_placeholder_title(t, filename):
            if all(token_similarity(t, m) < 0.99 for m, _ in metas):
                metas.append((t, source))
    meta, meta_source = metas[0] if metas else (None, None)

    # documents whose genre fixes where the title is printed
    special = short_title(pages) or (regulatory_title(page1) if page1 else None)
    if special:
        return special, None, SOURCE_FIRST_PAGE

    fp = page_title(extraction.first_page_runs, hint=meta) if extraction.first_page_runs else None
    if fp is not None and meta:
        display = _display_text(extraction.first_page_runs, at_least_body=True)
        full = f"{fp.main}: {fp.subtitle}" if fp.subtitle else fp.main
        for m, src in metas:
            if token_similarity(m, fp.main) >= 0.9:
                return m, fp.subtitle, src
            if token_similarity(m, full) >= 0.9:
                return m, None, src
        for m, src in metas:
            # "Domestic Trade" printed large under "Section 22", Title "Section 22. Domestic
            # Trade": the metadata title holds the printed one and adds words printed nearby
            if _contains_run(tokens(m), tokens(fp.main)) and _coverage(m, display) >= 0.8:
                return m, None, src
        if token_similarity(meta, fp.main) >= 0.5 or fp.ratio >= 1.25:
            return fp.main, fp.subtitle, SOURCE_FIRST_PAGE
        return meta, None, meta_source
    if fp is not None:
        return fp.main, fp.subtitle, SOURCE_FIRST_PAGE
    if meta:
        return meta, None, meta_source
    for page in pages[:2]:
        line = first_substantial_line(page, filename)
        if line:
            return line, None, SOURCE_TEXT
    return None, None, None


def propose_metadata(
    extraction: Extraction, supplied: dict[str, Any] | None = None, filename: str | None = None
) -> Proposal:
    """Propose title, subtitle, authors, date, abstract, language and keywords.

    Trust order: values supplied by staff win; then the PDF's own metadata (document info,
    XMP) when it is plausible (not a producer placeholder or file name, and not contradicted
    by the title printed in large type); then what the first pages say. Every value records
    its source. A field with nothing plausible is left out.
    """
    fields: dict[str, ProposedValue] = {}
    supplied = supplied or {}
    for name, value in supplied.items():
        if value is None or (isinstance(value, (str, list, tuple)) and not value):
            continue
        v = _staff_value(name, value)
        if v not in (None, "", []):
            fields[name] = ProposedValue(v, SOURCE_STAFF)

    pages = tuple(p or "" for p in extraction.pages)
    info, xmp = extraction.info or {}, extraction.xmp or {}

    # title and subtitle
    title = subtitle = None
    if "title" not in fields:
        title, subtitle, source = _choose_title(extraction, filename)
        if title:
            finished = _finish_title(title)
            if finished and not is_placeholder_title(finished, filename):
                fields["title"] = ProposedValue(finished, source or SOURCE_FIRST_PAGE)
    if subtitle and "subtitle" not in fields and "title" in fields \
            and fields["title"].source != SOURCE_STAFF:
        fields["subtitle"] = ProposedValue(_finish_title(subtitle), SOURCE_FIRST_PAGE)

    # authors
    if "authors" not in fields:
        page_names = authors_from_page(pages[0], title) if pages else []
        meta_names: list[str] = []
        meta_source = SOURCE_XMP
        creators = xmp.get("creators") or []
        if isinstance(creators, (list, tuple)):
            meta_names = [normalise(c, MAX_AUTHOR_CHARS) for c in creators]
            meta_names = [c for c in meta_names if _is_plausible_meta_author(c)]
        if not meta_names and info.get("Author"):
            meta_source = SOURCE_INFO
            meta_names = [n for n in split_meta_authors(info["Author"])
                          if _is_plausible_meta_author(n)]
        if page_names and meta_names:
            page_surnames = {tokens(n)[-1] for n in page_names if tokens(n)}
            agree = all(tokens(n) and tokens(n)[-1] in page_surnames for n in meta_names)
            if agree and len(meta_names) > len(page_names):
                fields["authors"] = ProposedValue(meta_names[:MAX_AUTHORS], meta_source)
            else:
                fields["authors"] = ProposedValue(page_names, SOURCE_FIRST_PAGE)
        elif page_names:
            fields["authors"] = ProposedValue(page_names, SOURCE_FIRST_PAGE)
        elif meta_names:
            fields["authors"] = ProposedValue(meta_names[:MAX_AUTHORS], meta_source)

    # date: the date printed on the document is the publication date; the file's own dates say
    # when the PDF was made, so they are used only when nothing is printed
    if "date" not in fields:
        printed = date_from_text(pages, extraction.first_page_runs) if pages else None
        if printed:
            fields["date"] = ProposedValue(printed, SOURCE_FIRST_PAGE)
        else:
            for raw, src in ((xmp.get("date"), SOURCE_XMP),
                             (info.get("CreationDate"), SOURCE_INFO)):
                d = parse_date(raw) if raw else None
                if d:
                    fields["date"] = ProposedValue(d, src)
                    break

    # abstract
    if "abstract" not in fields:
        abstract = abstract_from_pages(pages)
        if abstract:
            fields["abstract"] = ProposedValue(abstract, SOURCE_FIRST_PAGE)

    # language
    if "language" not in fields:
        text_lang = language_from_text(pages)
        meta_lang = language_code(xmp.get("language")) or language_code(info.get("Language"))
        if meta_lang and (text_lang is None or text_lang == meta_lang):
            fields["language"] = ProposedValue(meta_lang, SOURCE_XMP if xmp.get("language")
                                               else SOURCE_INFO)
        elif text_lang:
            fields["language"] = ProposedValue(text_lang, SOURCE_TEXT)

    # keywords
    if "keywords" not in fields and info.get("Keywords"):
        kws = [normalise(k, 100) for k in re.split(r"[;,]", info["Keywords"])]
        kws = [k for k in kws if k and _letters(k) >= 2][:MAX_KEYWORDS]
        if kws:
            fields["keywords"] = ProposedValue(kws, SOURCE_INFO)

    return Proposal(fields=fields)
