"""Cover thumbnails: page one of a stored PDF rendered to a small PNG, once, in a child process.

Rendering runs PDFium on bytes that may be hostile, so it happens in a separate process with
a time limit; a failure means "no cover", never a broken page. Covers are derived data under
`<home>/covers/` and can be deleted at any time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from publications.settings import Settings

WIDTH = 240  # pixels; the page shows it at 160 CSS pixels, sharp on high-density screens
TIMEOUT = 20.0
_CODE = "from publications.covers import _render_main; _render_main()"


def cover_path(settings: Settings, sha256: str) -> Path:
    return settings.covers_dir / sha256[:2] / f"{sha256}.png"


def failed_marker(settings: Settings, sha256: str) -> Path:
    return settings.covers_dir / sha256[:2] / f"{sha256}.failed"


def ensure_cover(settings: Settings, pdf: Path, sha256: str) -> Path | None:
    """The cover PNG for a stored file, rendering it the first time; None if it cannot be made.

    A file that failed once is not tried again (the marker file can be deleted to retry).
    """
    out = cover_path(settings, sha256)
    if out.is_file():
        return out
    if failed_marker(settings, sha256).exists():
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".part")
    os.close(fd)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CODE, str(pdf), tmp, str(WIDTH)],
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
        if proc.returncode == 0 and Path(tmp).stat().st_size > 0:
            os.replace(tmp, out)
            return out
    except (subprocess.TimeoutExpired, OSError):
        pass
    finally:
        Path(tmp).unlink(missing_ok=True)
    failed_marker(settings, sha256).touch()
    return None


def _render_main() -> None:
    """Child process: render page one of argv[1] to the PNG argv[2], argv[3] pixels wide."""
    try:
        import resource

        limit = 1024 * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass
    import pypdfium2 as pdfium

    src, dst, width = sys.argv[1], sys.argv[2], int(sys.argv[3])
    pdf = pdfium.PdfDocument(src)
    try:
        page = pdf[0]
        scale = width / max(1.0, page.get_width())
        image = page.render(scale=scale).to_pil()
        image.save(dst, format="PNG", optimize=True)
    finally:
        pdf.close()
