"""The Cranfield test collection: reading it, and the ranking measures (MAP, nDCG@10, P@10)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CRANFIELD = ROOT.parent / "shared" / "corpus" / "ir" / "cranfield"


@dataclass(frozen=True)
class Document:
    number: int
    title: str
    authors: str
    abstract: str


def _records(path: Path) -> list[dict[str, str]]:
    """Records of a SMART-format file: `.I n` starts one, `.T/.A/.B/.W` start its sections."""
    records: list[dict[str, str]] = []
    section = None
    for line in path.read_text(encoding="latin-1").splitlines():
        m = re.match(r"^\.([ITABW])\b\s*(.*)$", line)
        if m and m.group(1) == "I":
            records.append({"I": m.group(2).strip()})
            section = None
        elif m:
            section = m.group(1)
            records[-1][section] = ""
        elif records and section:
            records[-1][section] += line + "\n"
    return records


def _squash(text: str) -> str:
    return " ".join(text.split())


def documents(root: Path = CRANFIELD) -> list[Document]:
    return [
        Document(int(r["I"]), _squash(r.get("T", "")), _squash(r.get("A", "")),
                 _squash(r.get("W", "")))
        for r in _records(root / "cran.all.1400")
    ]


def queries(root: Path = CRANFIELD) -> list[str]:
    """The 225 queries in file order; the judgements number them 1..225 in this order."""
    return [_squash(r.get("W", "")) for r in _records(root / "cran.qry")]


def judgements(root: Path = CRANFIELD) -> dict[int, dict[int, int]]:
    """query number -> {document number: grade}, grades 1 (most relevant) to 4; -1 dropped."""
    out: dict[int, dict[int, int]] = {}
    for line in (root / "cranqrel").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and int(parts[2]) > 0:
            out.setdefault(int(parts[0]), {})[int(parts[1])] = int(parts[2])
    return out


def _gain(grade: int) -> float:
    return float(5 - grade)  # grade 1 is the most useful answer


def measure(runs: dict[int, list[int]], judged: dict[int, dict[int, int]]) -> dict[str, float]:
    """Mean average precision, nDCG@10 (graded gains) and P@10 over the judged queries."""
    ap_sum = ndcg_sum = p10_sum = 0.0
    for q, relevant in judged.items():
        ranked = runs.get(q, [])
        found, precision_sum = 0, 0.0
        for k, doc in enumerate(ranked, start=1):
            if doc in relevant:
                found += 1
                precision_sum += found / k
        ap_sum += precision_sum / len(relevant)
        dcg = sum(_gain(relevant[d]) / math.log2(k + 1)
                  for k, d in enumerate(ranked[:10], start=1) if d in relevant)
        ideal = sorted((_gain(g) for g in relevant.values()), reverse=True)[:10]
        idcg = sum(g / math.log2(k + 1) for k, g in enumerate(ideal, start=1))
        ndcg_sum += dcg / idcg if idcg else 0.0
        p10_sum += sum(1 for d in ranked[:10] if d in relevant) / 10
    n = len(judged)
    return {"MAP": ap_sum / n, "nDCG@10": ndcg_sum / n, "P@10": p10_sum / n}
