"""Synonyms and acronyms of the field: the shipped list, the staff's own file, and look-ups.

The list is applied when a query is compiled (never at index time), so a change to it takes
effect on the next search without reindexing. Format (one group per line, see
docs/search.md): members separated by "=", "#" starts a comment, and in the staff file a
line "-MEMBER" drops the shipped group containing that member. A staff group that shares a
member with a shipped group replaces it.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from . import SYNONYMS_FILE  # the staff's file, in the data home
from .analysis import query_tokens

MAX_FILE_BYTES = 1_000_000
MAX_MEMBER_WORDS = 8


@dataclass(frozen=True)
class Member:
    """One way of saying a thing: its text as written and the key it matches on."""

    text: str
    key: tuple[str, ...]  # English stems of its content words


@dataclass(frozen=True)
class Problem:
    """A line of a synonyms file that was not used, and why."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class Vocabulary:
    """Groups of equivalent members, looked up by the stems of a query's words."""

    groups: tuple[tuple[Member, ...], ...] = ()
    problems: tuple[Problem, ...] = ()
    sources: tuple[str, ...] = ()  # where each group came from ("shipped" or the file name)
    _by_key: dict[tuple[str, ...], list[int]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for n, group in enumerate(self.groups):
            for m in group:
                self._by_key.setdefault(m.key, []).append(n)

    @property
    def longest(self) -> int:
        return max((len(k) for k in self._by_key), default=0)

    def alternatives(self, key: tuple[str, ...]) -> list[Member]:
        """The other members of every group containing `key` (empty if none)."""
        out: list[Member] = []
        for n in self._by_key.get(key, ()):
            out.extend(m for m in self.groups[n] if m.key != key and m not in out)
        return out


def member_key(text: str) -> tuple[str, ...]:
    """The matching key of a member: stems of its words, stop words dropped unless all are."""
    toks = query_tokens(text)
    content = [t for t in toks if not t.stop] or toks
    return tuple(t.stem for t in content)


def _member(text: str) -> Member | None:
    text = " ".join(text.split())
    toks = query_tokens(text)
    if not toks or all(t.stop for t in toks) or len(toks) > MAX_MEMBER_WORDS * 2:
        return None
    key = member_key(text)
    if len(key) > MAX_MEMBER_WORDS:
        return None
    return Member(text, key)


def parse_lines(text: str, source: str) -> tuple[list[tuple[Member, ...]], list[str], list[Problem]]:
    """Groups, removals ("-MEMBER" lines) and problems found in one file's text."""
    groups: list[tuple[Member, ...]] = []
    removals: list[str] = []
    problems: list[Problem] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        if line.startswith("-") and "=" not in line:
            name = line[1:].strip()
            if name:
                removals.append(name)
            else:
                problems.append(Problem(source, number, "a removal line needs a member after '-'"))
            continue
        parts = [p.strip() for p in line.split("=")]
        members: list[Member] = []
        for part in parts:
            if not part:
                continue
            m = _member(part)
            if m is None:
                problems.append(Problem(source, number, f"{part!r} is only common words (the, he, it, ...) "
                                        f"or longer than {MAX_MEMBER_WORDS} words"))
            elif all(m.key != o.key for o in members):
                members.append(m)
        if len(members) < 2:
            problems.append(Problem(source, number, "a line needs two or more members separated by '='"))
            continue
        groups.append(tuple(members))
    return groups, removals, problems


def build(default_text: str, local_text: str | None, local_source: str = "synonyms.txt") -> Vocabulary:
    """Merge the shipped list with the staff's file (whose groups and removals win)."""
    groups, _, problems = parse_lines(default_text, "shipped list")
    sources = ["shipped"] * len(groups)
    if local_text is not None:
        local, removals, local_problems = parse_lines(local_text, local_source)
        problems += local_problems
        drop = {member_key(r) for r in removals}
        for g in local:
            drop.update(m.key for m in g)
        kept = [n for n, g in enumerate(groups) if not any(m.key in drop for m in g)]
        groups = [groups[n] for n in kept] + local
        sources = ["shipped"] * len(kept) + [local_source] * len(local)
    return Vocabulary(tuple(groups), tuple(problems), tuple(sources))


def default_text() -> str:
    """The shipped list."""
    return resources.files("index").joinpath("synonyms.txt").read_text(encoding="utf-8")


def read_local(path: Path) -> str | None:
    """The staff's file, or None if it does not exist; too large or unreadable raises ValueError."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from exc
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from exc


def load(path: Path | None) -> Vocabulary:
    """The vocabulary in force: shipped list plus the staff's file at `path` (if any).

    A staff file that cannot be read is reported as a problem and the shipped list is used.
    """
    local = None
    problem: list[Problem] = []
    if path is not None:
        try:
            local = read_local(path)
        except ValueError as exc:
            problem.append(Problem(str(path), 0, str(exc)))
    vocab = build(default_text(), local, str(path) if path else "synonyms.txt")
    if problem:
        vocab = Vocabulary(vocab.groups, vocab.problems + tuple(problem), vocab.sources)
    return vocab


class VocabularySource:
    """The current vocabulary, reloaded when the staff's file changes (checked by mtime)."""

    def __init__(self, path: Path | None, shipped: bool = True) -> None:
        self.path = Path(path) if path is not None else None
        self.shipped = shipped  # False: no shipped list (benchmarks measure it this way)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._vocab: Vocabulary | None = None

    def _stat(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def current(self) -> Vocabulary:
        stamp = self._stat()
        with self._lock:
            if self._vocab is None or stamp != self._stamp:
                self._vocab = load(self.path) if self.shipped else Vocabulary()
                self._stamp = stamp
            return self._vocab


def check_line(line: str) -> list[Problem]:
    """Problems with one line a member of staff wants to add (empty when it is usable)."""
    if "\n" in line or "\r" in line:
        return [Problem("line", 1, "give one line at a time")]
    groups, _, problems = parse_lines(line, "line")
    if not groups and not problems:
        return [Problem("line", 1, "the line is empty or only a comment")]
    return problems


__all__ = ["SYNONYMS_FILE", "Member", "Problem", "Vocabulary", "VocabularySource", "build",
           "check_line", "load"]
