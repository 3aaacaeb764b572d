"""Metadata signals read from an open pypdf reader: cleaned info dict, XMP fields, page-one runs."""

from __future__ import annotations

import datetime as _dt
import math
import re
import unicodedata
import warnings
from collections.abc import Iterable
from typing import Any

from publications.records import TextRun

# Bounds: a hostile file must not make the proposal step (or the database row) balloon.
MAX_VALUE_CHARS = 2000
MAX_INFO_KEYS = 40
MAX_KEY_CHARS = 64
MAX_XMP_CREATORS = 50
MAX_RUNS = 1500
MAX_RUN_CHARS = 400
_RAW_SLICE = 20_000  # at most this much of any raw value is looked at before cleaning

_WS_RE = re.compile(r"\s+")
_KEY_RE = re.compile(r"[^A-Za-z0-9_.-]")


def clean_text(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """Return `value` as a plain, single-line, bounded string without control or junk characters.

    Binary junk (a value that is mostly unprintable or private-use characters) becomes "".
    """
    try:
        text = _to_str(value)
    except Exception:  # noqa: BLE001 - anything odd in a broken PDF becomes empty
        return ""
    text = text[:_RAW_SLICE]
    kept: list[str] = []
    junk = 0
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in "\t\n\r\f\v":
            kept.append(" ")
        elif cat[0] == "C" or ch == "\ufffd":
            # Cc control, Cf format, Cs surrogate, Co private use, Cn unassigned
            junk += 1
            kept.append(" ")
        else:
            kept.append(ch)
    printable = len(text) - junk
    if text and (printable == 0 or junk > max(2, printable // 4)):
        return ""
    out = _WS_RE.sub(" ", "".join(kept)).strip()
    if len(out) > limit:
        cut = out[:limit]
        space = cut.rfind(" ")
        out = (cut[:space] if space > limit * 0.8 else cut).rstrip()
    return out


def _to_str(value: Any) -> str:
    """Turn a pypdf object (text string, byte string, name, number) into a str."""
    if value is None:
        return ""
    if hasattr(value, "get_object"):
        value = value.get_object()
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value[:_RAW_SLICE])
        if raw.startswith((b"\xfe\xff", b"\xff\xfe")):
            return raw.decode("utf-16", errors="replace")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    if isinstance(value, (int, float)):
        return str(value)
    return ""


def clean_info(reader: Any) -> dict[str, str]:
    """The document information dictionary as cleaned, bounded strings keyed without "/".

    Never raises: a broken /Info, an unreadable value or an unknown type is skipped.
    """
    out: dict[str, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            info = reader.metadata
        except Exception:  # noqa: BLE001
            return out
        if info is None:
            return out
        try:
            keys = list(info.keys())[: MAX_INFO_KEYS * 2]
        except Exception:  # noqa: BLE001
            return out
        for key in keys:
            if len(out) >= MAX_INFO_KEYS:
                break
            try:
                name = _KEY_RE.sub("", str(key).lstrip("/"))[:MAX_KEY_CHARS]
                if not name:
                    continue
                raw = info.get(key)
                if hasattr(raw, "get_object"):
                    raw = raw.get_object()
                if not isinstance(raw, (str, bytes, bytearray, int, float)):
                    continue
                value = clean_text(raw)
            except Exception:  # noqa: BLE001
                continue
            if value:
                out[name] = value
    return out


def _first_of(values: Any) -> Any:
    if values is None:
        return None
    if isinstance(values, dict):
        if not values:
            return None
        for key in ("x-default", "en", "en-US", "en-GB"):
            if key in values:
                return values[key]
        return next(iter(values.values()))
    if isinstance(values, (list, tuple)):
        return values[0] if values else None
    return values


def _date_str(value: Any) -> str:
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    return clean_text(value, 64)


def _xmp_get(xmp: Any, attribute: str) -> Any:
    try:
        return getattr(xmp, attribute)
    except Exception:  # noqa: BLE001
        return None


def read_xmp(reader: Any) -> dict[str, Any]:
    """A few XMP fields (title, creators, description, date, language) when present.

    Values are cleaned, bounded strings (creators a list of them). Never raises.
    """
    out: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            xmp = reader.xmp_metadata
        except Exception:  # noqa: BLE001
            return out
        if xmp is None:
            return out
        try:
            title = clean_text(_first_of(_xmp_get(xmp, "dc_title")))
            if title:
                out["title"] = title
            creators_raw = _xmp_get(xmp, "dc_creator") or []
            if isinstance(creators_raw, (list, tuple)):
                creators = [clean_text(c, 300) for c in list(creators_raw)[:MAX_XMP_CREATORS]]
                creators = [c for c in creators if c]
                if creators:
                    out["creators"] = creators
            description = clean_text(_first_of(_xmp_get(xmp, "dc_description")))
            if description:
                out["description"] = description
            date = _first_of(_xmp_get(xmp, "dc_date")) or _xmp_get(xmp, "xmp_create_date")
            date_text = _date_str(date) if date is not None else ""
            if date_text:
                out["date"] = date_text
            language = clean_text(_first_of(_xmp_get(xmp, "dc_language")), 35)
            if language:
                out["language"] = language
        except Exception:  # noqa: BLE001
            pass
    return out


def _mult(m: list[float], n: list[float]) -> list[float]:
    """Product of two PDF matrices [a b c d e f] (m applied first, then n)."""
    return [
        m[0] * n[0] + m[1] * n[2],
        m[0] * n[1] + m[1] * n[3],
        m[2] * n[0] + m[3] * n[2],
        m[2] * n[1] + m[3] * n[3],
        m[4] * n[0] + m[5] * n[2] + n[4],
        m[4] * n[1] + m[5] * n[3] + n[5],
    ]


def _as_matrix(value: Any) -> list[float] | None:
    try:
        matrix = [float(x) for x in value]
    except Exception:  # noqa: BLE001
        return None
    if len(matrix) != 6 or not all(math.isfinite(x) for x in matrix):
        return None
    return matrix


def merge_pieces(
    pieces: Iterable[tuple[str, float, float]], limit: int = MAX_RUNS
) -> tuple[TextRun, ...]:
    """Join consecutive (text, size, y) pieces drawn on the same line at the same size into runs."""
    runs: list[TextRun] = []
    cur_text: list[str] = []
    cur_size = 0.0
    cur_y = 0.0

    def flush() -> None:
        text = _WS_RE.sub(" ", "".join(cur_text)).strip()
        if text and len(runs) < limit:
            runs.append(
                TextRun(text=text[:MAX_RUN_CHARS], size=round(cur_size, 2), y=round(cur_y, 2))
            )

    for text, size, y in pieces:
        if len(runs) >= limit:
            break
        parts = text.split("\n")
        for i, part in enumerate(parts):
            if i > 0:
                flush()
                cur_text = []
            if not part.strip():
                if part:
                    cur_text.append(" ")
                continue
            same_line = abs(y - cur_y) <= max(1.0, 0.3 * max(size, cur_size))
            same_size = abs(size - cur_size) <= 0.05 * max(size, cur_size, 1.0)
            if cur_text and "".join(cur_text).strip() and not (same_line and same_size):
                flush()
                cur_text = []
            if not "".join(cur_text).strip():
                cur_size, cur_y = size, y
            cur_text.append(part)
    flush()
    return tuple(runs)


class RunCollector:
    """Collects a page's text runs with their rendered font size and y position while pypdf
    extracts the page's text: pass `visit` as `extract_text(visitor_text=...)`, then read
    `runs()`. So the text and the runs come from one pass over the page. Never raises."""

    def __init__(self, page: Any, limit: int = MAX_RUNS) -> None:
        self.limit = limit
        self.pieces: list[tuple[str, float, float]] = []
        self.box: tuple[float, float, float, float] | None = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                crop = [float(v) for v in page.cropbox]
                if len(crop) == 4 and all(math.isfinite(v) for v in crop):
                    self.box = (min(crop[0], crop[2]), min(crop[1], crop[3]),
                                max(crop[0], crop[2]), max(crop[1], crop[3]))
            except Exception:  # noqa: BLE001
                self.box = None

    def visit(self, text: Any, cm: Any, tm: Any, font_dict: Any, font_size: Any) -> None:
        pieces, box = self.pieces, self.box
        if len(pieces) >= self.limit * 4 or not isinstance(text, str) or not text:
            return
        try:
            size = float(font_size)
        except Exception:  # noqa: BLE001
            return
        cm_m = _as_matrix(cm) or [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
        tm_m = _as_matrix(tm) or [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
        full = _mult(tm_m, cm_m)
        scale = math.hypot(full[2], full[3])  # how much a unit of text height is stretched
        rendered = abs(size) * scale
        if not math.isfinite(rendered) or rendered > 5000:
            return
        x_dev, y_dev = full[4], full[5]
        if box is not None and not (
            box[0] - 5 <= x_dev <= box[2] + 5 and box[1] - 5 <= y_dev <= box[3] + 5
        ):
            return  # drawn outside the visible page (printer's marks, proof slugs)
        # position across the text's own baseline direction, so rotated pages still give a
        # "larger is higher up" coordinate for lines of that text
        norm = math.hypot(full[0], full[1]) or 1.0
        line_pos = (full[0] * y_dev - full[1] * x_dev) / norm
        pieces.append((text[:MAX_RUN_CHARS * 2], rendered, line_pos))

    def runs(self) -> tuple[TextRun, ...]:
        """The runs collected so far (partial pieces of a page that raised are still useful)."""
        try:
            return merge_pieces(self.pieces, self.limit)
        except Exception:  # noqa: BLE001
            return ()


def first_page_runs(page: Any, limit: int = MAX_RUNS) -> tuple[TextRun, ...]:
    """Text runs of a page with their rendered font size and y position. Never raises."""
    collector = RunCollector(page, limit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            page.extract_text(visitor_text=collector.visit)
        except Exception:  # noqa: BLE001 - partial pieces are still useful
            pass
    return collector.runs()
