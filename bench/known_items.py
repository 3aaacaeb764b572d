"""Known-item search: a reader's paraphrase must find its publication. MRR and success@k.

Usage: python bench/known_items.py [--keep DIR] [--show-misses] [--variants]

One collection holds the whole corpus (`portal ingest --publish ../shared/corpus/pdfs`) and the
sample collection (`portal import --publish`), so every query competes with every document.
The checks are tests/data/known_items.tsv (ours and the earlier ones) plus the corpus's own
examples (../shared/corpus/known-items.tsv). The queries go through `portal search - --json`
as a reader types them. In the same run the same documents (title; abstract and page texts as
text) are ranked by plain Whoosh with default settings, the baseline. `--variants` also ranks
the checks through `SearchIndex` on the same index with each ablation of
`bench/engine_cranfield.py` (the shipped settings first), so a ranking change is measured on
both collections.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.relevance import portal  # noqa: E402  (runs `python -m portal` on a data home)

CORPUS = ROOT.parent / "shared" / "corpus"
CHECKS = ROOT / "tests" / "data" / "known_items.tsv"
DEPTH = 100


@dataclass(frozen=True)
class Check:
    query: str
    expected: str  # corpus file stem, or sample slug
    collection: str  # corpus | samples
    origin: str  # own | earlier | corpus-examples


def read_checks(corpus: Path = CORPUS, path: Path = CHECKS) -> list[Check]:
    """Our checks from the data file, then the corpus's own examples (when present)."""
    with open(path, encoding="utf-8", newline="") as f:
        lines = [line for line in f if not line.startswith("#")]
    checks = [Check(r["query"], r["expected"], r["collection"], r["origin"])
              for r in csv.DictReader(lines, delimiter="\t")]
    examples = corpus / "known-items.tsv"
    if examples.is_file():
        with open(examples, encoding="utf-8", newline="") as f:
            checks += [Check(r["query"], Path(r["expected_file"]).stem, "corpus",
                             "corpus-examples")
                       for r in csv.DictReader(f, delimiter="\t")]
    return checks


def build_collection(home: Path, work: Path) -> dict[str, int]:
    """Ingest the corpus and import the samples into `home`; {identifier: publication id}."""
    ids: dict[str, int] = {}
    out = portal(home, "ingest", "--json", "--jobs", "2", "--publish", str(CORPUS / "pdfs"))
    for line in out.splitlines():
        row = json.loads(line)
        if row["status"] != "failed":
            ids[Path(row["path"]).stem] = row["id"]
    samples = work / "samples"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_samples.py"), str(samples)],
                   check=True, capture_output=True, cwd=ROOT)
    out = portal(home, "import", str(samples / "manifest.jsonl"), "--publish", "--json")
    for line in out.splitlines():
        row = json.loads(line)
        if row["status"] != "failed":
            ids[row["slug"]] = row["id"]
    return ids


def published_documents(home: Path) -> list[tuple[int, str, str]]:
    """(id, title, abstract + page texts) of every published publication, from the catalogue."""
    from publications.catalogue import Catalogue
    from publications.settings import Settings

    catalogue = Catalogue(Settings(home=home), migrate=False)
    docs = []
    try:
        with catalogue.reading() as session:
            for pub in catalogue.list(session, status=("published",), limit=100_000):
                version = pub.current_version
                pages = catalogue.page_texts(session, version.file_id) if version else []
                docs.append((pub.id, pub.title or "", "\n".join([pub.abstract or "", *pages])))
    finally:
        catalogue.close()
    return docs


def reciprocal_rank(ranked: list[int], wanted: int) -> tuple[float, int | None]:
    """(1/rank, rank) of `wanted` in `ranked`, (0, None) when it is absent."""
    try:
        rank = ranked.index(wanted) + 1
    except ValueError:
        return 0.0, None
    return 1.0 / rank, rank


def rank_variants(index_dir: Path, checks: list[Check], ids: dict[str, int]) -> list[str]:
    """Lines of MRR and success@k of the checks through SearchIndex, shipped settings then
    the ablations."""
    from bench.engine_cranfield import variants
    from index import Ranking, SearchIndex, SearchRequest

    lines = [f"\nthrough SearchIndex (depth {DEPTH}):",
             f"{'':34}{'MRR':>7}{'S@1':>7}{'S@3':>7}{'S@10':>7}"]
    for name, ranking in {"shipped settings": Ranking(), **variants()}.items():
        ix = SearchIndex(index_dir, ranking=ranking, create=False)
        try:
            ranks = []
            for c in checks:
                res = ix.search(SearchRequest(c.query, limit=DEPTH, facets=False,
                                              max_pages_per_hit=0, snippets=False))
                ranks.append(reciprocal_rank([h.id for h in res.hits], ids[c.expected])[1])
        finally:
            ix.close()
        m = measure(ranks)
        lines.append(f"{name[:34]:34}{m['MRR']:7.3f}{m['S@1']:7.3f}{m['S@3']:7.3f}"
                     f"{m['S@10']:7.3f}")
    return lines


def measure(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    return {
        "MRR": sum(1.0 / r for r in ranks if r) / n,
        "S@1": sum(1 for r in ranks if r == 1) / n,
        "S@3": sum(1 for r in ranks if r and r <= 3) / n,
        "S@10": sum(1 for r in ranks if r and r <= 10) / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the data home here instead of a temp dir")
    parser.add_argument("--show-misses", action="store_true",
                        help="list the checks the portal does not answer in its top 3")
    parser.add_argument("--variants", action="store_true",
                        help="also rank the checks with the ranking ablations of engine_cranfield")
    args = parser.parse_args()
    if not (CORPUS / "pdfs").is_dir():
        sys.exit(f"the corpus is not at {CORPUS}")
    checks = read_checks()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        home = args.keep or work / "home"
        start = time.perf_counter()
        ids = build_collection(home, work)
        load_s = time.perf_counter() - start
        unknown = sorted({c.expected for c in checks} - set(ids))
        if unknown:
            sys.exit(f"checks name publications that are not in the collection: {unknown}")
        start = time.perf_counter()
        answers = portal(home, "search", "-", "--json", "--limit", str(DEPTH),
                         stdin="\n".join(c.query for c in checks) + "\n")
        search_s = time.perf_counter() - start
        ours = [[h["id"] for h in json.loads(line)["hits"]] for line in answers.splitlines()]
        docs = published_documents(home)
        variant_lines = rank_variants(home / "index", checks, ids) if args.variants else []

    from index.baseline import rank_with_whoosh_defaults

    plain = rank_with_whoosh_defaults(docs, [c.query for c in checks], depth=DEPTH)
    our_ranks = [reciprocal_rank(r, ids[c.expected])[1] for c, r in zip(checks, ours, strict=True)]
    base_ranks = [reciprocal_rank(plain[n], ids[c.expected])[1]
                  for n, c in enumerate(checks, start=1)]
    print(f"collection: {len(docs)} published publications (corpus + samples); "
          f"checks: {len(checks)} ({sum(c.origin == 'own' for c in checks)} own, "
          f"{sum(c.origin == 'earlier' for c in checks)} earlier, "
          f"{sum(c.origin == 'corpus-examples' for c in checks)} corpus examples)")
    print(f"load: {load_s:.0f} s; portal search - ({len(checks)} queries): {search_s:.1f} s")
    groups = [("all checks", lambda c: True), ("own checks", lambda c: c.origin == "own"),
              ("corpus", lambda c: c.collection == "corpus"),
              ("samples", lambda c: c.collection == "samples")]
    print(f"{'':34}{'MRR':>7}{'S@1':>7}{'S@3':>7}{'S@10':>7}")
    for label, keep in groups:
        for name, ranks in (("plain Whoosh defaults", base_ranks), ("portal", our_ranks)):
            chosen = [r for c, r in zip(checks, ranks, strict=True) if keep(c)]
            m = measure(chosen)
            print(f"{label + ', ' + name:34}{m['MRR']:7.3f}{m['S@1']:7.3f}{m['S@3']:7.3f}"
                  f"{m['S@10']:7.3f}")
    if args.show_misses:
        print("\nnot in the portal's top 3 (rank; plain Whoosh rank):")
        for c, r, b in zip(checks, our_ranks, base_ranks, strict=True):
            if not r or r > 3:
                print(f"  {r or '-':>3}; {b or '-':>3}  {c.query!r} -> {c.expected} ({c.origin})")
    for line in variant_lines:
        print(line)


if __name__ == "__main__":
    main()
