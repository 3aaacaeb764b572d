"""Plain values that cross package borders: what extraction found and what is proposed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Short words for what extraction noticed about a file. They are stored with the file and
# printed by `portal ingest --json` in the `flags` list.
FLAG_NO_TEXT_LAYER = "no-text-layer"
FLAG_ENCRYPTED = "encrypted"
FLAG_UNREADABLE_PAGES = "unreadable-pages"
FLAG_REPAIRED = "repaired"


@dataclass(frozen=True)
class TextRun:
    """A piece of text on a page with the size it is drawn at (points, after scaling)."""

    text: str
    size: float
    y: float = 0.0  # vertical position on the page, larger is higher up


@dataclass(frozen=True)
class Extraction:
    """Everything read out of one PDF by the extraction worker.

    `pages` holds the text of each physical page in order (page 1 first); a page that could
    not be read is an empty string and its number is in `unreadable_pages`.
    `info` is the document information dictionary with keys without the slash
    (``{"Title": ..., "Author": ...}``), values already bounded and cleaned to plain strings.
    `xmp` holds a few XMP fields when present (``title``, ``creators``, ``description``,
    ``date``, ``language``). `first_page_runs` holds the text runs of page 1 with font sizes,
    the signal for the largest-type title.
    """

    page_count: int
    pages: tuple[str, ...]
    info: dict[str, str] = field(default_factory=dict)
    xmp: dict[str, Any] = field(default_factory=dict)
    first_page_runs: tuple[TextRun, ...] = ()
    flags: tuple[str, ...] = ()
    unreadable_pages: tuple[int, ...] = ()

    @property
    def text_chars(self) -> int:
        return sum(len(p) for p in self.pages)


@dataclass(frozen=True)
class ProposedValue:
    """One proposed field value and where it came from (`staff`, `document-metadata`,
    `xmp`, `first-page`, `text`, `filename`, `manifest`)."""

    value: Any
    source: str


@dataclass(frozen=True)
class Proposal:
    """Metadata proposed for a new publication, field name -> ProposedValue.

    Fields used: title, subtitle, authors (list of names), date (ISO prefix "YYYY",
    "YYYY-MM" or "YYYY-MM-DD"), abstract, language (ISO 639-1 code), keywords (list).
    """

    fields: dict[str, ProposedValue]

    def value(self, name: str, default: Any = None) -> Any:
        pv = self.fields.get(name)
        return pv.value if pv is not None else default

    def sources(self) -> dict[str, str]:
        return {k: v.source for k, v in self.fields.items()}
