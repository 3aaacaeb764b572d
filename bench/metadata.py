"""Benchmark metadata proposals against tests/data/metadata_truth.tsv over the corpus PDFs.

Usage: python bench/metadata.py [-v]

Each field is scored for the portal's proposal and, in the same run, for a naive baseline
that only reads the PDF's own /Title (else the first text line), /Author and /CreationDate.
"""

from __future__ import annotations

import argparse
import csv
import logging
import re
import sys
import time
import unicodedata
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pypdf import PdfReader  # noqa: E402

from publications.propose import propose_metadata, token_similarity  # noqa: E402
from publications.records import Extraction, Proposal, ProposedValue  # noqa: E402
from publications.signals import clean_info, first_page_runs, read_xmp  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
TRUTH = ROOT / "tests" / "data" / "metadata_truth.tsv"
PAGES = 5

# An independent, deliberately plain list of titles no proposal may carry.
_BAD_TITLE = re.compile(
    r"(^microsoft\s+(word|powerpoint|excel)|^untitled|^no job name$|^document\d*$|"
    r"^adobe photoshop|^powerpoint presentation$|^slide\s*\d+$|^title$|"
    r"\.(docx?|pdf|tex|indd|xlsx?|pptx?|txt|exe|rtf|wpd)\b)",
    re.I,
)


def build_extraction(path: Path) -> tuple[Extraction | None, str]:
    """Open a PDF the way the extraction worker does; (None, reason) when it cannot be read."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader = PdfReader(path, strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                return None, "encrypted (password needed)"
            n = len(reader.pages)
        except Exception as exc:  # noqa: BLE001
            return None, f"unreadable: {type(exc).__name__}"
        pages: list[str] = []
        for i in range(min(PAGES, n)):
            try:
                pages.append(reader.pages[i].extract_text() or "")
            except Exception:  # noqa: BLE001
                pages.append("")
        try:
            runs = first_page_runs(reader.pages[0]) if n else ()
        except Exception:  # noqa: BLE001
            runs = ()
        return (
            Extraction(
                page_count=n,
                pages=tuple(pages),
                info=clean_info(reader),
                xmp=read_xmp(reader),
                first_page_runs=runs,
            ),
            "ok",
        )


def upload_name(corpus_name: str) -> str:
    """The corpus prefixes files with their source ("govdocs1__"); staff upload the rest."""
    return corpus_name.split("__", 1)[1] if "__" in corpus_name else corpus_name


def loose(text: str) -> str:
    """Lower case, no punctuation, single spaces: the "near" comparison form."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.findall(r"\w+", text)).replace("_", " ")


def full_title(proposal: Proposal) -> str:
    title = proposal.value("title") or ""
    sub = proposal.value("subtitle")
    return f"{title}: {sub}" if title and sub else title


def title_near(got: str, want: str) -> bool:
    return loose(got) == loose(want) or token_similarity(got, want) >= 0.9


def load_truth(path: Path = TRUTH) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def is_bad_title(title: str | None, filename: str) -> bool:
    if not title:
        return False
    stem = loose(Path(filename).stem)
    return bool(_BAD_TITLE.search(title)) or loose(title) == stem


def naive_proposal(extraction: Extraction) -> Proposal:
    """The baseline: what a tool that only reads the PDF's own fields (or the first line)
    would propose. Title: /Title of the document info, else the first text line of page one;
    authors: /Author split at ";", "," and " and "; date: /CreationDate; no abstract."""
    info = extraction.info
    fields: dict[str, ProposedValue] = {}
    title = (info.get("Title") or "").strip()
    if not title and extraction.pages:
        title = next((line.strip() for line in extraction.pages[0].splitlines() if line.strip()),
                     "")
    if title:
        fields["title"] = ProposedValue(title, "baseline")
    author = (info.get("Author") or "").strip()
    if author:
        names = [a.strip() for a in re.split(r";|,|\band\b", author) if a.strip()]
        fields["authors"] = ProposedValue(names, "baseline")
    m = re.match(r"(?:D:)?(\d{4})(\d{2})?(\d{2})?", (info.get("CreationDate") or "").strip())
    if m:
        fields["date"] = ProposedValue("-".join(g for g in m.groups() if g), "baseline")
    return Proposal(fields)


def score(
    p: Proposal, row: dict[str, str], counts: Counter[str], scored: Counter[str],
    misses: list[str] | None,
) -> None:
    """Add one proposal's agreement with one truth row to `counts` (field exact/near)."""
    got = full_title(p)
    scored["title"] += 1
    counts["title exact"] += got == row["title"]
    counts["title near"] += title_near(got, row["title"])
    if misses is not None and not title_near(got, row["title"]):
        misses.append(f"title  {row['file']}: got {got!r} want {row['title']!r}")
    if row["authors"]:
        want = [a.strip() for a in row["authors"].split(";") if a.strip()]
        have = list(p.value("authors") or [])
        scored["authors"] += 1
        counts["authors exact"] += have == want
        near = sorted(loose(a) for a in have) == sorted(loose(a) for a in want)
        counts["authors near"] += near
        if misses is not None and not near:
            misses.append(f"authors {row['file']}: got {have} want {want}")
    if row["date"]:
        have_d = p.value("date") or ""
        scored["date"] += 1
        counts["date exact"] += have_d == row["date"]
        counts["date near"] += have_d[:4] == row["date"][:4]
        if misses is not None and have_d != row["date"]:
            misses.append(f"date   {row['file']}: got {have_d!r} want {row['date']!r}")
    scored["abstract"] += 1
    has = p.value("abstract") is not None
    ok = has == (row["has_abstract"].strip().lower() == "yes")
    counts["abstract exact"] += ok
    counts["abstract near"] += ok
    if misses is not None and not ok:
        misses.append(f"abstract {row['file']}: got {has} want {row['has_abstract']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--verbose", "-v", action="store_true", help="print every miss")
    args = parser.parse_args(argv)
    pdf_dir = args.corpus / "pdfs"
    if not pdf_dir.is_dir():
        print(f"corpus not found at {pdf_dir}")
        return 2

    truth = load_truth()
    counts: Counter[str] = Counter()
    scored: Counter[str] = Counter()
    base_counts: Counter[str] = Counter()
    base_scored: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    misses: list[str] = []
    started = time.perf_counter()
    for row in truth:
        extraction, why = build_extraction(pdf_dir / row["file"])
        if extraction is None:
            misses.append(f"{row['file']}: {why}")
            continue
        p = propose_metadata(extraction, filename=upload_name(row["file"]))
        for field, pv in p.fields.items():
            sources[f"{field}:{pv.source}"] += 1
        score(p, row, counts, scored, misses)
        score(naive_proposal(extraction), row, base_counts, base_scored, None)

    # placeholder titles over every readable corpus PDF, not only the truth set
    placeholder = base_placeholder = 0
    readable = 0
    for path in sorted(pdf_dir.glob("*.pdf")):
        extraction, _ = build_extraction(path)
        if extraction is None:
            continue
        readable += 1
        p = propose_metadata(extraction, filename=upload_name(path.name))
        if is_bad_title(p.value("title"), upload_name(path.name)):
            placeholder += 1
            misses.append(f"PLACEHOLDER {path.name}: {p.value('title')!r}")
        base_placeholder += is_bad_title(naive_proposal(extraction).value("title"),
                                         upload_name(path.name))
    elapsed = time.perf_counter() - started

    titles_tsv = args.corpus / "titles.tsv"
    agree = total = 0
    if titles_tsv.is_file():
        with titles_tsv.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                extraction, _ = build_extraction(pdf_dir / row["file"])
                total += 1
                if extraction is None:
                    continue
                p = propose_metadata(extraction, filename=upload_name(row["file"]))
                if loose(full_title(p)) == loose(row["title"]):
                    agree += 1
                else:
                    misses.append(f"titles.tsv {row['file']}: got {full_title(p)!r}")

    print(f"truth rows: {len(truth)}   readable corpus PDFs: {readable}   time: {elapsed:.1f}s")
    print("baseline: /Title (else the first line of page one), /Author, /CreationDate, "
          "no abstract")
    print(f"{'field':<10}{'scored':>8}{'base exact':>12}{'base near':>11}"
          f"{'exact':>9}{'near':>9}")
    for field in ("title", "authors", "date", "abstract"):
        n = scored[field]
        if not n:
            continue
        bn = base_scored[field] or 1
        print(f"{field:<10}{n:>8}"
              f"{base_counts[f'{field} exact'] / bn:>12.1%}"
              f"{base_counts[f'{field} near'] / bn:>11.1%}"
              f"{counts[f'{field} exact'] / n:>9.1%}{counts[f'{field} near'] / n:>9.1%}")
    print(f"placeholder titles proposed: {placeholder} (baseline: {base_placeholder})")
    print(f"titles.tsv agreement (ignoring case and punctuation): {agree}/{total}")
    print("sources: " + ", ".join(f"{k}={v}" for k, v in sorted(sources.items())))
    if args.verbose and misses:
        print("\nmisses:")
        for m in misses:
            print("  " + m)
    return 0 if placeholder == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
