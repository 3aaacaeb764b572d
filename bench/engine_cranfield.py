"""Scratch: Cranfield ranking quality of SearchIndex versus plain Whoosh defaults (MAP, nDCG@10, P@10)."""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index import PublicationDoc, Ranking, SearchIndex, SearchRequest  # noqa: E402

CRAN = Path("/work/shared/corpus/ir/cranfield")
DEPTH = 1000


def read_fields(path: Path) -> list[dict[str, str]]:
    """Records of a SMART-format file (.I id, then .X sections)."""
    recs: list[dict[str, str]] = []
    cur: dict[str, str] | None = None
    key = None
    for line in path.read_text(encoding="latin-1").splitlines():
        m = re.match(r"^\.([ITABW])\s*(.*)$", line)
        if m:
            if m.group(1) == "I":
                cur = {"I": m.group(2).strip()}
                recs.append(cur)
                key = None
            else:
                key = m.group(1)
                assert cur is not None
                cur[key] = ""
            continue
        if cur is not None and key:
            cur[key] += line + "\n"
    return recs


def load() -> tuple[list[PublicationDoc], list[str], dict[int, dict[int, int]]]:
    docs = []
    for r in read_fields(CRAN / "cran.all.1400"):
        did = int(r["I"])
        docs.append(
            PublicationDoc(
                id=did,
                slug=f"cran-{did}",
                title=" ".join(r.get("T", "").split()),
                authors=tuple(a for a in [" ".join(r.get("A", "").split())] if a),
                abstract=" ".join(r.get("W", "").split()),
            )
        )
    queries = [" ".join(r.get("W", "").split()) for r in read_fields(CRAN / "cran.qry")]
    qrels: dict[int, dict[int, int]] = {}
    for line in (CRAN / "cranqrel").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3:
            q, d, rel = int(parts[0]), int(parts[1]), int(parts[2])
            if rel > 0:
                qrels.setdefault(q, {})[d] = rel
    return docs, queries, qrels


def gain(rel: int) -> float:
    # Cleverdon grades: 1 = complete answer ... 4 = minimal interest
    return float(5 - rel)


def evaluate(runs: dict[int, list[int]], qrels: dict[int, dict[int, int]]) -> dict[str, float]:
    aps, ndcgs, p10s = [], [], []
    for q, judged in qrels.items():
        ranked = runs.get(q, [])
        hits, ap = 0, 0.0
        for k, d in enumerate(ranked, 1):
            if d in judged:
                hits += 1
                ap += hits / k
        aps.append(ap / len(judged))
        dcg = sum(gain(judged[d]) / math.log2(k + 1) for k, d in enumerate(ranked[:10], 1) if d in judged)
        ideal = sorted((gain(r) for r in judged.values()), reverse=True)[:10]
        idcg = sum(g / math.log2(k + 1) for k, g in enumerate(ideal, 1))
        ndcgs.append(dcg / idcg if idcg else 0.0)
        p10s.append(sum(1 for d in ranked[:10] if d in judged) / 10)
    n = len(aps)
    return {"MAP": sum(aps) / n, "nDCG@10": sum(ndcgs) / n, "P@10": sum(p10s) / n}


def run_engine(docs, queries, ranking: Ranking | None = None,
               synonyms: bool = True) -> tuple[dict[int, list[int]], float]:
    with tempfile.TemporaryDirectory() as tmp:
        ix = SearchIndex(Path(tmp) / "ix", ranking=ranking, shipped_synonyms=synonyms)
        ix.rebuild(docs)
        runs = {}
        t = time.perf_counter()
        for i, q in enumerate(queries, 1):
            res = ix.search(SearchRequest(q, limit=DEPTH, facets=False, max_pages_per_hit=0, snippets=False))
            runs[i] = [h.id for h in res.hits]
        elapsed = time.perf_counter() - t
        ix.close()
    return runs, elapsed


def run_whoosh_defaults(docs, queries) -> dict[int, list[int]]:
    # stock Whoosh lives in index.baseline (only index/ imports Whoosh)
    from index.baseline import rank_with_whoosh_defaults

    return rank_with_whoosh_defaults([(d.id, d.title, d.abstract) for d in docs], queries, depth=DEPTH)


def variants() -> dict[str, Ranking]:
    """The shipped ranking's ablations (also ranked on the known items by known_items.py)."""
    base = Ranking()
    return {
        "no proximity": replace(base, pair_weight=0.0, window_weight=0.0),
        "no feedback": replace(base, prf_weight=0.0),
        "no neighbour smoothing": replace(base, cluster_neighbours=0),
        "neighbours by unweighted words": replace(base, cluster_field_weights=False),
        "repeated words count once": replace(base, repeat_weight=0.0),
        "repeated words count fully": replace(base, repeat_weight=1.0),
        "no feedback or neighbours": replace(base, prf_weight=0.0, cluster_neighbours=0),
        "feedback uncapped": replace(base, prf_cap=0.0),
        "feedback re-ranks 200": replace(base, prf_rerank=200),
        "other languages re-ranked by feedback": replace(base, prf_keep_other_languages=False),
        "neighbours of any language": replace(base, cluster_same_language=False),
        "per-field BM25 sum (no BM25F)": replace(base, bm25f=False),
        "no proximity, no feedback": replace(base, pair_weight=0.0, window_weight=0.0, prf_weight=0.0),
        "none of the three": replace(base, pair_weight=0.0, window_weight=0.0, prf_weight=0.0,
                                     cluster_neighbours=0),
    }


def fmt(name: str, m: dict[str, float]) -> str:
    return f"{name:28s} MAP {m['MAP']:.3f}  nDCG@10 {m['nDCG@10']:.3f}  P@10 {m['P@10']:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--variants", action="store_true", help="also print a few ablations")
    ap.add_argument("--vocabulary", action="store_true",
                    help="also print the figures without the synonyms list and spelling folding")
    ap.add_argument("--only", nargs="*", help="run only these variants (by name)")
    args = ap.parse_args()
    docs, queries, qrels = load()
    print(f"{len(docs)} docs, {len(queries)} queries, {len(qrels)} judged")
    print(fmt("whoosh defaults", evaluate(run_whoosh_defaults(docs, queries), qrels)))
    runs, secs = run_engine(docs, queries)
    print(fmt("SearchIndex", evaluate(runs, qrels)) + f"   ({secs / len(queries) * 1000:.1f} ms/query)")
    if args.variants:
        for name, ranking in variants().items():
            if args.only and name not in args.only:
                continue
            runs, _ = run_engine(docs, queries, ranking)
            print(fmt(name, evaluate(runs, qrels)))
    if args.vocabulary:
        runs, _ = run_engine(docs, queries, synonyms=False)
        print(fmt("without the synonyms list", evaluate(runs, qrels)))
        # spelling folding happens at index time inside `stem`: switch it off for one build
        from index import analysis

        folded = analysis.shared_spelling
        analysis.shared_spelling = lambda word: word
        analysis.stem.cache_clear()
        try:
            runs, _ = run_engine(docs, queries, synonyms=False)
        finally:
            analysis.shared_spelling = folded
            analysis.stem.cache_clear()
        print(fmt("without synonyms or spellings", evaluate(runs, qrels)))


if __name__ == "__main__":
    main()
