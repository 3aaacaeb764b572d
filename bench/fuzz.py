"""Mutated PDFs through `portal ingest`: the parent never crashes, every file gets one result.

Usage: python bench/fuzz.py [--count N] [--seed S] [--timeout SECONDS] [--memory-mb MB]
                            [--max-seed-kb KB] [--keep DIR] [CORPUS_PDF_DIR]

Mutants are made from the corpus's small PDFs (at most --max-seed-kb each) with a fixed seed,
so a run is repeatable: bytes flipped, the file truncated, objects spliced in from another
file, the xref table duplicated (with shifted offsets), ranges zeroed, streams cut short.
They are written to a temporary folder (never committed: they are derived from third-party
files) and ingested with `portal ingest --json --jobs 1` under a short extraction time limit
and a tight worker memory limit. The summary counts outcomes by reason, and gives the longest
time one file took (the gap between consecutive result lines, which `--jobs 1` makes the
time of one file) and the peak resident memory of any process of the run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "pdfs"
OBJECT = re.compile(rb"\d+ \d+ obj\b.*?endobj", re.S)


# --- mutations ----------------------------------------------------------------------------


def flip_bytes(data: bytes, rng: random.Random, _donors: list[bytes]) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 64)):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def truncate(data: bytes, rng: random.Random, _donors: list[bytes]) -> bytes:
    return data[: rng.randint(16, max(17, len(data) - 1))]


def splice_objects(data: bytes, rng: random.Random, donors: list[bytes]) -> bytes:
    """Objects from another file pasted over or between this file's objects."""
    donor = rng.choice(donors)
    theirs = [m.group(0) for m in OBJECT.finditer(donor[: 2_000_000])]
    ours = list(OBJECT.finditer(data))
    if not theirs or not ours:
        return flip_bytes(data, rng, donors)
    out = data
    for _ in range(rng.randint(1, 4)):
        target = rng.choice(ours)
        piece = rng.choice(theirs)
        if rng.random() < 0.5:  # replace one of ours (keeps its position, breaks offsets)
            out = out[: target.start()] + piece + out[target.end():]
        else:  # insert before it
            out = out[: target.start()] + piece + b"\n" + out[target.start():]
        ours = list(OBJECT.finditer(out))
        if not ours:
            break
    return out


def duplicate_xref(data: bytes, rng: random.Random, donors: list[bytes]) -> bytes:
    """A second copy of the last xref section (offsets shifted) appended with a trailer."""
    at = data.rfind(b"\nxref") + 1  # a classic table, not the "xref" of "startxref"
    end = data.rfind(b"%%EOF")
    shift = rng.choice([-7, 3, 1000, 10**6])
    if at <= 0 or end < at:
        # The file has a cross-reference stream: repeat its pointer, shifted, instead.
        m = re.search(rb"startxref\s+(\d+)", data[-4096:])
        if m is None:
            return truncate(data, rng, donors)
        return data + b"\nstartxref\n%d\n%%%%EOF\n" % max(0, int(m.group(1)) + shift)
    section = data[at:end]

    def moved(m: re.Match[bytes]) -> bytes:
        return b"%010d" % max(0, int(m.group(1)) + shift) + m.group(2)

    section = re.sub(rb"(\d{10})( \d{5} n)", moved, section)
    return data + b"\n" + section + b"%%EOF\n"


def zero_range(data: bytes, rng: random.Random, _donors: list[bytes]) -> bytes:
    start = rng.randrange(len(data))
    length = rng.randint(1, 4096)
    return data[:start] + b"\0" * min(length, len(data) - start) + data[start + length:]


def cut_stream(data: bytes, rng: random.Random, donors: list[bytes]) -> bytes:
    """One stream's bytes cut short, its /Length left as it was."""
    streams = [m.end() for m in re.finditer(rb"stream\r?\n", data)]
    if not streams:
        return zero_range(data, rng, donors)
    start = rng.choice(streams)
    stop = data.find(b"endstream", start)
    if stop <= start:
        return zero_range(data, rng, donors)
    keep = rng.randint(0, max(0, (stop - start) // 2))
    return data[: start + keep] + data[stop:]


MUTATIONS: dict[str, Callable[[bytes, random.Random, list[bytes]], bytes]] = {
    "flip": flip_bytes,
    "truncate": truncate,
    "splice": splice_objects,
    "dup-xref": duplicate_xref,
    "zero": zero_range,
    "cut-stream": cut_stream,
}


def seeds(corpus: Path, max_kb: int) -> list[Path]:
    """The corpus PDFs small enough to mutate quickly, sorted by name (repeatable)."""
    return sorted(p for p in corpus.glob("*.pdf") if p.stat().st_size <= max_kb * 1024)


def generate(corpus: Path, out: Path, count: int, seed: int, max_kb: int = 160) -> dict[str, str]:
    """Write `count` mutants to `out`; returns file name -> the mutation(s) applied."""
    rng = random.Random(seed)
    sources = seeds(corpus, max_kb)
    if not sources:
        raise SystemExit(f"no corpus PDFs of at most {max_kb} KB in {corpus}")
    donors = [p.read_bytes() for p in sources]
    out.mkdir(parents=True, exist_ok=True)
    made: dict[str, str] = {}
    names = sorted(MUTATIONS)
    for n in range(count):
        k = rng.randrange(len(sources))
        data = donors[k]
        applied = [names[n % len(names)]]  # every kind equally often
        if rng.random() < 0.25:  # sometimes a second mutation on top
            applied.append(rng.choice(names))
        for kind in applied:
            data = MUTATIONS[kind](data, rng, donors) or data[:1]
        name = f"m{n:04d}-{'+'.join(applied)}-{sources[k].stem[:40]}.pdf"
        (out / name).write_bytes(data)
        made[name] = "+".join(applied)
    return made


# --- running ------------------------------------------------------------------------------


@dataclass
class FuzzRun:
    """What one `portal ingest --json --jobs 1` over the mutants showed."""

    code: int
    results: dict[str, dict]  # file name -> its result line
    lines: int
    gaps: dict[str, float]  # file name -> seconds since the previous result line
    stderr: str
    peak_rss_mb: float
    elapsed: float


_RUNNER = r"""
import resource, subprocess, sys, time, json
start = time.monotonic()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
import threading
err = []
t = threading.Thread(target=lambda: err.append(proc.stderr.read())); t.start()
last = time.monotonic()
for line in proc.stdout:
    now = time.monotonic()
    print(json.dumps({"gap": now - last, "line": line.rstrip("\n")}), flush=True)
    last = now
code = proc.wait(); t.join()
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"code": code, "stderr": "".join(err), "peak_rss_mb": peak,
                  "elapsed": time.monotonic() - start}), flush=True)
"""


def run_ingest(folder: Path, home: Path, timeout: float, memory_mb: int,
               max_pages: int = 50) -> FuzzRun:
    """Ingest every file in `folder` into a fresh data home `home`, one file at a time."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(PORTAL_HOME=str(home), PORTAL_EXTRACT_TIMEOUT=str(timeout),
               PORTAL_EXTRACT_MEMORY_MB=str(memory_mb), PORTAL_MAX_PAGES=str(max_pages))
    cmd = [sys.executable, "-c", _RUNNER, sys.executable, "-m", "portal", "ingest", "--json",
           "--jobs", "1", str(folder)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=3600)
    results: dict[str, dict] = {}
    gaps: dict[str, float] = {}
    lines = 0
    tail: dict = {}
    for raw in proc.stdout.splitlines():
        item = json.loads(raw)
        if "line" not in item:
            tail = item
            continue
        lines += 1
        row = json.loads(item["line"])
        name = Path(row["path"]).name
        if name in results:
            raise AssertionError(f"{name} has two result lines")
        results[name] = row
        gaps[name] = item["gap"]
    return FuzzRun(tail.get("code", -1), results, lines, gaps, tail.get("stderr", proc.stderr),
                   float(tail.get("peak_rss_mb", 0.0)), float(tail.get("elapsed", 0.0)))


def reason_of(row: dict) -> str:
    """A result line's outcome grouped for the summary ("failed: truncated", "added"...)."""
    if row["status"] != "failed":
        flags = ",".join(row.get("flags") or [])
        return row["status"] + (f" [{flags}]" if flags else "")
    error = row.get("error") or ""
    error = re.sub(r"\(.*", "", error).strip()  # drop the details in brackets
    return "failed: " + error[:90]


def summary(run: FuzzRun, made: dict[str, str], timeout: float, memory_mb: int) -> list[str]:
    out = [f"files: {len(made)}  result lines: {run.lines}  exit code: {run.code}  "
           f"elapsed: {run.elapsed:.1f} s"]
    worst = max(run.gaps.items(), key=lambda kv: kv[1]) if run.gaps else ("-", 0.0)
    out.append(f"longest time for one file: {worst[1]:.2f} s ({worst[0]}); extraction time "
               f"limit {timeout:g} s (the first file's time includes the start-up)")
    out.append(f"peak resident memory of any process: {run.peak_rss_mb:.0f} MB; worker "
               f"address-space limit {memory_mb} MB")
    by_reason = Counter(reason_of(r) for r in run.results.values())
    out.append("outcomes:")
    out += [f"  {n:5d}  {reason}" for reason, n in by_reason.most_common()]
    by_kind: dict[str, Counter[str]] = {}
    for name, kind in made.items():
        row = run.results.get(name)
        by_kind.setdefault(kind.split("+")[0], Counter())[row["status"] if row else "none"] += 1
    out.append("by mutation (first applied):")
    for kind, counts in sorted(by_kind.items()):
        out.append(f"  {kind:<11} " + ", ".join(f"{s} {n}" for s, n in sorted(counts.items())))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--memory-mb", type=int, default=512)
    parser.add_argument("--max-seed-kb", type=int, default=160)
    parser.add_argument("--keep", type=Path, help="write the mutants here instead of a temp dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="portal-fuzz-") as tmp:
        folder = args.keep or Path(tmp) / "mutants"
        made = generate(args.corpus, folder, args.count, args.seed, args.max_seed_kb)
        run = run_ingest(folder, Path(tmp) / "home", args.timeout, args.memory_mb)
    for line in summary(run, made, args.timeout, args.memory_mb):
        print(line)
    if run.code not in (0, 1) or run.lines != len(made):
        sys.exit(1)


if __name__ == "__main__":
    main()
