"""Web throughput and latency of a served portal, measured over loopback.

Usage: python bench/web.py [--clients 8] [--duration 15] [--home DIR] [--threads 8]

Without --home, builds a throwaway data home: the sample collection (`portal import
--publish`) plus the third-party corpus when it is present (`portal ingest --publish`). Then
starts `portal serve` on 127.0.0.1 at a free port and, for each route in turn, keeps N client
threads (http.client, one keep-alive connection each) sending requests back to back for a fixed
duration. Routes: a trivial one as the baseline (/robots.txt when the portal has it, else the
stylesheet), a publication page (rotating over a few publications) and the search page
(rotating over a set of queries, so no two consecutive requests are the same).

Printed: requests, requests/s, p50 and p95 latency, errors per route, and the ratios of the
publication page and of search to the trivial route. Bounded: duration x routes plus the
loading time; nothing leaves the machine.
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
from dataclasses import dataclass, field
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
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def quantile(self, q: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[round(q * 100) - 1]


def measure(name: str, port: int, paths: list[str], clients: int, duration: float) -> Result:
    """`clients` threads, each with one keep-alive connection, for `duration` seconds."""
    result = Result(name)
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(n: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        latencies, errors, i = [], 0, n
        start.wait()
        while time.perf_counter() < stop_at[0]:
            path = paths[i % len(paths)]
            i += clients
            t0 = time.perf_counter()
            try:
                status, _ = get(conn, path)
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
                continue
            latencies.append(time.perf_counter() - t0)
            if status != 200:
                errors += 1
        conn.close()
        with lock:
            result.latencies.extend(latencies)
            result.errors += errors

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + duration
    began = time.perf_counter()
    start.wait()
    for t in threads:
        t.join(duration + 60)
    result.elapsed = time.perf_counter() - began
    return result


def pick_paths(port: int) -> dict[str, list[str]]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    status, _ = get(conn, "/robots.txt")
    trivial = "/robots.txt" if status == 200 else "/static/portal.css"
    _, body = get(conn, "/publications?sort=title")
    slugs = list(dict.fromkeys(re.findall(r'href="(/publications/[^"/?#]+)"', body.decode())))
    conn.close()
    if not slugs:
        sys.exit("no published publications to fetch")
    return {
        f"trivial ({trivial})": [trivial],
        "publication page": slugs[:8],
        "search page": [f"/search?q={quote_plus(q)}" for q in QUERIES],
    }


def warm(port: int, paths: dict[str, list[str]]) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    for group in paths.values():
        for path in group:
            status, _ = get(conn, path)
            if status != 200:
                sys.exit(f"{path} answered {status}")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per route")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads")
    parser.add_argument("--home", type=Path, help="serve this data home as it is")
    args = parser.parse_args()
    if not 1 <= args.clients <= 64 or not 0 < args.duration <= 120:
        parser.error("keep it bounded: 1-64 clients, at most 120 s per route")

    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        home = args.home or Path(tmp) / "home"
        if args.home is None:
            load(home, Path(tmp))
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "portal", "serve", "--host", HOST, "--port", str(port),
             "--threads", str(args.threads)],
            env=portal_env(home), cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_up(port, proc)
            paths = pick_paths(port)
            warm(port, paths)
            print(f"portal serve (waitress, {args.threads} threads) on {HOST}:{port}; "
                  f"{args.clients} concurrent clients, {args.duration:.0f} s per route; "
                  f"{os.cpu_count()} CPUs shared by server and clients\n")
            print(f"{'route':<28}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
                  f"{'errors':>8}")
            results = []
            for name, group in paths.items():
                r = measure(name, port, group, args.clients, args.duration)
                results.append(r)
                print(f"{name:<28}{len(r.latencies):>9}{r.rate:>9.1f}"
                      f"{r.quantile(0.5) * 1000:>9.1f}{r.quantile(0.95) * 1000:>9.1f}"
                      f"{r.errors:>8}", flush=True)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    base = results[0]
    print()
    for r in results[1:]:
        print(f"{r.name} / trivial: throughput {r.rate / base.rate:.2f}x, "
              f"p50 {r.quantile(0.5) / base.quantile(0.5):.1f}x, "
              f"p95 {r.quantile(0.95) / base.quantile(0.95):.1f}x")
    if any(r.errors for r in results):
        sys.exit("some requests failed")


if __name__ == "__main__":
    main()
