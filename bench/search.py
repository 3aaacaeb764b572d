"""Search latency at 1,000 and 10,000 publications built from the corpus's own text.

Usage: python bench/search.py [--sizes 1000,10000] [--repeat 3] [--index DIR] [--phases]
                              [--related N]

With `--index DIR` each size's index is kept in DIR/index-N and reused by later runs (a
10,000-publication build takes about half an hour); it is rebuilt only when missing or built
with another schema version.

Publications are made from the text-bearing corpus PDFs: each one takes the pages of a corpus
document (rotated so that no two are identical) and a title from its first lines, so lengths
follow the corpus. Each size is built with `SearchIndex.rebuild` in a child process whose peak
memory is reported. Then a fixed set of queries (single words, several words, a phrase, a
natural-language question) runs through the full query path: parse, rank, facets, snippets
and best pages per hit, with snippets taken from the page text as the catalogue would supply.
Printed: build time and rate, peak build memory, index size, and p50/p95 per query kind,
beside a bare Whoosh search of the same queries on the same index (Whoosh's own query parser
and BM25F, OR of the words over title and body, top 10 with stored fields, no facets, no
snippets, no pages) measured in the same run, query by query alternating with the full path.
Also printed: the measuring process's memory and what the index's per-searcher caches hold.

With `--related N`, "more like this" (the related publications of a publication page) is
timed for N publications spread over the collection, beside the same query scored by Whoosh's
matchers, alternating publication by publication.

With `--phases`, one more round of the same queries prints where the full path's time goes,
per query kind (exclusive times, so a phase's figure excludes the phases it calls): the first
pass over every match and the facet counts grow with the number of matches, the feedback
re-scoring with the postings of its expansion words; the rest with the hits shown.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import pickle
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus" / "pdfs"

QUERIES = {
    "one word": ["health", "volunteers", "airworthiness", "malaria", "housing", "topology"],
    "several words": ["cancer research databases", "controlled substances schedule",
                      "forest fuels reduction plan", "tax return nonresident"],
    "phrase": ['"quality improvement"', '"environmental assessment"', '"background checks"'],
    "question": ["what does the evidence say about hospital quality improvement in Malawi?",
                 "how are hazardous fuels reduced on national forest land?"],
}
TYPES = ("report", "working paper", "briefing", "article", "newsletter")
TOPICS = ("Health", "Housing", "Libraries", "Environment", "Taxation", "Research methods")


def corpus_texts() -> list[tuple[str, tuple[str, ...]]]:
    """(title line, page texts) for every text-bearing corpus PDF, cached in bench/out/."""
    cache = ROOT / "bench" / "out" / "corpus-pages.pickle"
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    from publications.errors import IngestError
    from publications.extract import extract_pdf

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    out = []
    for path in sorted(CORPUS.glob("*.pdf")):
        try:
            ex = extract_pdf(path)
        except IngestError:
            continue
        if ex.text_chars < 2000:
            continue
        first = next((ln.strip() for ln in ex.pages[0].splitlines() if len(ln.strip()) > 12),
                     path.stem)
        out.append((first[:150], ex.pages))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(out))
    return out


def make_docs(n: int):  # type: ignore[no-untyped-def]
    from index import PublicationDoc

    texts = corpus_texts()
    rng = random.Random(42)
    for i in range(1, n + 1):
        title, pages = texts[i % len(texts)]
        shift = (i // len(texts)) % max(1, len(pages))
        pages = pages[shift:] + pages[:shift]
        yield PublicationDoc(
            id=i, slug=f"pub-{i}", title=f"{title} ({i})", abstract=pages[0][:1500],
            authors=(f"Author {rng.randrange(300)}",), organisations=(f"Org {rng.randrange(40)}",),
            topics=(rng.choice(TOPICS),), type=rng.choice(TYPES), year=rng.randrange(1995, 2027),
            series=rng.choice(("", "Briefings", "Reports")), body="\n\n".join(pages),
            pages=pages,
        )


def build(directory: Path, n: int) -> None:
    """Child process: build the index and print JSON with time and peak memory."""
    from index import SearchIndex

    start = time.perf_counter()
    index = SearchIndex(directory)
    index.rebuild(make_docs(n), total=n)
    index.close()
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "peak_mb": peak_mb}))


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


Timings = dict[str, list[float]]


def measure(directory: Path, n: int, repeat: int) -> tuple[Timings, Timings, dict[str, float]]:
    """Time every query through the full path and as a bare Whoosh search of the same index,
    alternating query by query (so both see the same machine load). Returns (full, bare)
    timings in ms per query kind, and memory figures in MB."""
    from index import SearchIndex, SearchRequest
    from index.baseline import BareSearch

    pages = {d.id: d.pages for d in make_docs(n)} if n <= 2000 else None
    texts = corpus_texts()

    def page_text(pid: int, page: int) -> str:
        if pages is not None:
            return pages[pid][page - 1] if page <= len(pages[pid]) else ""
        _title, p = texts[pid % len(texts)]
        shift = (pid // len(texts)) % max(1, len(p))
        rotated = p[shift:] + p[:shift]
        return rotated[page - 1] if page <= len(rotated) else ""

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    index = SearchIndex(directory)
    full: dict[str, list[float]] = {kind: [] for kind in QUERIES}
    bare_t: dict[str, list[float]] = {kind: [] for kind in QUERIES}
    with BareSearch(directory) as bare:
        start = time.perf_counter()
        for q in [q for qs in QUERIES.values() for q in qs]:  # warm the caches once
            index.search(SearchRequest(query=q), page_text=page_text)
            bare.search(q)
        warm = time.perf_counter() - start
        for _ in range(repeat):
            for kind, qs in QUERIES.items():
                for q in qs:
                    start = time.perf_counter()
                    index.search(SearchRequest(query=q, limit=10), page_text=page_text)
                    full[kind].append((time.perf_counter() - start) * 1000)
                    start = time.perf_counter()
                    bare.search(q, limit=10)
                    bare_t[kind].append((time.perf_counter() - start) * 1000)
    caches = index.cache_bytes()
    index.close()
    memory = {
        "before": before,
        "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "caches": sum(caches.values()) / 1e6,
        "warm": warm,
    }
    return full, bare_t, memory


# (label, module, attribute path) of the query path's stages timed by --phases
PHASES = [
    ("first pass: every match", "index.engine", "SearchIndex._fast_match"),
    ("first pass: every match", "index.engine", "SearchIndex._match_and_rank"),
    ("facet counts", "index.facets", "FacetTable.count"),
    ("proximity boosts", "index.engine", "phrase_scores"),
    ("proximity boosts", "index.engine", "_score_docs"),
    ("feedback: words", "index.engine", "feedback_terms"),
    ("feedback: re-scoring", "index.engine", "score_some"),
    ("score regularisation", "index.engine", "SearchIndex._regularised"),
    ("stored fields of hits", "index.engine", "SearchIndex._load"),
    ("best pages of hits", "index.engine", "SearchIndex._attach_pages"),
    ("snippets", "index.engine", "SearchIndex._make_hit"),
    ("spelling suggestion", "index.engine", "SearchIndex._suggest"),
]


def phases(directory: Path, n: int) -> None:
    """One round of the queries with the stages of the query path timed (exclusive time:
    a stage's own time less the stages it calls, so `score_some` inside the best pages counts
    for the pages). Prints mean ms per query for each stage and kind."""
    import importlib

    from index import SearchIndex, SearchRequest

    spent: dict[str, float] = {}
    stack: list[tuple[str, float, list[float]]] = []  # (stage, start, [time in timed callees])
    whole = {"best pages of hits"}  # stages whose callees (page scores) count for them

    def timed(label: str, fn):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            if any(outer in whole for outer, _s, _i in stack):
                return fn(*args, **kwargs)
            stack.append((label, time.perf_counter(), [0.0]))
            try:
                return fn(*args, **kwargs)
            finally:
                _label, start, inner = stack.pop()
                took = time.perf_counter() - start
                spent[label] = spent.get(label, 0.0) + took - inner[0]
                if stack:
                    stack[-1][2][0] += took
        return wrapper

    for label, module, path in PHASES:
        owner = importlib.import_module(module)
        *parents, name = path.split(".")
        for part in parents:
            owner = getattr(owner, part)
        setattr(owner, name, timed(label, getattr(owner, name)))
    texts = corpus_texts()

    def page_text(pid: int, page: int) -> str:
        _title, p = texts[pid % len(texts)]
        shift = (pid // len(texts)) % max(1, len(p))
        rotated = p[shift:] + p[:shift]
        return rotated[page - 1] if page <= len(rotated) else ""

    index = SearchIndex(directory)
    for q in [q for qs in QUERIES.values() for q in qs]:  # warm, as the timed runs were
        index.search(SearchRequest(query=q), page_text=page_text)
    table: dict[str, dict[str, float]] = {}
    for kind, qs in QUERIES.items():
        spent.clear()
        start = time.perf_counter()
        for q in qs:
            index.search(SearchRequest(query=q, limit=10), page_text=page_text)
        total = (time.perf_counter() - start) * 1000 / len(qs)
        row = {label: ms * 1000 / len(qs) for label, ms in spent.items()}
        row["other (parsing, ranking, merging)"] = total - sum(row.values())
        row["total"] = total
        table[kind] = row
    index.close()
    labels = list(dict.fromkeys([p[0] for p in PHASES] + ["other (parsing, ranking, merging)",
                                                          "total"]))
    print(f"  where the time goes at {n:,} (mean ms per query, one round):")
    print(f"  {'stage':36}" + "".join(f"{k:>15}" for k in table))
    for label in labels:
        print(f"  {label:36}" + "".join(f"{table[k].get(label, 0.0):15.1f}" for k in table))


def related(directory: Path, n: int, count: int) -> None:
    """Time "more like this" (the related publications on every publication page) for
    `count` publications spread over the collection, against the same query run by Whoosh's
    matchers (`SearchIndex.fast_related` off), alternating publication by publication."""
    from index import SearchIndex

    index = SearchIndex(directory)
    step = max(1, n // count)
    ids = list(range(1, n + 1, step))[:count]
    index.more_like_this(ids[0])  # open the index and fill its caches
    ours: list[float] = []
    theirs: list[float] = []
    same = 0
    for pub_id in ids:
        start = time.perf_counter()
        fast = [h.score for h in index.more_like_this(pub_id)]
        ours.append((time.perf_counter() - start) * 1000)
        SearchIndex.fast_related = False
        try:
            start = time.perf_counter()
            slow = [h.score for h in index.more_like_this(pub_id)]
            theirs.append((time.perf_counter() - start) * 1000)
        finally:
            SearchIndex.fast_related = True
        same += len(fast) == len(slow) and all(
            math.isclose(a, b, rel_tol=1e-6) for a, b in zip(fast, slow, strict=False))
    index.close()
    print(f"  more like this, {len(ids)} publications: mean {statistics.mean(ours):.0f} ms, "
          f"p95 {pct(ours, 0.95):.0f} ms per publication; with Whoosh's matchers mean "
          f"{statistics.mean(theirs):.0f} ms, p95 {pct(theirs, 0.95):.0f} ms "
          f"(ratio of means {statistics.mean(ours) / statistics.mean(theirs):.2f}); "
          f"same scores (to 1e-6, field lengths being float32 here) for {same} of {len(ids)}; "
          "exactly tied publications may come in another order")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--index", type=Path,
                        help="keep the built indexes under this directory and reuse them")
    parser.add_argument("--phases", action="store_true",
                        help="also print where the time goes, stage by stage (one more round)")
    parser.add_argument("--related", type=int, default=0, metavar="N",
                        help="also time more like this for N publications against Whoosh's "
                             "matchers")
    parser.add_argument("--build-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_child:
        build(Path(args.build_child[0]), int(args.build_child[1]))
        return
    if not CORPUS.is_dir():
        sys.exit(f"corpus not found at {CORPUS}")
    texts = corpus_texts()
    words = statistics.mean(sum(len(p.split()) for p in pages) for _t, pages in texts)
    print(f"source: {len(texts)} text-bearing corpus PDFs, mean {words:,.0f} words each")
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            directory = (args.index or Path(tmp)) / f"index-{n}"
            from index import SearchIndex

            if directory.is_dir() and not SearchIndex(directory, create=False).needs_rebuild():
                print(f"\n{n:,} publications: reusing the index in {directory}")
            else:
                shutil.rmtree(directory, ignore_errors=True)
                proc = subprocess.run(
                    [sys.executable, __file__, "--build-child", str(directory), str(n)],
                    capture_output=True, text=True, check=True, env=dict(os.environ),
                )
                built = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f"\n{n:,} publications: built in {built['seconds']:.0f} s "
                      f"({n / built['seconds']:.1f} publications/s), peak build memory "
                      f"{built['peak_mb']:.0f} MB, index {dir_size(directory) / 1e6:.0f} MB")
            timings, bare, memory = measure(directory, n, args.repeat)
            everything = [t for ts in timings.values() for t in ts]
            bare_all = [t for ts in bare.values() for t in ts]
            print(f"  first pass over the queries (opening the index, filling caches): "
                  f"{memory['warm']:.1f} s")
            print(f"  memory of this process: {memory['before']:.0f} MB before opening the index, "
                  f"peak {memory['peak']:.0f} MB after the queries; per-searcher caches "
                  f"{memory['caches']:.1f} MB")
            print(f"  {'queries':16}{'n':>4}{'p50 ms':>10}{'p95 ms':>10}"
                  f"{'bare p50':>10}{'bare p95':>10}{'p95 ratio':>11}")
            for kind, ts in [*timings.items(), ("all", everything)]:
                b = bare_all if kind == "all" else bare[kind]
                ratio = pct(ts, 0.95) / pct(b, 0.95)
                print(f"  {kind:16}{len(ts):4}{pct(ts, 0.5):10.1f}{pct(ts, 0.95):10.1f}"
                      f"{pct(b, 0.5):10.1f}{pct(b, 0.95):10.1f}{ratio:11.2f}")
            if args.phases:
                phases(directory, n)
            if args.related:
                related(directory, n, args.related)


if __name__ == "__main__":
    main()
