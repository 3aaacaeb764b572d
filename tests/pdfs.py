"""Small PDFs made on the fly for tests: normal, junk and hostile ones."""

from __future__ import annotations

import zlib
from pathlib import Path


def _pdf(objects: list[bytes], root: int = 1, info: int | None = None) -> bytes:
    """Assemble numbered objects into a PDF with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root {root} 0 R"
    if info:
        trailer += f" /Info {info} 0 R"
    out += (trailer + " >>\n").encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(pages: list[list[tuple[float, str]]], title: str | None = None) -> bytes:
    """A PDF whose pages hold lines of (font size, text), top to bottom, in Helvetica."""
    n_pages = len(pages)
    # objects: 1 catalog, 2 pages, 3 font, then (page, content) pairs, then info
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n_pages))
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, lines in enumerate(pages):
        y = 760.0
        ops = []
        for size, text in lines:
            ops.append(f"BT /F1 {size:g} Tf 72 {y:g} Td ({_escape(text)}) Tj ET")
            y -= size * 1.6
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info = None
    if title is not None:
        objects.append(f"<< /Title ({_escape(title)}) /Producer (tests) >>".encode())
        info = len(objects)
    return _pdf(objects, info=info)


def report_pdf(title: str, body: str = "", pages: int = 2) -> bytes:
    page_one = [(24, title), (12, "by Priya Shah and Tom Reed"), (11, "March 2021"), (11, body or "Introduction")]
    rest = [[(11, f"{body} page {n} text about public services and libraries")] for n in range(2, pages + 1)]
    return text_pdf([page_one, *rest])


def blank_pdf(pages: int = 1) -> bytes:
    """Pages with no text at all, like a scan without OCR."""
    kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
    ]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"] * pages
    return _pdf(objects)


def looping_pdf() -> bytes:
    """A page tree whose kid points back at itself."""
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>",
        ]
    )


def bomb_pdf(megabytes: int = 300) -> bytes:
    """A one-page PDF whose content stream inflates to about `megabytes` MB of text operators."""
    compressor = zlib.compressobj(9)
    chunk = b"BT /F1 12 Tf 72 700 Td (bomb) Tj ET\n" * 29127  # about 1 MB
    data = b"".join(compressor.compress(chunk) for _ in range(megabytes)) + compressor.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return _pdf(objects)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
