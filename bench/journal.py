"""What ordering the journal costs on PostgreSQL, and how fast a node follows it.

Usage: PORTAL_TEST_POSTGRES_URL=postgresql+psycopg://... python bench/journal.py [--edits 300]

In a throwaway schema: 50 publications, then rounds alternating two ways of writing: with the
writers' advisory lock (what the portal does) and without it (ids drawn in insert order, which
is unsafe for replication), each round making `--edits` small edits from 1 and from 4
threads. Then an index replica that starts from nothing catches up with the whole journal.
Printed: edits/s per way and thread count, the ratio lock/no-lock, and the catch-up rate.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index import SearchIndex  # noqa: E402
from publications import db  # noqa: E402
from publications.catalogue import Catalogue  # noqa: E402
from publications.fields import build_record  # noqa: E402
from publications.indexer import Indexer  # noqa: E402
from publications.settings import Settings  # noqa: E402


def edits_per_second(cat: Catalogue, ids: list[int], edits: int, threads: int) -> float:
    per_thread = edits // threads

    def work(t: int) -> None:
        mine = ids[t::threads]  # each thread edits its own publications
        for n in range(per_thread):
            cat.update(mine[n % len(mine)], {"abstract": f"round text {t} {n}"})

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return per_thread * threads / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not os.environ.get("PORTAL_TEST_POSTGRES_URL"):
        sys.exit("set PORTAL_TEST_POSTGRES_URL to a PostgreSQL server (see README: Tests)")
    from tests.pg import fresh_schema

    with fresh_schema() as url, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), database_url=url)
        locked = Catalogue(settings)
        ids = [locked.add(build_record({"title": f"Report {n}"}), status="published").id
               for n in range(50)]
        original = db._order_postgresql_writers
        db._order_postgresql_writers = lambda engine: None  # the unsafe way, for comparison
        try:
            unlocked = Catalogue(settings, migrate=False)
        finally:
            db._order_postgresql_writers = original
        results: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.rounds):
            for name, cat in (("lock", locked), ("no lock", unlocked)):
                for threads in (1, 4):
                    rate = edits_per_second(cat, ids, args.edits, threads)
                    results.setdefault((name, threads), []).append(rate)
        for threads in (1, 4):
            with_lock = sum(results[("lock", threads)]) / args.rounds
            without = sum(results[("no lock", threads)]) / args.rounds
            print(f"{threads} writer thread(s): with lock {with_lock:.1f} edits/s, "
                  f"without {without:.1f} edits/s, ratio {with_lock / without:.2f}")

        index = SearchIndex(Path(tmp) / "replica")
        start = time.perf_counter()
        applied = Indexer(locked, index).apply_pending()
        took = time.perf_counter() - start
        print(f"a new replica applied {applied} journal rows in {took:.1f} s "
              f"({applied / took:.0f} rows/s, {len(index.doc_ids())} publications)")
        index.close()
        unlocked.close()
        locked.close()


if __name__ == "__main__":
    main()
