"""Web throughput and latency of a served portal, measured with wrk over loopback.

Usage: python bench/web.py [--connections 8] [--duration 10] [--rounds 3] [--workers 2]
                           [--threads 8] [--home DIR] [--set PORTAL_NAME=VALUE ...]

Without --home, builds a throwaway data home: the sample collection (`portal import
--publish`) plus the third-party corpus when it is present (`portal ingest --publish`). Then
starts `portal serve --workers W` on 127.0.0.1 at a free port and drives it with wrk (the
Debian package `wrk`: 2 threads, N keep-alive connections) for a fixed duration per route,
in rounds (the machine's noise hits every route alike; medians are compared): a trivial
route as the baseline (/robots.txt), a publication page (rotating over a few publications)
and the search page (rotating over a set of queries). In each round the same
searches also run in-process, through the Flask test client, in W warm processes sharing the
same number of concurrent clients, for the same duration: the throughput the server would
have without HTTP.

Printed: requests, requests/s, p50 and p95 latency and errors per route; the publication page
against the trivial route and the served search page against the in-process one. `--set`
passes a setting to the server (for example a search rate limit, which must be off for a
throughput measurement). Bounded: rounds x duration x 4 plus the loading time; nothing
leaves the machine.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "pdfs"
HOST = "127.0.0.1"
QUERIES = [
    "airworthiness directive proposed rule", "library opening hours", "malaria",
    "controlled substances schedule", "volunteers", '"social value"',
    "what does the evidence say about warm spaces?", "housing benefit", "forest fuels",
    "digital inclusion older people", "council budgets", "quality improvement",
]


def portal_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env["PORTAL_HOME"] = str(home)
    env["PORTAL_SEARCH_RATE_LIMIT"] = "off"  # measure the server, not the per-client limit
    return env


def run_portal(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "portal", *args], env=portal_env(home),
                          cwd=ROOT, capture_output=True, text=True, timeout=1800)


def load(home: Path, work: Path) -> None:
    t0 = time.perf_counter()
    samples = work / "samples"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_samples.py"), str(samples)],
                   check=True, capture_output=True, cwd=ROOT)
    done = run_portal(home, "import", str(samples / "manifest.jsonl"), "--publish")
    if done.returncode != 0:
        sys.exit(f"import failed:\n{done.stderr}")
    if CORPUS.is_dir():
        # A few corpus files are broken on purpose; exit 1 names them and the rest go in.
        done = run_portal(home, "ingest", "--publish", "--jobs", "2", str(CORPUS))
        if done.returncode not in (0, 1):
            sys.exit(f"ingest failed:\n{done.stderr}")
    else:
        print(f"note: corpus not found at {CORPUS}; samples only", file=sys.stderr)
    print(f"loaded the data home in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path, headers={"Accept-Encoding": "identity"})
    response = conn.getresponse()
    return response.status, response.read()


def wait_until_up(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"portal serve exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            status, _ = get(conn, "/static/portal.css")
            conn.close()
            if status == 200:
                return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"portal serve did not answer within {timeout:.0f} s")


@dataclass
class Result:
    name: str
    requests: int
    elapsed: float
    p50_ms: float
    p95_ms: float
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def line(self) -> str:
        return (f"{self.name:<32}{self.requests:>9}{self.rate:>9.1f}{self.p50_ms:>9.1f}"
                f"{self.p95_ms:>9.1f}{self.errors:>8}")


WRK_SCRIPT = """
local paths = {%s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1], {["Accept-Encoding"] = "identity"})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%f %%f %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95),
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def measure(name: str, port: int, paths: list[str], connections: int, duration: float,
            work: Path) -> Result:
    """wrk with `connections` keep-alive connections for `duration` seconds."""
    script = work / "paths.lua"
    script.write_text(WRK_SCRIPT % ", ".join(f'"{p}"' for p in paths), encoding="utf-8")
    done = subprocess.run(
        ["wrk", "-t", str(min(2, connections)), "-c", str(connections),
         "-d", f"{duration:.0f}s", "--timeout", "30s", "-s", str(script),
         f"http://{HOST}:{port}{paths[0]}"],
        capture_output=True, text=True, timeout=duration + 120, check=False,
    )
    found = re.search(r"^RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+)$", done.stdout, re.M)
    if done.returncode != 0 or not found:
        sys.exit(f"wrk failed:\n{done.stdout}\n{done.stderr}")
    requests, micros, p50, p95, errors = found.groups()
    return Result(name, int(requests), int(micros) / 1e6, float(p50) / 1000,
                  float(p95) / 1000, int(errors))


def _in_process(home: str, paths: list[str], threads: int,
                orders: multiprocessing.Queue, results: multiprocessing.Queue) -> None:
    """One process: the app over the same data home, `threads` threads (its share of the
    connections), each with its own test client, sending requests back to back for as many
    seconds as each order says (None ends it)."""
    from portal.app import create_app
    from publications.settings import Settings

    # as the served side (portal_env): one client address would hit the per-client limit
    app = create_app(Settings(home=Path(home), search_rate_limit="off"))
    for path in paths:  # warm: open the index, fill the caches a served process would have
        app.test_client().get(path)
    results.put("ready")
    lock = threading.Lock()

    def loop(offset: int, stop_at: float, latencies: list[float], errors: list[int]) -> None:
        client = app.test_client()
        mine, bad, i = [], 0, offset
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            if client.get(paths[i % len(paths)]).status_code != 200:
                bad += 1
            mine.append(time.perf_counter() - t0)
            i += 1
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    while (duration := orders.get()) is not None:
        latencies: list[float] = []
        errors = [0]
        stop_at = time.perf_counter() + duration
        workers = [threading.Thread(target=loop, args=(n, stop_at, latencies, errors))
                   for n in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        results.put((latencies, errors[0]))


class InProcess:
    """`processes` warm processes of `threads` threads each, running `paths` through the
    Flask test client when asked: the served page's throughput without HTTP."""

    def __init__(self, home: Path, paths: list[str], processes: int, threads: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.results = ctx.Queue()
        self.orders = [ctx.Queue() for _ in range(processes)]
        self.procs = [
            ctx.Process(target=_in_process, args=(str(home), paths[n:] + paths[:n], threads,
                                                  self.orders[n], self.results), daemon=True)
            for n in range(processes)
        ]
        for p in self.procs:
            p.start()
        for _ in self.procs:
            if self.results.get(timeout=600) != "ready":
                sys.exit("an in-process worker failed to start")

    def measure(self, name: str, duration: float) -> Result:
        for q in self.orders:
            q.put(duration)
        got = [self.results.get(timeout=duration + 600) for _ in self.procs]
        latencies = sorted(x for lat, _ in got for x in lat) or [float("nan")]
        def at(q: float) -> float:
            return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
        return Result(name, len(latencies), duration, at(0.5), at(0.95), sum(e for _, e in got))

    def close(self) -> None:
        for q in self.orders:
            q.put(None)
        for p in self.procs:
            p.join(30)


def pick_paths(port: int) -> dict[str, list[str]]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    _, body = get(conn, "/publications?sort=title")
    slugs = list(dict.fromkeys(re.findall(r'href="(/publications/[^"/?#]+)"', body.decode())))
    conn.close()
    if not slugs:
        sys.exit("no published publications to fetch")
    return {
        "trivial (/robots.txt)": ["/robots.txt"],
        "publication page": slugs[:8],
        "search page": [f"/search?q={quote_plus(q)}" for q in QUERIES],
    }


def warm(port: int, paths: dict[str, list[str]], rounds: int) -> None:
    """Every path `rounds` times, so each worker process has likely seen it."""
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    for _ in range(rounds):
        for group in paths.values():
            for path in group:
                status, _ = get(conn, path)
                if status != 200:
                    sys.exit(f"{path} answered {status}")
        conn.close()  # a new connection may land on another worker
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", "--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds per route and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds alternating the routes")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads per worker")
    parser.add_argument("--workers", type=int, default=2, help="portal serve worker processes")
    parser.add_argument("--home", type=Path, help="serve this data home as it is")
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="PORTAL_NAME=VALUE", help="a setting for the server")
    args = parser.parse_args()
    if not 1 <= args.connections <= 64 or not 0 < args.duration <= 120:
        parser.error("keep it bounded: 1-64 connections, at most 120 s per route")
    if not 1 <= args.workers <= 8 or not 1 <= args.rounds <= 10:
        parser.error("1-8 workers, 1-10 rounds")
    extra = {}
    for item in args.settings:
        name, sep, value = item.partition("=")
        if not sep or not name.startswith("PORTAL_"):
            parser.error(f"--set takes PORTAL_NAME=VALUE, not {item!r}")
        extra[name] = value
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")

    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        home = args.home or Path(tmp) / "home"
        if args.home is None:
            load(home, Path(tmp))
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "portal", "serve", "--host", HOST, "--port", str(port),
             "--threads", str(args.threads), "--workers", str(args.workers)],
            env={**portal_env(home), **extra}, cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        inproc = None
        try:
            wait_until_up(port, proc)
            paths = pick_paths(port)
            warm(port, paths, rounds=2 * args.workers)
            # The same offered load without HTTP: the connections spread over the processes.
            per_process = -(-args.connections // args.workers)
            inproc = InProcess(home, paths["search page"], args.workers, per_process)
            print(f"portal serve (waitress, {args.workers} worker process(es) x {args.threads} "
                  f"threads) on {HOST}:{port}; wrk with {args.connections} connections, "
                  f"{args.duration:.0f} s per route and round; in-process search in "
                  f"{args.workers} process(es) x {per_process} threads; {os.cpu_count()} CPUs "
                  f"shared by everything\n")
            print(f"{'route':<32}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
                  f"{'errors':>8}")
            rounds: list[dict[str, Result]] = []
            for r in range(1, args.rounds + 1):
                print(f"round {r}")
                got = {}
                for name, group in paths.items():
                    got[name] = measure(name, port, group, args.connections, args.duration,
                                        Path(tmp))
                    print(got[name].line(), flush=True)
                got["in-process"] = inproc.measure(
                    f"search in-process ({args.workers}x{per_process})", args.duration)
                print(got["in-process"].line(), flush=True)
                rounds.append(got)
        finally:
            if inproc is not None:
                inproc.close()
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def median(key: str) -> float:
        return statistics.median(g[key].rate for g in rounds)

    trivial, page, search, alone = (median(k) for k in (*paths, "in-process"))
    print()
    print(f"median requests/s: trivial {trivial:.1f}, publication page {page:.1f}, "
          f"search page {search:.1f}, search in-process {alone:.1f}")
    print(f"publication page / trivial: throughput {page / trivial:.2f}x (target >= 0.5)")
    print(f"search page served / in-process: throughput {search / alone:.2f}x (target >= 0.7)")
    if any(r.errors for g in rounds for r in g.values()):
        sys.exit("some requests failed")


if __name__ == "__main__":
    main()
