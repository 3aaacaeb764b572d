"""The `portal` command as people and scripts use it: output, JSON shapes, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from tests import pdfs
from tests.cli import portal


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    pdfs.write(folder / "a.pdf", pdfs.report_pdf("Public service reform in Ashdown"))
    pdfs.write(folder / "sub" / "b.pdf", pdfs.report_pdf("Social value in procurement"))
    return folder


def test_ingest_json_reports_every_file_and_is_idempotent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = _folder(tmp_path)
    pdfs.write(folder / "broken.pdf", b"<html>oops</html>")
    first = portal(home, "ingest", "--json", "--jobs", "2", str(folder))
    assert first.code == 1  # one file failed
    by_name = {Path(r["path"]).name: r for r in first.lines}
    assert set(by_name) == {"a.pdf", "b.pdf", "broken.pdf"}
    assert by_name["a.pdf"]["status"] == "added"
    assert by_name["a.pdf"]["title"] == "Public service reform in Ashdown"
    assert by_name["a.pdf"]["pages"] == 2 and by_name["a.pdf"]["flags"] == []
    assert by_name["broken.pdf"]["status"] == "failed"
    assert "HTML" in by_name["broken.pdf"]["error"]
    (folder / "broken.pdf").unlink()
    again = portal(home, "ingest", "--json", str(folder))
    assert again.code == 0
    assert [r["status"] for r in again.lines] == ["duplicate", "duplicate"]
    assert portal(home, "check").code == 0


def test_ingest_plain_output_names_failures(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bad = pdfs.write(tmp_path / "empty.pdf", b"")
    run = portal(home, "ingest", str(bad), str(tmp_path / "missing.pdf"))
    assert run.code == 1
    assert "empty.pdf: the file is empty" in run.stderr
    assert "missing.pdf: the file does not exist" in run.stderr


def test_usage_error_exits_2(tmp_path: Path) -> None:
    assert portal(tmp_path / "home", "ingest").code == 2
    assert portal(tmp_path / "home", "ingest", "--jobs", "zero", "x").code == 2
    assert portal(tmp_path / "home", "withdraw", "x").code == 2  # --reason is required


def test_show_publish_withdraw(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = _folder(tmp_path)
    added = portal(home, "ingest", "--json", str(folder)).lines[0]
    shown = json.loads(portal(home, "show", str(added["id"]), "--json").stdout)
    assert shown["status"] == "draft"
    assert shown["file"]["pages"] == 2
    assert shown["provenance"]["title"] == "first-page"
    assert portal(home, "publish", added["slug"]).code == 0
    run = portal(home, "withdraw", added["slug"], "--reason", "superseded")
    assert run.code == 0
    shown = json.loads(portal(home, "show", added["slug"], "--json").stdout)
    assert shown["status"] == "withdrawn" and shown["withdrawn_reason"] == "superseded"
    missing = portal(home, "show", "no-such-thing")
    assert missing.code == 1 and "no publication" in missing.stderr


def test_import_manifest_with_and_without_files(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = tmp_path / "back-catalogue"
    pdfs.write(folder / "files" / "r.pdf", pdfs.report_pdf("Whatever the cover says"))
    records = [
        {"title": "Libraries at the heart of the community", "type": "report", "date": "2016-05",
         "authors": ["Jo Bloggs"], "topics": ["Libraries"], "file": "files/r.pdf"},
        {"title": "An external article", "type": "article", "date": "2019",
         "external_link": "https://example.org/article"},
        {"title": "Bad date", "date": "sometime"},
        {"title": "Missing file", "file": "files/nope.pdf"},
    ]
    manifest = folder / "manifest.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in records) + "\nnot json\n")
    run = portal(home, "import", str(manifest), "--json", "--publish")
    assert run.code == 1
    statuses = [r["status"] for r in run.lines]
    assert statuses.count("added") == 2 and statuses.count("failed") == 3
    added = {r["title"]: r for r in run.lines if r["status"] == "added"}
    # the manifest's title wins over what the first page says
    assert "Libraries at the heart of the community" in added
    shown = json.loads(
        portal(home, "show", added["Libraries at the heart of the community"]["slug"], "--json").stdout
    )
    assert shown["provenance"]["title"] == "manifest"
    assert shown["status"] == "published"
    errors = " ".join(r.get("error", "") for r in run.lines)
    assert "not valid JSON" in errors and "does not exist" in errors and "date" in errors
    again = portal(home, "import", str(manifest), "--json")
    assert [r["status"] for r in again.lines].count("added") == 0


def test_import_csv(tmp_path: Path) -> None:
    home = tmp_path / "home"
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "title,type,date,authors,organisations,topics\n"
        'Care in the community,briefing,2018-02,"A One; B Two","Hub [publisher]; Council [funder]",Health\n'
    )
    run = portal(home, "import", str(manifest), "--json")
    assert run.code == 0, run.stdout
    shown = json.loads(portal(home, "show", run.lines[0]["slug"], "--json").stdout)
    assert [a["name"] for a in shown["authors"]] == ["A One", "B Two"]
    assert {"name": "Council", "role": "funder"} in shown["organisations"]


def test_edit_replace_file_and_delete_from_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = _folder(tmp_path)
    added = portal(home, "ingest", "--json", "--publish", str(folder / "a.pdf")).lines[0]
    run = portal(home, "edit", added["slug"], "--set", "title=Reforming public services",
                 "--set", "topics=Reform; Councils", "--set",
                 "organisations=Ashdown Council [commissioned by]")
    assert run.code == 0, run.stderr
    shown = json.loads(portal(home, "show", added["slug"], "--json").stdout)
    assert shown["title"] == "Reforming public services"
    assert shown["slug"] == "reforming-public-services"
    assert shown["topics"] == ["Councils", "Reform"]
    assert shown["organisations"] == [{"name": "Ashdown Council", "role": "commissioned by"}]
    assert portal(home, "edit", added["slug"], "--set", "colour=red").code == 2
    assert portal(home, "edit", added["slug"], "--set", "date=someday").code == 1

    new = pdfs.write(tmp_path / "v2.pdf", pdfs.report_pdf("Reforming public services 2", pages=3))
    assert portal(home, "replace-file", added["slug"], str(new)).code == 0
    shown = json.loads(portal(home, "show", added["slug"], "--json").stdout)
    assert [v["number"] for v in shown["versions"]] == [1, 2]
    assert shown["file"]["pages"] == 3
    same = portal(home, "replace-file", added["slug"], str(new))
    assert same.code == 1 and "already stored" in same.stderr

    assert portal(home, "delete", added["slug"]).code == 1  # needs --yes
    assert portal(home, "delete", added["slug"], "--yes").code == 0
    assert portal(home, "show", added["slug"]).code == 1
    assert portal(home, "check").code == 0
