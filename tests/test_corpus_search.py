"""Known-item search over the real corpus and the sample collection: the right one in the top 3."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.cli import portal

pytestmark = pytest.mark.corpus

ROOT = Path(__file__).resolve().parents[1]

# A reader's words for a publication, not its title: (query, file name stem it should find).
OWN_CORPUS_CHECKS = [
    ("deep vein thrombosis prevention complications after injury", "cermine__test1"),
    ("software that extracts metadata and references from scholarly articles", "cermine__slides"),
    ("maintaining tumour cell lines in rodents", "govdocs1__error_set_1_032270"),
    ("policy on controlled drugs used in research", "govdocs1__error_set_1_008677"),
    ("malaria indicator survey Angola", "govdocs1__error_set_2_064034"),
    ("phosphorus index for pasture fields", "govdocs1__error_set_2_367594"),
    ("firearm background check counts by state November 2015", "pdfplumber__nics-background-checks-2015-11"),
    ("new private housing units authorized in the largest metro areas", "govdocs1__error_set_2_033689"),
    ("evolutionary selective pressure analysis software", "cermine__test6"),
    ("Einführung in Geometrie und Topologie Skript", "pypdf-samples__GeoTopo-komprimiert"),
    ("Boeing airplanes airworthiness proposed rule", "pdfplumber__federal-register-2020-17221"),
]

OWN_SAMPLE_CHECKS = [
    ("volunteers keeping branch libraries open after council cuts", "open-doors-fewer-hours"),
    ("damp and mould making tenants ill", "home-truths"),
    ("older people who do not use the internet", "offline-and-left-out"),
    ("link workers and GP referrals to community activities", "social-prescribing-after-the-pandemic"),
    ("rent affordability for nurses teachers and other key workers", "homes-within-reach"),
    ("heated public buildings during the energy price crisis", "warm-spaces-cold-homes"),
    ("adult education courses in villages", "learning-where-people-live"),
    ("community hubs where advice and health services share a building", "under-one-roof"),
    ("how to judge community benefit promises in procurement", "social-value-five-tests-for-a-good-contract"),
    ("outcome-based contracts in community health", "commissioning-for-outcomes"),
    ("devolved adult skills budget combined authority", "adult-skills-after-devolution"),
    ("state of cooperation between local public bodies and charities", "stronger-together"),
]


def _ranked(home: Path, queries: list[str]) -> list[list[dict]]:
    run = portal(home, "search", "-", "--json", "--limit", "10", stdin="\n".join(queries) + "\n")
    assert run.code == 0, run.stderr
    return [json.loads(line)["hits"] for line in run.stdout.splitlines()]


def test_known_items_over_the_corpus(corpus_ingest) -> None:  # type: ignore[no-untyped-def]
    home, corpus, run = corpus_ingest
    id_of = {Path(r["path"]).stem: r["id"] for r in run.lines if r["status"] != "failed"}
    with open(corpus / "known-items.tsv", newline="") as f:
        checks = [(r["query"], Path(r["expected_file"]).stem) for r in csv.DictReader(f, delimiter="\t")]
    checks += OWN_CORPUS_CHECKS
    answers = _ranked(home, [q for q, _ in checks])
    misses = []
    for (query, stem), hits in zip(checks, answers, strict=True):
        top = [h["id"] for h in hits[:3]]
        if id_of[stem] not in top:
            misses.append((query, stem, [h["title"] for h in hits[:3]]))
    assert not misses, misses


def test_known_items_over_the_samples(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = tmp_path / "samples"
    import subprocess
    import sys

    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_samples.py"), str(out)],
                   check=True, capture_output=True)
    assert portal(home, "import", str(out / "manifest.jsonl"), "--publish").code == 0
    answers = _ranked(home, [q for q, _ in OWN_SAMPLE_CHECKS])
    misses = []
    for (query, slug), hits in zip(OWN_SAMPLE_CHECKS, answers, strict=True):
        if slug not in [h["slug"] for h in hits[:3]]:
            misses.append((query, slug, [h["slug"] for h in hits[:3]]))
    assert not misses, misses


def test_page_hits_point_at_the_right_page(corpus_ingest) -> None:  # type: ignore[no-untyped-def]
    home, _corpus, _run = corpus_ingest
    (hits,) = _ranked(home, ["nonresident alien dual-status"])
    assert hits, "no hits"
    best = hits[0]
    assert best["pages"], best
    page = best["pages"][0]["page"]
    shown = json.loads(portal(home, "show", best["slug"], "--json").stdout)
    assert 1 <= page <= shown["file"]["pages"]
    assert "<mark>" in best["pages"][0]["snippet"]
