"""Corpus ingest rate of `portal ingest` against bare pypdf extraction of the same files.

Usage: python bench/ingest.py [--jobs N] [--rounds R] [--tuned-bare] [CORPUS_PDF_DIR]

Both sides use the same N processes over the same text-bearing files (those bare pypdf opens
without a password and gets text from). Rounds alternate the two so the machine's noise hits
both alike; the figures printed are the medians, and the ratio is portal / bare. The CPU time
of every process on each side (user + system, from the children's resource usage) is printed
too: on a shared machine it shows the work done, which the wall clock blurs (the portal's
figure counts the ingest and its workers, not the catalogue set-up before it).

`--tuned-bare` adds a third side: bare pypdf with the garbage collector set as the portal's
extraction workers set it (modules frozen, collections every 50,000 allocations), to show
how much of the ratio that setting accounts for.
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


def tuned_collector() -> None:
    """A pool initializer: the garbage collector as the portal's extraction workers set it."""
    import gc

    import pypdf  # noqa: F401

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def text_bearing(files: list[Path], jobs: int) -> list[Path]:
    with Pool(jobs) as pool:
        results = pool.map(bare_extract, [str(f) for f in files])
    return [f for f, (pages, chars) in zip(files, results, strict=True) if pages and chars > 100]


def children_cpu() -> float:
    """CPU seconds used so far by every child process this one has waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_bare(files: list[Path], jobs: int, tuned: bool = False) -> tuple[float, int]:
    start = time.perf_counter()
    with Pool(jobs, initializer=tuned_collector if tuned else None) as pool:
        results = pool.map(bare_extract, [str(f) for f in files], chunksize=1)
    return time.perf_counter() - start, sum(p for p, _ in results)


def run_portal(files: list[Path], jobs: int) -> tuple[float, int, float]:
    """(seconds, pages, CPU seconds of the ingest and its workers, the set-up not counted)."""
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
        cpu = children_cpu()
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "portal", "ingest", "--json", "--jobs", str(jobs), str(folder)],
            env=env, cwd=ROOT, capture_output=True, text=True, check=False,
        )
        elapsed = time.perf_counter() - start
        cpu = children_cpu() - cpu
    pages = 0
    for line in proc.stdout.splitlines():
        row = json.loads(line)
        if row["status"] == "added":
            pages += row["pages"] or 0
    return elapsed, pages, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tuned-bare", action="store_true",
                        help="also time bare pypdf with the garbage collector set as the "
                             "portal's extraction workers set it")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"corpus not found at {args.corpus}")
    files = text_bearing(sorted(args.corpus.glob("*.pdf")), args.jobs)
    print(f"text-bearing files: {len(files)}, processes: {args.jobs}, rounds: {args.rounds}",
          flush=True)
    bare_rates, portal_rates, bare_cpu, portal_cpu = [], [], [], []
    tuned_rates, tuned_cpu = [], []
    for r in range(1, args.rounds + 1):
        c0 = children_cpu()
        t_bare, p_bare = run_bare(files, args.jobs)
        c1 = children_cpu()
        t_portal, p_portal, cpu_portal = run_portal(files, args.jobs)
        bare_rates.append(p_bare / t_bare)
        portal_rates.append(p_portal / t_portal)
        bare_cpu.append(c1 - c0)
        portal_cpu.append(cpu_portal)
        line = (f"round {r}: bare pypdf {p_bare} pages in {t_bare:.1f} s = "
                f"{p_bare / t_bare:.1f} pages/s ({c1 - c0:.1f} CPU s); portal ingest {p_portal} "
                f"pages in {t_portal:.1f} s = {p_portal / t_portal:.1f} pages/s "
                f"({cpu_portal:.1f} CPU s)")
        if args.tuned_bare:
            c3 = children_cpu()
            t_tuned, p_tuned = run_bare(files, args.jobs, tuned=True)
            tuned_rates.append(p_tuned / t_tuned)
            tuned_cpu.append(children_cpu() - c3)
            line += (f"; bare pypdf, tuned collector, {t_tuned:.1f} s = "
                     f"{p_tuned / t_tuned:.1f} pages/s ({tuned_cpu[-1]:.1f} CPU s)")
        print(line, flush=True)
    bare, portal = statistics.median(bare_rates), statistics.median(portal_rates)
    print(f"median bare pypdf extraction: {bare:.1f} pages/s")
    print(f"median portal ingest:         {portal:.1f} pages/s")
    print(f"ratio portal / bare:          {portal / bare:.2f}")
    print(f"CPU seconds, median: bare {statistics.median(bare_cpu):.1f}, portal "
          f"{statistics.median(portal_cpu):.1f} (ratio bare / portal "
          f"{statistics.median(bare_cpu) / statistics.median(portal_cpu):.2f})")
    if tuned_rates:
        tuned = statistics.median(tuned_rates)
        print(f"median bare pypdf with the workers' collector settings: {tuned:.1f} pages/s "
              f"({statistics.median(tuned_cpu):.1f} CPU s); ratio portal / it: "
              f"{portal / tuned:.2f}")


if __name__ == "__main__":
    main()
