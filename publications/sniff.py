"""Decides from the bytes, not the name, whether a file is a PDF, and says what it is if not."""

from __future__ import annotations

from pathlib import Path

from publications.errors import IngestError

# The PDF header may be preceded by a little junk; readers accept it within the first 1 KiB.
HEADER_WINDOW = 1024

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"PK\x03\x04", "a ZIP archive or an Office document (.docx, .xlsx, .pptx)"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document (.doc, .xls, .ppt)"),
    (b"{\\rtf", "an RTF document"),
    (b"%!PS", "a PostScript file"),
    (b"\x1f\x8b", "a gzip-compressed file"),
)


def sniff_pdf(path: Path) -> None:
    """Raise IngestError unless the file's bytes look like a PDF.

    Only the first kilobyte is read; whether pypdf can actually open it is the extractor's
    question.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(HEADER_WINDOW)
    except IsADirectoryError as exc:
        raise IngestError("this is a folder, not a file") from exc
    except FileNotFoundError as exc:
        raise IngestError("the file does not exist") from exc
    except PermissionError as exc:
        raise IngestError("the file cannot be read (permission denied)") from exc
    except OSError as exc:
        raise IngestError(f"the file cannot be read ({exc.strerror or exc})") from exc
    if not head:
        raise IngestError("the file is empty (0 bytes)")
    if b"%PDF-" in head:
        return
    raise IngestError(f"not a PDF: the file is {describe(head)}")


def describe(head: bytes) -> str:
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return what
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered[:512]:
        return "an HTML web page (perhaps an error page saved instead of the document)"
    if lowered.startswith(b"<?xml") or lowered.startswith(b"<"):
        return "an XML or markup document"
    if head.strip() == b"":
        return "blank (only spaces or zero bytes)"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "of an unknown binary type (it does not start with %PDF-)"
    return "plain text (it does not start with %PDF-)"
