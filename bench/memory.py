"""Resident memory and query time of a process searching an index, with and without copying.

Usage: python bench/memory.py INDEX_DIR [--rounds 3] [--repeat 3] [--serve]

INDEX_DIR is an index directory, such as one kept by `bench/search.py --index DIR`
(`DIR/index-1000`) or a data home's `index/`. Each round starts two fresh child processes,
one after the other:

- "whoosh reads": Whoosh's own way of reading a memory-mapped segment, which copies every
  segment file a reader opens into the process (`BytesIO` over the map);
- "in place": the portal's reader (`index/storage.py`), which reads the map in place, with
  no bound on the mapped pages a process keeps (`PORTAL_INDEX_RESIDENT_MB=0`);
- "portal": the same with the default bound (`PORTAL_INDEX_RESIDENT_MB`, 128 MB): past it,
  the process lets go of its mappings after a search (the pages stay in the page cache).

Each child opens the index through `SearchIndex`, runs the query set of `bench/search.py`
(`--repeat` times, after one warm-up pass) and "more like this" for 20 publications, then
prints its resident memory (VmRSS, split into anonymous and file-backed pages from
/proc/self/status), its peak (VmHWM) and the median and p95 query time. File-backed pages are
the index's own bytes in the page cache: shared by every process that maps them, and given
back by the kernel under memory pressure.

With --serve, `portal serve` (one worker) is then started over a fresh, empty data home whose
index is INDEX_DIR (`PORTAL_INDEX_DIR`), the query set is sent to its search page twice, and
the server's resident and peak memory are printed after each pass (target: under 300 MB).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.search import QUERIES, pct  # noqa: E402
from index.engine import DEFAULT_MAPPED_BUDGET_MB  # noqa: E402

VARIANTS = ("whoosh reads", "in place", "portal")


def status_mb(pid: int | str = "self") -> dict[str, float]:
    """Resident memory of a process in MB from /proc: VmRSS, its peak VmHWM, and its anonymous
    and file-backed parts."""
    text = Path(f"/proc/{pid}/status").read_text()
    out = {}
    for key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
        m = re.search(rf"^{key}:\s+(\d+)\s+kB", text, re.M)
        out[key] = int(m.group(1)) / 1024 if m else float("nan")
    return out


def child(directory: Path, variant: str, repeat: int) -> None:
    import index.storage as storage

    storage.read_in_place(variant != "whoosh reads")
    from index import SearchIndex, SearchRequest

    started = status_mb()
    budget = DEFAULT_MAPPED_BUDGET_MB if variant == "portal" else None
    index = SearchIndex(directory, create=False, mapped_budget_mb=budget)
    queries = [q for qs in QUERIES.values() for q in qs]
    for q in queries:
        index.search(SearchRequest(query=q, limit=10))
    times = []
    for _ in range(repeat):
        for q in queries:
            t0 = time.perf_counter()
            index.search(SearchRequest(query=q, limit=10))
            times.append((time.perf_counter() - t0) * 1000)
    ids = sorted(index.doc_ids())[:20]
    t0 = time.perf_counter()
    for pub_id in ids:
        index.more_like_this(pub_id, limit=5)
    mlt_ms = (time.perf_counter() - t0) * 1000 / max(1, len(ids))
    end = status_mb()
    index.close()
    print(json.dumps({"start": started, "end": end, "p50": statistics.median(times),
                      "p95": pct(times, 0.95), "mlt": mlt_ms}))


def serve_memory(directory: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, PORTAL_HOME=home, PORTAL_INDEX_DIR=str(directory.resolve()),
                   PORTAL_SEARCH_RATE_LIMIT="off")
        proc = subprocess.Popen([sys.executable, "-m", "portal", "serve", "--host", "127.0.0.1",
                                 "--port", str(port)], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/robots.txt", timeout=60).read()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        sys.exit("portal serve did not start")
                    time.sleep(0.5)
            m = status_mb(proc.pid)
            print(f"portal serve started: resident {m['VmRSS']:.0f} MB")
            queries = [q for qs in QUERIES.values() for q in qs]
            for n in (1, 2):
                start = time.perf_counter()
                for q in queries:
                    url = f"http://127.0.0.1:{port}/search?q={quote_plus(q)}"
                    with urllib.request.urlopen(url, timeout=300) as response:
                        response.read()
                m = status_mb(proc.pid)
                print(f"portal serve after {len(queries)} searches, pass {n} "
                      f"({time.perf_counter() - start:.1f} s): resident {m['VmRSS']:.0f} MB "
                      f"(anonymous {m['RssAnon']:.0f}, file {m['RssFile']:.0f}), "
                      f"peak {m['VmHWM']:.0f} MB (target < 300 MB)")
        finally:
            proc.terminate()
            proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--serve", action="store_true",
                        help="also measure `portal serve` over this index")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.index, args.child, args.repeat)
        return
    if not args.index.is_dir():
        sys.exit(f"no index directory at {args.index}")
    size = sum(f.stat().st_size for f in args.index.rglob("*") if f.is_file()) / 1e6
    print(f"index {args.index}: {size:.0f} MB on disk")
    print(f"{'round':>5}  {'reader':14}{'RSS MB':>8}{'anon MB':>9}{'file MB':>9}{'peak MB':>9}"
          f"{'p50 ms':>8}{'p95 ms':>8}{'mlt ms':>8}")
    results: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    for r in range(1, args.rounds + 1):
        for variant in VARIANTS:
            proc = subprocess.run(
                [sys.executable, __file__, str(args.index), "--child", variant,
                 "--repeat", str(args.repeat)],
                capture_output=True, text=True, check=True,
            )
            got = json.loads(proc.stdout.strip().splitlines()[-1])
            results[variant].append(got)
            e = got["end"]
            print(f"{r:>5}  {variant:14}{e['VmRSS']:>8.0f}{e['RssAnon']:>9.0f}{e['RssFile']:>9.0f}"
                  f"{e['VmHWM']:>9.0f}{got['p50']:>8.1f}{got['p95']:>8.1f}{got['mlt']:>8.1f}")
    print("medians:")
    print(f"(budget of the 'portal' reader: {DEFAULT_MAPPED_BUDGET_MB} MB of mapped pages)")
    for variant in VARIANTS:
        rs = results[variant]
        med = {k: statistics.median(x["end"][k] for x in rs) for k in ("VmRSS", "RssAnon", "RssFile")}
        print(f"  {variant:14} RSS {med['VmRSS']:.0f} MB (anonymous {med['RssAnon']:.0f}, "
              f"file {med['RssFile']:.0f}); query p50 {statistics.median(x['p50'] for x in rs):.1f} ms, "
              f"p95 {statistics.median(x['p95'] for x in rs):.1f} ms; more-like-this "
              f"{statistics.median(x['mlt'] for x in rs):.1f} ms")
    base = statistics.median(x["p50"] for x in results["whoosh reads"])
    for variant in VARIANTS[1:]:
        mine = statistics.median(x["p50"] for x in results[variant])
        print(f"query p50 ratio {variant} / whoosh reads: {mine / base:.2f}")
    if args.serve:
        serve_memory(args.index)


if __name__ == "__main__":
    main()
