"""Relevance harness: Cranfield through `portal import` and `portal search -`, against plain Whoosh.

Usage: python bench/relevance.py [--keep DIR]

The 1,400 abstracts are written as an import manifest (title, authors, abstract) and loaded
with `portal import --publish`; the 225 queries go through `portal search - --json --limit
1000` exactly as a reader would type them. In the same run the same documents and queries
are ranked by Whoosh with default settings (BM25F, stemming, OR of the words), the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import cranfield  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def portal(home: Path, *args: str, stdin: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env["PORTAL_HOME"] = str(home)
    proc = subprocess.run([sys.executable, "-m", "portal", *args], input=stdin, text=True,
                          capture_output=True, env=env, cwd=ROOT, check=False)
    if proc.returncode not in (0, 1):
        sys.exit(f"portal {args[0]} failed: {proc.stderr}")
    return proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the data home here instead of a temp dir")
    args = parser.parse_args()
    if not (cranfield.CRANFIELD / "cran.all.1400").is_file():
        sys.exit(f"Cranfield not found at {cranfield.CRANFIELD}")
    docs = cranfield.documents()
    queries = cranfield.queries()
    judged = cranfield.judgements()

    with tempfile.TemporaryDirectory() as tmp:
        home = args.keep or Path(tmp) / "home"
        manifest = Path(tmp) / "cranfield.jsonl"
        with open(manifest, "w", encoding="utf-8") as f:
            for d in docs:
                record = {"title": d.title or f"Cranfield document {d.number}",
                          "abstract": d.abstract, "type": "article"}
                if d.authors:
                    record["authors"] = [d.authors]
                f.write(json.dumps(record) + "\n")
        start = time.perf_counter()
        out = portal(home, "import", str(manifest), "--publish", "--json")
        load_s = time.perf_counter() - start
        ours_to_cran: dict[int, int] = {}
        duplicates = 0
        for line in out.splitlines():
            row = json.loads(line)
            line_no = int(row["path"].rsplit(":", 1)[1])
            if row["status"] == "added":
                ours_to_cran[row["id"]] = docs[line_no - 1].number
            elif row["status"] == "duplicate":
                duplicates += 1
        start = time.perf_counter()
        answers = portal(home, "search", "-", "--json", "--limit", "1000",
                         stdin="\n".join(queries) + "\n")
        search_s = time.perf_counter() - start
    runs = {}
    for q, line in enumerate(answers.splitlines(), start=1):
        runs[q] = [ours_to_cran[h["id"]] for h in json.loads(line)["hits"]]

    from index.baseline import rank_with_whoosh_defaults

    baseline_runs = rank_with_whoosh_defaults(
        [(d.number, d.title, d.abstract) for d in docs], queries, depth=1000
    )
    ours = cranfield.measure(runs, judged)
    base = cranfield.measure(baseline_runs, judged)
    print(f"documents {len(docs)} (imported {len(ours_to_cran)}, duplicates {duplicates}), "
          f"queries {len(queries)}, judged {len(judged)}")
    print(f"portal import: {load_s:.1f} s; portal search - ({len(queries)} queries): {search_s:.1f} s")
    print(f"{'':24}{'MAP':>8}{'nDCG@10':>10}{'P@10':>8}")
    for name, m in (("plain Whoosh defaults", base), ("portal", ours)):
        print(f"{name:24}{m['MAP']:8.3f}{m['nDCG@10']:10.3f}{m['P@10']:8.3f}")
    print(f"{'ratio portal / plain':24}{ours['MAP'] / base['MAP']:8.2f}"
          f"{ours['nDCG@10'] / base['nDCG@10']:10.2f}{ours['P@10'] / base['P@10']:8.2f}")


if __name__ == "__main__":
    main()
