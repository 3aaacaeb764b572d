"""`portal reindex` against a plain Whoosh writer, and the memory of a serving process.

Usage: python bench/rebuild.py [--n 1000] [--rounds 1] [--home DIR] [--no-serve] [--jobs N]

Builds (or reuses, with --home) a data home whose catalogue holds N published publications
made from the corpus's own page texts (as bench/search.py makes them: each takes the pages of
a text-bearing corpus PDF, rotated so that no two are identical). Then, in each round, two
child processes index the same documents read from the same catalogue:

- plain: a stock Whoosh writer (one process, stemming analyzer on title and text, one
  commit), fed (id, title, all page text) for every publication;
- portal: `portal reindex --jobs 1`, the command a user runs, in one process;
- with --jobs N (N > 1), also `portal reindex --jobs N` (N worker processes).

Each child's wall time and peak resident memory (its own `ru_maxrss`, from wait4) are
printed, and the ratio of the rates. For `--jobs N`, whose memory is spread over several
processes, the peak of their sum (sampled every 0.1 s) is printed too. Unless --no-serve, `portal serve` is then started on
the data home, asked for a few publication pages and searches, and its resident memory
(VmRSS, and the peak VmHWM) is printed. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HOST = "127.0.0.1"
QUERIES = ["health", "controlled substances schedule", '"quality improvement"',
           "how are hazardous fuels reduced on national forest land?", "malaria", "housing"]


def portal_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env["PORTAL_HOME"] = str(home)
    return env


def load(home: Path, n: int) -> None:
    """Store N publications with page texts in the catalogue (the index is left alone)."""
    from bench.search import make_docs
    from publications.catalogue import Catalogue, FileInput
    from publications.fields import build_record
    from publications.records import Extraction
    from publications.settings import Settings

    catalogue = Catalogue(Settings(home=home))
    start = time.perf_counter()
    try:
        for doc in make_docs(n):
            record = build_record({
                "title": doc.title, "abstract": doc.abstract, "authors": list(doc.authors),
                "organisations": list(doc.organisations), "topics": list(doc.topics),
                "type": doc.type, "date": str(doc.year), "series": doc.series,
            })
            pages = tuple(doc.pages)
            sha = f"{doc.id:064x}"  # a stand-in: reindex reads stored text, never the file
            catalogue.add(record, file=FileInput(sha, 1000, Extraction(len(pages), pages)),
                          status="published", actor="bench/rebuild.py")
    finally:
        catalogue.close()
    print(f"stored {n:,} publications in {time.perf_counter() - start:.0f} s", flush=True)


def plain_child(home: Path, directory: Path) -> None:
    """Child process: the same documents, read from the catalogue, into stock Whoosh."""
    from index import SearchIndex
    from index.baseline import build_with_whoosh_defaults
    from publications.catalogue import Catalogue
    from publications.indexer import Indexer
    from publications.settings import Settings

    catalogue = Catalogue(Settings(home=home))
    indexer = Indexer(catalogue, SearchIndex(directory / "unused", create=False))
    docs = ((d.id, d.title, d.body) for d in indexer.documents())
    n = build_with_whoosh_defaults(docs, directory / "plain")
    catalogue.close()
    print(f"plain: {n} documents")


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB (0 once it is gone)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, ()))
        try:
            m = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{p}/status").read_text())
        except OSError:
            continue
        total += int(m.group(1)) / 1024 if m else 0
    return total


CPU: dict[str, float] = {}  # CPU seconds of the last child run (itself and its waited-for children)


def run_measured(args: list[str], env: dict[str, str],
                 tree: list[float] | None = None) -> tuple[float, float, str]:
    """Run a child; returns (seconds, peak RSS in MB, stdout). With `tree`, the peak summed
    RSS of the child and its descendants is appended to it. The child's CPU seconds (with
    its own children's) are left in CPU["last"]."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        peak = [0.0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.1):
                peak[0] = max(peak[0], tree_rss_mb(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        if tree is not None:
            sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        CPU["last"] = usage.ru_utime + usage.ru_stime
        done.set()
        if tree is not None:
            sampler.join()
            tree.append(peak[0])
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{text}")
    return elapsed, usage.ru_maxrss / 1024, text


def segments(home: Path) -> int:
    """Segments of the live index in the data home (each one a query visits)."""
    from index import SearchIndex

    index = SearchIndex(home / "index", create=False)
    try:
        return index.segment_count()
    finally:
        index.close()


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def serving_memory(home: Path) -> None:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "portal", "serve", "--host", HOST, "--port", str(port)],
        env=portal_env(home), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                conn = http.client.HTTPConnection(HOST, port, timeout=300)
                conn.request("GET", "/robots.txt")
                conn.getresponse().read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    sys.exit("portal serve did not start")
                time.sleep(0.5)
        conn.request("GET", "/publications?sort=title")
        body = conn.getresponse().read().decode()
        slugs = list(dict.fromkeys(re.findall(r'href="(/publications/[^"/?#]+)"', body)))[:20]
        start = time.perf_counter()
        paths = [*slugs, *(f"/search?q={quote_plus(q)}" for q in QUERIES)]
        for path in paths:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                sys.exit(f"{path} answered {response.status}")
        elapsed = time.perf_counter() - start
        status = Path(f"/proc/{proc.pid}/status").read_text()
        rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
        hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
        print(f"portal serve after {len(slugs)} publication pages and {len(QUERIES)} searches "
              f"({elapsed:.1f} s): resident {rss:.0f} MB, peak {hwm:.0f} MB (target < 300 MB)")
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="publications")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--home", type=Path, help="keep (or reuse) the data home here")
    parser.add_argument("--no-serve", action="store_true")
    parser.add_argument("--jobs", type=int, default=1,
                        help="also time `portal reindex --jobs N` when N > 1")
    parser.add_argument("--plain-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_child:
        plain_child(Path(args.plain_child[0]), Path(args.plain_child[1]))
        return
    if not 1 <= args.n <= 100_000 or not 1 <= args.rounds <= 5:
        parser.error("1-100,000 publications, 1-5 rounds")

    with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as tmp:
        home = args.home or Path(tmp) / "home"
        if not (home / "catalogue.sqlite").exists():
            load(home, args.n)
        env = portal_env(home)
        plain_rates, portal_rates, jobs_rates = [], [], []
        for r in range(1, args.rounds + 1):
            scratch = Path(tmp) / f"plain-{r}"
            t_plain, mb_plain, _ = run_measured(
                [sys.executable, __file__, "--plain-child", str(home), str(scratch)], env)
            cpu_plain = CPU["last"]
            size_plain = dir_mb(scratch)
            t_portal, mb_portal, out = run_measured(
                [sys.executable, "-m", "portal", "reindex", "--jobs", "1"], env)
            cpu_portal = CPU["last"]
            n = int(re.search(r"rebuilt the index: (\d+)", out).group(1))  # type: ignore[union-attr]
            plain_rates.append(n / t_plain)
            portal_rates.append(n / t_portal)
            print(f"round {r}: plain Whoosh {n} in {t_plain:.1f} s = {n / t_plain:.2f}/s, peak "
                  f"{mb_plain:.0f} MB, index {size_plain:.0f} MB; portal reindex {n} in "
                  f"{t_portal:.1f} s = {n / t_portal:.2f}/s, peak {mb_portal:.0f} MB, index "
                  f"{dir_mb(home / 'index'):.0f} MB (this and the previous generation), "
                  f"{segments(home)} segments", flush=True)
            print(f"round {r}: CPU seconds: plain Whoosh {cpu_plain:.1f}, portal reindex "
                  f"{cpu_portal:.1f} (ratio plain / portal {cpu_plain / cpu_portal:.2f})", flush=True)
            if args.jobs > 1:
                tree: list[float] = []
                t_jobs, mb_jobs, _ = run_measured(
                    [sys.executable, "-m", "portal", "reindex", "--jobs", str(args.jobs)], env, tree)
                jobs_rates.append(n / t_jobs)
                print(f"round {r}: portal reindex --jobs {args.jobs} {n} in {t_jobs:.1f} s = "
                      f"{n / t_jobs:.2f}/s ({CPU['last']:.1f} CPU s), peak {mb_jobs:.0f} MB in one "
                      f"process, {tree[0]:.0f} MB in all its processes together, "
                      f"{segments(home)} segments", flush=True)
        plain, portal = statistics.median(plain_rates), statistics.median(portal_rates)
        print(f"ratio portal reindex / plain Whoosh: {portal / plain:.2f} (target >= 0.8)")
        if jobs_rates:
            print(f"ratio portal reindex --jobs {args.jobs} / plain Whoosh: "
                  f"{statistics.median(jobs_rates) / plain:.2f} (target >= 0.8)")
        if not args.no_serve:
            serving_memory(home)


if __name__ == "__main__":
    main()
