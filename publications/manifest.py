"""Reads an import manifest (JSON Lines or CSV), one publication record per line."""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from publications.fields import KNOWN_FIELDS

LIST_FIELDS = ("authors", "organisations", "topics", "keywords")
_ORG_ROLE = re.compile(r"^(.*?)\s*\[([^\]]+)\]\s*$")


@dataclass(frozen=True)
class ManifestLine:
    """One line of a manifest: the record, or why it cannot be used."""

    label: str
    record: dict[str, Any] | None
    file: Path | None = None
    error: str | None = None


def read_manifest(path: Path) -> Iterator[ManifestLine]:
    """Yield one ManifestLine per record. `file` paths are relative to the manifest.

    The format is chosen by content: a first non-blank character of `{` means JSON Lines,
    anything else CSV with a header row. Raises OSError if the manifest cannot be read.
    """
    text = path.read_text(encoding="utf-8-sig")
    stripped = text.lstrip()
    rows = _json_lines(text) if stripped.startswith("{") or not stripped else _csv_rows(text)
    for line_no, record, error in rows:
        label = f"{path.name}:{line_no}"
        if error:
            yield ManifestLine(label, None, error=error)
            continue
        assert record is not None
        unknown = sorted(set(record) - KNOWN_FIELDS)
        if unknown:
            yield ManifestLine(label, None, error=f"unknown field(s): {', '.join(unknown)}")
            continue
        file_value = record.get("file")
        file_path = None
        if file_value:
            if not isinstance(file_value, str):
                yield ManifestLine(label, None, error="file must be a path (text)")
                continue
            outside = _outside_folder(file_value)
            if outside:
                yield ManifestLine(label, None, error=outside)
                continue
            file_path = (path.parent / file_value).resolve()
            label = str(path.parent / file_value)
        yield ManifestLine(label, record, file_path)


def _outside_folder(value: str) -> str | None:
    """Why a manifest's `file` value is refused, or None. Files must sit in the manifest's
    folder or below it: a manifest from elsewhere cannot pull in `/etc/...` or `../..`.
    (Symbolic links placed in the folder by whoever runs the import are followed.)"""
    if "\x00" in value:
        return "file must not contain a NUL character"
    if os.path.isabs(value) or value.startswith(("/", "\\")):
        return f"file must be a path relative to the manifest, not {value[:200]!r}"
    if ".." in value.replace("\\", "/").split("/"):
        return f"file must not leave the manifest's folder ('..' in {value[:200]!r})"
    return None


def _json_lines(text: str) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield n, None, f"line {n} is not valid JSON ({exc.msg})"
            continue
        if not isinstance(value, dict):
            yield n, None, f"line {n} is not a JSON object"
            continue
        yield n, value, None


def _csv_rows(text: str) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    reader = csv.DictReader(text.splitlines())
    for n, row in enumerate(reader, start=2):
        if None in row:
            yield n, None, f"line {n} has more cells than the header"
            continue
        record: dict[str, Any] = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        for name in LIST_FIELDS:
            if record.get(name):
                record[name] = parse_list_field(name, record[name])
        yield n, {k: v for k, v in record.items() if v != ""}, None


def parse_list_field(field: str, value: str) -> object:
    """A text value as the field wants it: lists split on ';', organisations 'Name [role]'."""
    if field not in LIST_FIELDS:
        return value
    parts = [p.strip() for p in value.split(";") if p.strip()]
    return [_org(p) for p in parts] if field == "organisations" else parts


def _org(text: str) -> dict[str, str]:
    m = _ORG_ROLE.match(text)
    if m:
        return {"name": m.group(1), "role": m.group(2).strip().lower()}
    return {"name": text, "role": "publisher"}
