"""Corpus ingest rate of `portal ingest` against bare pypdf extraction of the same files.

Usage: python bench/ingest.py [--jobs N] [--rounds R] [CORPUS_PDF_DIR]

Both sides use the same N processes over the same text-bearing files (those bare pypdf opens
without a password and gets text from). Rounds alternate the two so the machine's noise hits
both alike; the figures printed are the medians, and the ratio is portal / bare. The CPU time
of every process on each side (user + system, from the children's resource usage) is printed
too: on a shared machine it shows the work done, which the wall clock blurs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "pdfs"


def bare_extract(path: str) -> tuple[int, int]:
    """Plain pypdf: open, extract every page's text. Returns (pages, characters)."""
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    from pypdf import PdfReader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader = PdfReader(path)
            if reader.is_encrypted and not reader.decrypt(""):
                return (0, 0)
            pages = chars = 0
            for page in reader.pages:
                try:
                    chars += len(page.extract_text() or "")
                except Exception:
                    pass
                pages += 1
            return (pages, chars)
        except Exception:
            return (0, 0)


def text_bearing(files: list[Path], jobs: int) -> list[Path]:
    with Pool(jobs) as pool:
        results = pool.map(bare_extract, [str(f) for f in files])
    return [f for f, (pages, chars) in zip(files, results, strict=True) if pages and chars > 100]


def children_cpu() -> float:
    """CPU seconds used so far by every child process this one has waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_bare(files: list[Path], jobs: int) -> tuple[float, int]:
    start = time.perf_counter()
    with Pool(jobs) as pool:
        results = pool.map(bare_extract, [str(f) for f in files], chunksize=1)
    return time.perf_counter() - start, sum(p for p, _ in results)


def run_portal(files: list[Path], jobs: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for f in files:
            os.symlink(f.resolve(), folder / f.name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
        env["PORTAL_HOME"] = str(Path(tmp) / "home")
        # create the catalogue first: schema set-up is a one-off, not part of the ingest rate
        subprocess.run([sys.executable, "-m", "portal", "check"], env=env, cwd=ROOT,
                       capture_output=True, check=False)
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "portal", "ingest", "--json", "--jobs", str(jobs), str(folder)],
            env=env, cwd=ROOT, capture_output=True, text=True, check=False,
        )
        elapsed = time.perf_counter() - start
    pages = 0
    for line in proc.stdout.splitlines():
        row = json.loads(line)
        if row["status"] == "added":
            pages += row["pages"] or 0
    return elapsed, pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"corpus not found at {args.corpus}")
    files = text_bearing(sorted(args.corpus.glob("*.pdf")), args.jobs)
    print(f"text-bearing files: {len(files)}, processes: {args.jobs}, rounds: {args.rounds}",
          flush=True)
    bare_rates, portal_rates, bare_cpu, portal_cpu = [], [], [], []
    for r in range(1, args.rounds + 1):
        c0 = children_cpu()
        t_bare, p_bare = run_bare(files, args.jobs)
        c1 = children_cpu()
        t_portal, p_portal = run_portal(files, args.jobs)
        c2 = children_cpu()
        bare_rates.append(p_bare / t_bare)
        portal_rates.append(p_portal / t_portal)
        bare_cpu.append(c1 - c0)
        portal_cpu.append(c2 - c1)
        print(
            f"round {r}: bare pypdf {p_bare} pages in {t_bare:.1f} s = {p_bare / t_bare:.1f} pages/s "
            f"({c1 - c0:.1f} CPU s); portal ingest {p_portal} pages in {t_portal:.1f} s = "
            f"{p_portal / t_portal:.1f} pages/s ({c2 - c1:.1f} CPU s)", flush=True
        )
    bare, portal = statistics.median(bare_rates), statistics.median(portal_rates)
    print(f"median bare pypdf extraction: {bare:.1f} pages/s")
    print(f"median portal ingest:         {portal:.1f} pages/s")
    print(f"ratio portal / bare:          {portal / bare:.2f}")
    print(f"CPU seconds, median: bare {statistics.median(bare_cpu):.1f}, portal "
          f"{statistics.median(portal_cpu):.1f} (ratio bare / portal "
          f"{statistics.median(bare_cpu) / statistics.median(portal_cpu):.2f})")


if __name__ == "__main__":
    main()
