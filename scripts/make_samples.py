#!/usr/bin/env python3
"""Build the sample collection of the Northfield Policy Hub portal.

Usage:  python scripts/make_samples.py OUTDIR

Reads every ``samples/*.md`` source (a front-matter block of metadata followed by a
light Markdown body), typesets each one as a PDF with fpdf2 and writes:

    OUTDIR/files/<slug>.pdf     one per publication that has a body
    OUTDIR/manifest.jsonl       one JSON object per publication, in file-name order

Every publication, person, organisation and figure in the samples is fictional.

Source format
-------------
The file starts with a block between two ``---`` lines.  Each line is ``key: value``;
a key with an empty value is a list, given as indented ``- item`` lines (for ``authors``
an item is ``Name | Affiliation``, for ``organisations`` it is ``Name | role``); a key
whose value is ``>`` takes the indented lines below it, folded into one paragraph.

Keys that go to the manifest are listed in MANIFEST_KEYS.  Keys that only steer the
typesetting are:

    layout      report | paper | briefing | newsletter | slides | article   (default report)
    pdf_meta    full | partial | none | placeholder                         (default full)
    short_title text for the running footer
    masthead    newsletter name printed in the masthead
    edition     newsletter issue line printed under the masthead
    created     creation date written into the PDF (YYYY-MM-DD; default from ``date``)

Body markup: ``# Heading`` (a chapter; a new page in reports), ``## Sub-heading``,
blank-line separated paragraphs, ``- `` bullets, ``1. `` numbered items, ``> `` a shaded
box (the first line may be a ``**Box title**``), ``|`` table rows (first row is the header),
``[pagebreak]``, and ``**bold**`` inside text.  In the ``slides`` layout every ``#``
starts a new slide.

The output is deterministic: the same sources give the same bytes on every run.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import unicodedata
from datetime import datetime, timezone
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

ROOT = Path(__file__).resolve().parent.parent
SAMPLES_DIR = ROOT / "samples"

HUB = "Northfield Policy Hub"
SAMPLE_NOTICE = "Sample publication \u2014 fictional, for demonstration"
SAMPLE_SMALLPRINT = (
    "Every organisation, person, place and figure in this document is invented. "
    "It was written to demonstrate the Northfield Policy Hub publications portal "
    "and does not describe real policy or real people."
)

# Manifest keys, in the order they are written.
MANIFEST_KEYS = (
    "title", "subtitle", "authors", "organisations", "date", "type", "series",
    "series_number", "topics", "keywords", "abstract", "language", "licence", "doi",
    "isbn", "issn", "url", "external_link", "file",
)
RENDER_KEYS = {"layout", "pdf_meta", "short_title", "masthead", "edition", "created"}
LIST_KEYS = {"authors", "organisations", "topics", "keywords"}
TYPES = {
    "report", "working paper", "briefing", "article", "book", "chapter", "newsletter",
    "presentation", "video", "other",
}
ROLES = {"publisher", "commissioned by", "partner", "funder"}
LAYOUTS = {"report", "paper", "briefing", "newsletter", "slides", "article"}
PDF_META_MODES = {"full", "partial", "none", "placeholder"}

MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
)
MONTHS_FR = (
    "janvier", "f\u00e9vrier", "mars", "avril", "mai", "juin", "juillet", "ao\u00fbt",
    "septembre", "octobre", "novembre", "d\u00e9cembre",
)

# Colours (RGB)
INK = (33, 37, 41)
GREY = (96, 104, 112)
LIGHT = (236, 241, 242)
ACCENTS = {
    "report": (0, 92, 99),
    "paper": (94, 45, 97),
    "briefing": (196, 88, 24),
    "newsletter": (38, 110, 62),
    "slides": (24, 52, 98),
    "article": (120, 32, 40),
}


class SampleError(ValueError):
    """A sample source is malformed."""


# --------------------------------------------------------------------------- parsing


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def parse_front_matter(lines: list[str], source: str) -> dict:
    meta: dict = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip() or line.lstrip().startswith("#"):
            i += 1
            continue
        m = re.match(r"^([a-z_]+):\s*(.*)$", line)
        if not m:
            raise SampleError(f"{source}: cannot read front-matter line {line!r}")
        key, value = m.group(1), m.group(2).strip()
        i += 1
        block: list[str] = []
        while i < len(lines) and (lines[i].startswith((" ", "\t")) or not lines[i].strip()):
            if lines[i].strip():
                block.append(lines[i].strip())
            i += 1
        if value == ">":
            meta[key] = " ".join(block)
        elif value == "":
            items = []
            for item in block:
                if not item.startswith("- "):
                    raise SampleError(f"{source}: list item for {key!r} must start with '- '")
                items.append(item[2:].strip())
            meta[key] = [_list_item(key, item, source) for item in items]
        else:
            if block:
                raise SampleError(f"{source}: unexpected indented lines after {key!r}")
            meta[key] = _unquote(value)
    return meta


def _list_item(key: str, item: str, source: str):
    if key == "authors":
        name, _, affiliation = (part.strip() for part in item.partition("|"))
        return {"name": name, "affiliation": affiliation} if affiliation else name
    if key == "organisations":
        name, _, role = (part.strip() for part in item.partition("|"))
        if role not in ROLES:
            raise SampleError(f"{source}: organisation role {role!r} not in {sorted(ROLES)}")
        return {"name": name, "role": role}
    return _unquote(item)


def parse_body(text: str) -> list[tuple]:
    """Split the Markdown-ish body into blocks."""
    blocks: list[tuple] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            blocks.append(("p", " ".join(para)))
            para.clear()

    lines = text.splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i]
        line = raw.strip()
        if not line:
            flush()
            i += 1
            continue
        if line == "[pagebreak]":
            flush()
            blocks.append(("pagebreak",))
        elif line.startswith("## "):
            flush()
            blocks.append(("h2", line[3:].strip()))
        elif line.startswith("# "):
            flush()
            blocks.append(("h1", line[2:].strip()))
        elif line.startswith(("- ", "* ")):
            flush()
            items = []
            while i < len(lines) and lines[i].strip().startswith(("- ", "* ")):
                items.append(lines[i].strip()[2:].strip())
                i += 1
                # continuation lines of a bullet are indented
                while i < len(lines) and lines[i].startswith("  ") and lines[i].strip() \
                        and not lines[i].strip().startswith(("- ", "* ")):
                    items[-1] += " " + lines[i].strip()
                    i += 1
            blocks.append(("ul", items))
            continue
        elif re.match(r"^\d+\.\s", line):
            flush()
            items = []
            while i < len(lines) and re.match(r"^\d+\.\s", lines[i].strip()):
                items.append(re.sub(r"^\d+\.\s+", "", lines[i].strip()))
                i += 1
                while i < len(lines) and lines[i].startswith("   ") and lines[i].strip():
                    items[-1] += " " + lines[i].strip()
                    i += 1
            blocks.append(("ol", items))
            continue
        elif line.startswith(">"):
            flush()
            box: list[str] = []
            while i < len(lines) and lines[i].strip().startswith(">"):
                box.append(lines[i].strip()[1:].strip())
                i += 1
            paras, cur = [], []
            for b in box:
                if b:
                    cur.append(b)
                elif cur:
                    paras.append(" ".join(cur))
                    cur = []
            if cur:
                paras.append(" ".join(cur))
            blocks.append(("box", paras))
            continue
        elif line.startswith("|"):
            flush()
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(re.fullmatch(r":?-{2,}:?", c) for c in cells):
                    rows.append(cells)
                i += 1
            blocks.append(("table", rows))
            continue
        else:
            para.append(line)
        i += 1
    flush()
    return blocks


def load_source(path: Path) -> tuple[dict, list[tuple]]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise SampleError(f"{path.name}: must start with a '---' front-matter block")
    try:
        end = lines.index("---", 1)
    except ValueError:
        raise SampleError(f"{path.name}: front-matter block is not closed") from None
    meta = parse_front_matter(lines[1:end], path.name)
    body = parse_body("\n".join(lines[end + 1:]))
    validate(meta, path.name)
    return meta, body


def validate(meta: dict, source: str) -> None:
    unknown = set(meta) - set(MANIFEST_KEYS) - RENDER_KEYS
    if unknown:
        raise SampleError(f"{source}: unknown keys {sorted(unknown)}")
    for key in ("title", "date", "type"):
        if not meta.get(key):
            raise SampleError(f"{source}: {key!r} is required")
    if meta["type"] not in TYPES:
        raise SampleError(f"{source}: type {meta['type']!r} not in {sorted(TYPES)}")
    if not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", meta["date"]):
        raise SampleError(f"{source}: date must be YYYY, YYYY-MM or YYYY-MM-DD")
    if meta.get("layout", "report") not in LAYOUTS:
        raise SampleError(f"{source}: layout {meta['layout']!r} not in {sorted(LAYOUTS)}")
    if meta.get("pdf_meta", "full") not in PDF_META_MODES:
        raise SampleError(f"{source}: pdf_meta {meta['pdf_meta']!r} unknown")
    for key in LIST_KEYS:
        if key in meta and not isinstance(meta[key], list):
            raise SampleError(f"{source}: {key!r} must be a list")


# --------------------------------------------------------------------------- helpers


def pdf_text(text: str) -> str:
    """Make text safe for the core fonts (cp1252), folding anything else to ASCII.

    French punctuation keeps its space before ':', ';', '%' and inside guillemets,
    made non-breaking so that it never starts a line."""
    text = re.sub(r" ([:;%?!\u00bb])", "\u00a0\\1", text)
    text = text.replace("\u00ab ", "\u00ab\u00a0")
    out = []
    for ch in text:
        try:
            ch.encode("cp1252")
            out.append(ch)
        except UnicodeEncodeError:
            special = {"\u0153": "oe", "\u0152": "OE", "\u2011": "-", "\u2212": "-",
                       "\u2009": " ", "\u202f": " ", "\u2192": "->", "\u2248": "~"}
            if ch in special:
                out.append(special[ch])
            else:
                folded = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
                out.append(folded or "?")
    return "".join(out)


def human_date(date: str, language: str = "en") -> str:
    parts = [int(p) for p in date.split("-")]
    months = MONTHS_FR if language == "fr" else MONTHS
    if len(parts) == 1:
        return str(parts[0])
    if len(parts) == 2:
        return f"{months[parts[1] - 1]} {parts[0]}"
    if language == "fr":
        return f"{parts[2]} {months[parts[1] - 1]} {parts[0]}"
    return f"{parts[2]} {months[parts[1] - 1]} {parts[0]}"


def creation_datetime(meta: dict) -> datetime:
    stamp = meta.get("created") or meta["date"]
    parts = [int(p) for p in stamp.split("-")] + [1, 1]
    year, month, day = parts[0], parts[1], parts[2]
    return datetime(year, month, day, 9, 30, 0, tzinfo=timezone.utc)


def author_names(meta: dict) -> list[str]:
    return [a["name"] if isinstance(a, dict) else a for a in meta.get("authors", [])]


def join_names(names: list[str], conj: str = "and") -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + f" {conj} " + names[-1]


def org_lines(meta: dict) -> list[str]:
    """Credit lines for the cover, e.g. 'Commissioned by Ashdown Borough Council'."""
    french = meta.get("language") == "fr"
    labels = {
        "commissioned by": "Commande de" if french else "Commissioned by",
        "partner": "En partenariat avec" if french else "In partnership with",
        "funder": "Avec le soutien de" if french else "Funded by",
    }
    lines = []
    for role in ("commissioned by", "partner", "funder"):
        names = [o["name"] for o in meta.get("organisations", []) if o["role"] == role]
        if names:
            lines.append(f"{labels[role]} {join_names(names, 'et' if french else 'and')}")
    return lines


def publishers(meta: dict) -> list[str]:
    names = [o["name"] for o in meta.get("organisations", []) if o["role"] == "publisher"]
    return names or [HUB]


def manifest_record(meta: dict, file_rel: str | None) -> dict:
    record = {}
    for key in MANIFEST_KEYS:
        if key == "file":
            if file_rel:
                record["file"] = file_rel
            continue
        value = meta.get(key)
        if value in (None, "", []):
            continue
        record[key] = value
    keywords = list(record.get("keywords", []))
    if "sample" not in keywords:
        keywords.append("sample")
    record["keywords"] = keywords
    return record


LICENCE_TEXT = {
    "CC-BY-4.0": "This work is licensed under the Creative Commons Attribution 4.0 "
                 "International licence (CC BY 4.0).",
    "CC-BY-NC-4.0": "This work is licensed under the Creative Commons Attribution-"
                    "NonCommercial 4.0 International licence (CC BY-NC 4.0).",
    "CC-BY-SA-4.0": "This work is licensed under the Creative Commons Attribution-"
                    "ShareAlike 4.0 International licence (CC BY-SA 4.0).",
    "OGL-3.0": "This work may be re-used under the terms of the Open Government "
               "Licence v3.0.",
}


# --------------------------------------------------------------------------- typesetting


class SampleDoc(FPDF):
    def __init__(self, meta: dict, orientation: str = "P", fmt="A4") -> None:
        super().__init__(orientation=orientation, unit="mm", format=fmt)
        self.meta = meta
        self.layout = meta.get("layout", "report")
        self.accent = ACCENTS[self.layout]
        self.core_fonts_encoding = "cp1252"
        self.footer_label = pdf_text(meta.get("short_title") or meta["title"])
        self.toc: list[tuple[str, int]] = []
        self.set_auto_page_break(True, margin=22)
        self.set_margins(22, 20, 22)
        self.set_text_color(*INK)

    # fpdf2 hooks -----------------------------------------------------------
    def footer(self) -> None:
        if self.page_no() == 1 or self.layout == "slides":
            return
        self.set_y(-14)
        self.set_font("Helvetica", "", 7.5)
        self.set_text_color(*GREY)
        self.set_draw_color(200, 205, 208)
        self.line(self.l_margin, self.get_y() - 2, self.w - self.r_margin, self.get_y() - 2)
        left = f"{HUB}  \u00b7  {self.footer_label}"
        width = self.w - self.l_margin - self.r_margin
        self.cell(width * 0.75, 5, pdf_text(left))
        self.set_font("Helvetica", "B", 7.5)
        self.cell(width * 0.25, 5, str(self.page_no()), align="R")
        self.set_text_color(*INK)

    # building blocks -------------------------------------------------------
    @property
    def body_width(self) -> float:
        return self.w - self.l_margin - self.r_margin

    def text_block(self, text: str, size: float = 10.5, style: str = "", lh: float = 5.3,
                   align: str = "J", family: str = "Helvetica", color=INK,
                   width: float = 0) -> None:
        self.set_font(family, style, size)
        self.set_text_color(*color)
        self.multi_cell(width, lh, pdf_text(text), align=align, markdown=True,
                        new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*INK)

    def heading1(self, text: str, size: float = 17) -> None:
        if self.get_y() > self.h - 60:
            self.add_page()
        self.ln(3)
        self.set_font("Helvetica", "B", size)
        self.set_text_color(*self.accent)
        self.multi_cell(0, size * 0.5, pdf_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        y = self.get_y() + 1.5
        self.set_draw_color(*self.accent)
        self.set_line_width(0.6)
        self.line(self.l_margin, y, self.l_margin + 22, y)
        self.set_line_width(0.2)
        self.ln(6)
        self.set_text_color(*INK)

    def heading2(self, text: str, size: float = 12) -> None:
        if self.get_y() > self.h - 45:
            self.add_page()
        self.ln(2.5)
        self.set_font("Helvetica", "B", size)
        self.set_text_color(*INK)
        self.multi_cell(0, size * 0.48, pdf_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1.5)

    def bullets(self, items: list[str], numbered: bool = False, size: float = 10.5,
                lh: float = 5.3, indent: float = 6) -> None:
        for n, item in enumerate(items, 1):
            self.set_font("Helvetica", "B" if numbered else "", size)
            self.set_text_color(*self.accent)
            x = self.l_margin
            self.set_x(x)
            mark = f"{n}." if numbered else "\u2022"
            self.cell(indent, lh, mark)
            self.set_text_color(*INK)
            self.set_font("Helvetica", "", size)
            self.set_left_margin(x + indent)
            self.multi_cell(0, lh, pdf_text(item), align="L", markdown=True,
                            new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.set_left_margin(x)
            self.ln(1.2)
        self.ln(1.5)

    def box(self, paras: list[str], size: float = 10) -> None:
        """A shaded call-out box; a first paragraph in **bold** becomes its title."""
        title = None
        if paras and re.fullmatch(r"\*\*[^*]+\*\*", paras[0]):
            title, paras = paras[0][2:-2], paras[1:]
        pad = 5
        x0, width = self.l_margin, self.body_width
        # measure height first
        lh = size * 0.52
        height = pad * 2
        self.set_font("Helvetica", "B", size + 1)
        if title:
            height += len(self.multi_cell(width - 2 * pad, lh + 0.6, pdf_text(title),
                                          dry_run=True, output="LINES")) * (lh + 0.6) + 1.5
        self.set_font("Helvetica", "", size)
        for p in paras:
            lines = self.multi_cell(width - 2 * pad, lh, pdf_text(p), dry_run=True,
                                    output="LINES", markdown=True)
            height += len(lines) * lh + 1.8
        if self.get_y() + height > self.h - self.b_margin:
            self.add_page()
        y0 = self.get_y() + 1
        self.set_fill_color(*LIGHT)
        self.rect(x0, y0, width, height, style="F")
        self.set_fill_color(*self.accent)
        self.rect(x0, y0, 1.4, height, style="F")
        self.set_xy(x0 + pad, y0 + pad)
        self.set_left_margin(x0 + pad)
        self.set_right_margin(self.r_margin + pad)
        if title:
            self.set_font("Helvetica", "B", size + 1)
            self.set_text_color(*self.accent)
            self.multi_cell(0, lh + 0.6, pdf_text(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.ln(1.5)
        self.set_text_color(*INK)
        for p in paras:
            self.set_font("Helvetica", "", size)
            self.multi_cell(0, lh, pdf_text(p), align="L", markdown=True,
                            new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.ln(1.8)
        self.set_left_margin(x0)
        self.set_right_margin(self.r_margin - pad)
        self.set_y(y0 + height + 4)

    def table_block(self, rows: list[list[str]], size: float = 9) -> None:
        if not rows:
            return
        ncols = max(len(r) for r in rows)
        rows = [r + [""] * (ncols - len(r)) for r in rows]
        first = max(len(r[0]) for r in rows)
        if ncols > 1:
            first_w = min(max(first * 1.6, 30), 80)
            rest = (self.body_width - first_w) / (ncols - 1)
            widths = (first_w,) + (rest,) * (ncols - 1)
        else:
            widths = (self.body_width,)
        if self.get_y() > self.h - 60:
            self.add_page()
        self.set_font("Helvetica", "", size)
        self.set_draw_color(190, 198, 202)
        self.set_fill_color(255, 255, 255)  # unfilled rows are drawn with the current fill
        heading = FontFace(emphasis="BOLD", color=(255, 255, 255), fill_color=self.accent)
        with self.table(col_widths=widths, text_align=("LEFT",) + ("RIGHT",) * (ncols - 1),
                        headings_style=heading, line_height=size * 0.48,
                        cell_fill_color=FontFace(fill_color=(242, 246, 247)).fill_color,
                        cell_fill_mode="ROWS",
                        padding=1.6, width=self.body_width) as table:
            for r in rows:
                row = table.row()
                for c in r:
                    row.cell(pdf_text(c))
        self.ln(5)

    def sample_badge(self, x: float, y: float, width: float, dark: bool = False) -> None:
        self.set_xy(x, y)
        if dark:
            self.set_fill_color(255, 255, 255)
            self.set_text_color(*self.accent)
        else:
            self.set_fill_color(*LIGHT)
            self.set_text_color(*INK)
        self.set_font("Helvetica", "B", 9)
        self.cell(width, 7, "  " + pdf_text(SAMPLE_NOTICE), fill=True,
                  new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.set_text_color(*INK)

    # body ------------------------------------------------------------------
    def render_blocks(self, blocks: list[tuple], chapter_breaks: bool,
                      body_size: float = 10.5) -> None:
        lh = body_size * 0.505
        first_h1 = True
        for block in blocks:
            kind = block[0]
            if kind == "h1":
                if chapter_breaks and not first_h1:
                    self.add_page()
                elif not first_h1:
                    self.ln(4)
                first_h1 = False
                self.toc.append((block[1], self.page_no()))
                self.heading1(block[1])
            elif kind == "h2":
                self.heading2(block[1])
            elif kind == "p":
                self.text_block(block[1], size=body_size, lh=lh)
                self.ln(2.4)
            elif kind == "ul":
                self.bullets(block[1], size=body_size, lh=lh)
            elif kind == "ol":
                self.bullets(block[1], numbered=True, size=body_size, lh=lh)
            elif kind == "box":
                self.box(block[1])
            elif kind == "table":
                self.table_block(block[1])
            elif kind == "pagebreak":
                self.add_page()


def set_pdf_metadata(pdf: FPDF, meta: dict) -> None:
    mode = meta.get("pdf_meta", "full")
    pdf.set_creation_date(creation_datetime(meta))
    if mode == "none":
        return
    if mode == "placeholder":
        pdf.set_title("Microsoft Word - draft3.doc")
        pdf.set_author("jsmith")
        pdf.set_creator("Microsoft\u00ae Word 2010")
        pdf.set_producer("Microsoft\u00ae Word 2010")
        return
    title = meta["title"] + (f": {meta['subtitle']}" if meta.get("subtitle") else "")
    pdf.set_title(title)
    pdf.set_producer(f"{HUB} sample builder (fpdf2)")
    if mode == "partial":
        return
    names = author_names(meta)
    pdf.set_author(", ".join(names) if names else HUB)
    subject = meta.get("abstract") or meta.get("subtitle") or ""
    if len(subject) > 240:
        subject = subject[:240].rsplit(". ", 1)[0].rstrip(".") + "."
    pdf.set_subject(subject)
    keywords = list(meta.get("keywords", []))
    if "sample" not in keywords:
        keywords.append("sample")
    pdf.set_keywords(", ".join(keywords))
    pdf.set_creator(HUB)
    if meta.get("language"):
        pdf.set_lang(meta["language"])


def type_label(meta: dict) -> str:
    label = meta["type"].upper()
    if meta.get("language") == "fr" and meta["type"] == "other":
        label = "SYNTH\u00c8SE EN FRAN\u00c7AIS"
    if meta.get("series"):
        label = meta["series"].upper()
        if meta.get("series_number"):
            label += f"  \u00b7  NO. {meta['series_number']}"
    return label


def cover_page(pdf: SampleDoc, meta: dict) -> None:
    """Full cover page for reports and working papers."""
    pdf.add_page()
    acc = pdf.accent
    pdf.set_fill_color(*acc)
    pdf.rect(0, 0, pdf.w, 26, style="F")
    pdf.set_xy(22, 9)
    pdf.set_font("Helvetica", "B", 12)
    pdf.set_text_color(255, 255, 255)
    pdf.cell(90, 8, HUB.upper())
    pdf.set_font("Helvetica", "", 9)
    pdf.set_xy(pdf.w - 22 - 90, 9)
    pdf.cell(90, 8, pdf_text(type_label(meta)), align="R")

    pdf.set_text_color(*GREY)
    pdf.set_xy(22, 62)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 6, pdf_text(meta["type"].upper() if meta.get("series") else ""),
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_text_color(*INK)
    size = 34 if len(meta["title"]) < 40 else 30 if len(meta["title"]) < 70 else 26
    pdf.set_font("Helvetica", "B", size)
    pdf.multi_cell(150, size * 0.45, pdf_text(meta["title"]), align="L",
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_draw_color(*acc)
    pdf.set_line_width(1.2)
    pdf.line(22, pdf.get_y(), 62, pdf.get_y())
    pdf.set_line_width(0.2)
    pdf.ln(6)
    if meta.get("subtitle"):
        pdf.set_font("Helvetica", "", 15)
        pdf.set_text_color(*GREY)
        pdf.multi_cell(150, 7.2, pdf_text(meta["subtitle"]), align="L",
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(8)
    names = author_names(meta)
    if names:
        pdf.set_text_color(*INK)
        pdf.set_font("Helvetica", "", 12)
        pdf.multi_cell(150, 6, pdf_text("by " + join_names(names)), align="L",
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)
    pdf.set_font("Helvetica", "", 10.5)
    pdf.set_text_color(*GREY)
    for line in org_lines(meta):
        pdf.multi_cell(150, 5.5, pdf_text(line), align="L",
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_text_color(*acc)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 6, pdf_text(human_date(meta["date"], meta.get("language", "en"))),
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    # foot of the cover (drawn without automatic page breaks)
    pdf.set_auto_page_break(False)
    pdf.set_fill_color(*acc)
    pdf.rect(0, pdf.h - 38, pdf.w, 38, style="F")
    pdf.sample_badge(22, pdf.h - 32, 110, dark=True)
    pdf.set_xy(22, pdf.h - 22)
    pdf.set_font("Helvetica", "", 8)
    pdf.set_text_color(255, 255, 255)
    pdf.multi_cell(120, 4, pdf_text(SAMPLE_SMALLPRINT), align="L")
    ids = []
    if meta.get("doi"):
        ids.append(f"DOI {meta['doi']}")
    if meta.get("licence"):
        ids.append(meta["licence"])
    if ids:
        pdf.set_xy(pdf.w - 22 - 50, pdf.h - 22)
        pdf.set_font("Helvetica", "", 8)
        pdf.multi_cell(50, 4, pdf_text("\n".join(ids)), align="R")
    pdf.set_text_color(*INK)
    pdf.set_auto_page_break(True, margin=22)


def colophon(pdf: SampleDoc, meta: dict, y: float | None = None) -> None:
    """Publication details: publisher, citation, licence, DOI."""
    if y is not None:
        pdf.set_y(y)
    pdf.set_draw_color(200, 205, 208)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(3)
    size = 8.5
    lh = 4.2
    names = author_names(meta)
    year = meta["date"][:4]
    cite = f"{join_names(names) if names else HUB} ({year}). {meta['title']}"
    if meta.get("subtitle"):
        cite += f": {meta['subtitle']}"
    cite += f". {', '.join(publishers(meta))}."
    if meta.get("series"):
        cite += f" {meta['series']}"
        if meta.get("series_number"):
            cite += f" no. {meta['series_number']}"
        cite += "."
    if meta.get("doi"):
        cite += f" https://doi.org/{meta['doi']}"
    lines = [
        f"**Published by** {join_names(publishers(meta))}, {human_date(meta['date'])}.",
        f"**Suggested citation:** {cite}",
    ]
    if meta.get("licence"):
        lines.append(f"**Licence:** {LICENCE_TEXT.get(meta['licence'], meta['licence'])}")
    else:
        lines.append(f"**Copyright** \u00a9 {year} {publishers(meta)[0]}. All rights reserved.")
    if meta.get("doi"):
        lines.append(f"**DOI:** {meta['doi']} (an example identifier; it does not resolve).")
    lines.append(f"**{SAMPLE_NOTICE}.** {SAMPLE_SMALLPRINT}")
    lines.append(
        f"**About {HUB}.** {HUB} is an imaginary independent research centre that works "
        "with councils, public bodies, colleges and charities on public service reform, "
        "local partnerships and community wellbeing."
    )
    for line in lines:
        pdf.text_block(line, size=size, lh=lh, align="L", color=GREY)
        pdf.ln(1.4)


def contents_page(pdf: SampleDoc, meta: dict) -> None:
    """Reserve page 2 for the contents list and colophon; fpdf2 fills it in at output
    time, once the chapter page numbers are known."""

    def render_contents(doc: SampleDoc, _outline) -> None:
        doc.set_xy(doc.l_margin, doc.t_margin)
        doc.set_font("Helvetica", "B", 20)
        doc.set_text_color(*doc.accent)
        doc.cell(0, 12, "Contents", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        doc.ln(4)
        doc.set_text_color(*INK)
        for title, page in doc.toc:
            doc.set_font("Helvetica", "", 11)
            doc.cell(doc.body_width - 15, 7.5, pdf_text(title))
            doc.set_font("Helvetica", "B", 11)
            doc.cell(15, 7.5, str(page), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            doc.set_draw_color(225, 229, 231)
            doc.line(doc.l_margin, doc.get_y(), doc.w - doc.r_margin, doc.get_y())
        colophon(doc, meta, y=max(doc.get_y() + 10, doc.h - 98))

    pdf.add_page()
    pdf.insert_toc_placeholder(render_contents, pages=1)


def render_report(meta: dict, blocks: list[tuple]) -> SampleDoc:
    """Reports and working papers: cover, contents + colophon, then the chapters."""
    pdf = SampleDoc(meta)
    set_pdf_metadata(pdf, meta)
    cover_page(pdf, meta)
    contents_page(pdf, meta)
    chapter_breaks = meta.get("layout", "report") == "report"
    if meta.get("abstract") and meta.get("layout") == "paper":
        pdf.toc.append(("Abstract", pdf.page_no()))
        pdf.heading1("Abstract")
        pdf.text_block(meta["abstract"], size=10.5, lh=5.3, style="")
        if meta.get("keywords"):
            pdf.ln(2)
            kw = [k for k in meta["keywords"] if k != "sample"]
            pdf.text_block("**Keywords:** " + "; ".join(kw), size=9.5, lh=5, align="L",
                           color=GREY)
        pdf.ln(4)
    pdf.render_blocks(blocks, chapter_breaks=chapter_breaks)
    return pdf


def render_briefing(meta: dict, blocks: list[tuple]) -> SampleDoc:
    """Briefings and articles: a banner and title block, then the text on page one."""
    pdf = SampleDoc(meta)
    set_pdf_metadata(pdf, meta)
    pdf.add_page()
    acc = pdf.accent
    article = meta.get("layout") == "article"
    pdf.set_fill_color(*acc)
    pdf.rect(0, 0, pdf.w, 16, style="F")
    pdf.set_xy(22, 5)
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(80, 6, HUB.upper())
    pdf.set_font("Helvetica", "", 8.5)
    pdf.set_xy(pdf.w - 22 - 100, 5)
    pdf.cell(100, 6, pdf_text(type_label(meta)), align="R")
    pdf.set_text_color(*INK)
    pdf.set_xy(22, 26)
    pdf.set_font("Helvetica", "B", 9)
    pdf.set_text_color(*acc)
    lang = meta.get("language", "en")
    pdf.cell(0, 5, pdf_text(human_date(meta["date"], lang).upper()),
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_text_color(*INK)
    size = 24 if len(meta["title"]) < 70 else 21
    family = "Times" if article else "Helvetica"
    pdf.set_font(family, "B", size)
    pdf.multi_cell(0, size * 0.46, pdf_text(meta["title"]), align="L",
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    if meta.get("subtitle"):
        pdf.set_font(family, "I" if article else "", 13)
        pdf.set_text_color(*GREY)
        pdf.multi_cell(0, 6.2, pdf_text(meta["subtitle"]), align="L",
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
    names = author_names(meta)
    credits = []
    if names:
        credits.append(("Par " if lang == "fr" else "By ") + join_names(names, "et" if lang == "fr" else "and"))
    credits += org_lines(meta)
    pdf.set_font("Helvetica", "", 9.5)
    pdf.set_text_color(*INK)
    for line in credits:
        pdf.multi_cell(0, 5, pdf_text(line), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.sample_badge(22, pdf.get_y(), pdf.body_width)
    pdf.ln(6)
    pdf.set_x(22)
    pdf.render_blocks(blocks, chapter_breaks=False, body_size=10.5 if not article else 10.5)
    pdf.ln(4)
    if pdf.get_y() > pdf.h - 80:
        pdf.add_page()
    colophon(pdf, meta)
    return pdf


def render_newsletter(meta: dict, blocks: list[tuple]) -> SampleDoc:
    pdf = SampleDoc(meta)
    set_pdf_metadata(pdf, meta)
    pdf.add_page()
    acc = pdf.accent
    pdf.set_fill_color(*acc)
    pdf.rect(0, 0, pdf.w, 52, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_xy(22, 10)
    pdf.set_font("Helvetica", "B", 9)
    pdf.cell(0, 5, HUB.upper() + "  \u00b7  NEWSLETTER", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "B", 40)
    pdf.cell(0, 18, pdf_text(meta.get("masthead", meta["title"])),
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 12)
    edition = meta.get("edition") or human_date(meta["date"])
    pdf.cell(0, 7, pdf_text(edition), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*INK)
    pdf.set_y(58)
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(0, 7, pdf_text(meta["title"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if meta.get("subtitle"):
        pdf.set_font("Helvetica", "", 11)
        pdf.set_text_color(*GREY)
        pdf.multi_cell(0, 5.5, pdf_text(meta["subtitle"]), new_x=XPos.LMARGIN,
                       new_y=YPos.NEXT)
        pdf.set_text_color(*INK)
    pdf.ln(2)
    pdf.sample_badge(22, pdf.get_y(), pdf.body_width)
    pdf.ln(6)
    pdf.set_x(22)
    # Stories: each '#' is a story; in the newsletter they run on without page breaks.
    pdf.render_blocks(blocks, chapter_breaks=False, body_size=10)
    pdf.ln(4)
    if pdf.get_y() > pdf.h - 80:
        pdf.add_page()
    colophon(pdf, meta)
    return pdf


def render_slides(meta: dict, blocks: list[tuple]) -> SampleDoc:
    pdf = SampleDoc(meta, orientation="L", fmt=(169.3, 301.0))
    pdf.set_auto_page_break(False)
    pdf.set_margins(20, 16, 20)
    set_pdf_metadata(pdf, meta)
    acc = pdf.accent
    # title slide
    pdf.add_page()
    pdf.set_fill_color(*acc)
    pdf.rect(0, 0, pdf.w, pdf.h, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_xy(20, 16)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 6, HUB.upper(), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_xy(20, 48)
    pdf.set_font("Helvetica", "B", 32)
    pdf.multi_cell(230, 14, pdf_text(meta["title"]), align="L",
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    if meta.get("subtitle"):
        pdf.set_font("Helvetica", "", 16)
        pdf.multi_cell(230, 8, pdf_text(meta["subtitle"]), align="L",
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(5)
    pdf.set_font("Helvetica", "", 12)
    credit = join_names(author_names(meta))
    credit += "  \u00b7  " + human_date(meta["date"])
    pdf.cell(0, 7, pdf_text(credit), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for line in org_lines(meta):
        pdf.cell(0, 6, pdf_text(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.sample_badge(20, pdf.h - 24, 110, dark=True)
    pdf.set_text_color(*INK)

    slides: list[list[tuple]] = []
    for block in blocks:
        if block[0] == "h1" or not slides:
            slides.append([])
        slides[-1].append(block)
    for slide in slides:
        pdf.add_page()
        pdf.set_fill_color(*acc)
        pdf.rect(0, 0, 8, pdf.h, style="F")
        y = 16
        for block in slide:
            kind = block[0]
            pdf.set_xy(20, y)
            if kind == "h1":
                pdf.set_font("Helvetica", "B", 24)
                pdf.set_text_color(*acc)
                pdf.multi_cell(0, 11, pdf_text(block[1]), align="L",
                               new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.set_text_color(*INK)
                pdf.ln(5)
            elif kind == "h2":
                pdf.set_font("Helvetica", "B", 16)
                pdf.multi_cell(0, 8, pdf_text(block[1]), new_x=XPos.LMARGIN,
                               new_y=YPos.NEXT)
                pdf.ln(2)
            elif kind == "p":
                pdf.text_block(block[1], size=17, lh=8.4, align="L")
                pdf.ln(3)
            elif kind in ("ul", "ol"):
                pdf.bullets(block[1], numbered=kind == "ol", size=17, lh=8.4, indent=10)
            elif kind == "box":
                pdf.box(block[1], size=13)
            elif kind == "table":
                pdf.table_block(block[1], size=13)
            y = pdf.get_y()
        # slide footer
        pdf.set_xy(20, pdf.h - 12)
        pdf.set_font("Helvetica", "", 8)
        pdf.set_text_color(*GREY)
        pdf.cell(200, 5, pdf_text(f"{HUB}  \u00b7  {pdf.footer_label}  \u00b7  {SAMPLE_NOTICE}"))
        pdf.cell(0, 5, str(pdf.page_no()), align="R")
        pdf.set_text_color(*INK)
    return pdf


def render(meta: dict, blocks: list[tuple]) -> bytes:
    layout = meta.get("layout", "report")
    if layout in ("report", "paper"):
        pdf = render_report(meta, blocks)
    elif layout == "newsletter":
        pdf = render_newsletter(meta, blocks)
    elif layout == "slides":
        pdf = render_slides(meta, blocks)
    else:
        pdf = render_briefing(meta, blocks)
    return bytes(pdf.output())


# --------------------------------------------------------------------------- main


def build(outdir: Path, samples_dir: Path = SAMPLES_DIR, quiet: bool = False) -> list[dict]:
    sources = sorted(samples_dir.glob("*.md"))
    if not sources:
        raise SampleError(f"no sample sources in {samples_dir}")
    files_dir = outdir / "files"
    if files_dir.exists():
        shutil.rmtree(files_dir)
    files_dir.mkdir(parents=True)
    records = []
    for path in sources:
        meta, blocks = load_source(path)
        file_rel = None
        if blocks:
            data = render(meta, blocks)
            file_rel = f"files/{path.stem}.pdf"
            (outdir / file_rel).write_bytes(data)
        elif not meta.get("external_link") and not meta.get("url"):
            raise SampleError(f"{path.name}: no body and no external_link")
        records.append(manifest_record(meta, file_rel))
        if not quiet:
            print(f"  {path.stem}: {file_rel or meta.get('external_link')}")
    with open(outdir / "manifest.jsonl", "w", encoding="utf-8", newline="\n") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n")
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path, help="where to write files/ and manifest.jsonl")
    parser.add_argument("--samples", type=Path, default=SAMPLES_DIR,
                        help="folder of sample sources (default: samples/)")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        records = build(args.outdir, args.samples, quiet=args.quiet)
    except SampleError as exc:
        print(f"make_samples: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"wrote {len(records)} records to {args.outdir / 'manifest.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
