"""Lay-safe query parser: any string becomes a query tree; expert syntax works when meant."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

MAX_QUERY_CHARS = 1000
MAX_ATOMS = 64
MAX_DEPTH = 8

SHOULD, MUST, MUST_NOT = "should", "must", "must_not"

# Field names a reader may type, mapped to canonical names. Anything else is a plain word.
FIELD_ALIASES = {
    "title": "title",
    "abstract": "abstract",
    "summary": "abstract",
    "text": "text",
    "body": "text",
    "fulltext": "text",
    "author": "author",
    "authors": "author",
    "by": "author",
    "organisation": "organisation",
    "organisations": "organisation",
    "organization": "organisation",
    "organizations": "organisation",
    "org": "organisation",
    "publisher": "organisation",
    "topic": "topic",
    "topics": "topic",
    "subject": "topic",
    "keyword": "keyword",
    "keywords": "keyword",
    "type": "type",
    "year": "year",
    "series": "series",
    "language": "language",
    "lang": "language",
}

_QUOTES = {'"', "\u201c", "\u201d", "\u201e", "\u00ab", "\u00bb"}
_STOP_CHARS = _QUOTES | {"(", ")"}
_FIELD_RE = re.compile(r"^([A-Za-z]+):(.*)$", re.S)
_YEAR_RANGE_RE = re.compile(
    r"^\s*(?:(\d{1,4}|\*)\s*(?:-|\.\.|to|TO)\s*(\d{1,4}|\*)|(\d{1,4}))\s*$"
)
_YEAR_CMP_RE = re.compile(r"^(>=|<=|>|<)\s*(\d{1,4})$")


# ---------------------------------------------------------------------------- tree


@dataclass(frozen=True)
class Word:
    """Plain text (may analyse into several tokens)."""

    text: str


@dataclass(frozen=True)
class Phrase:
    """Quoted words that must appear together, in order."""

    text: str


@dataclass(frozen=True)
class Prefix:
    """A word ending in `*`: every term starting with `text`."""

    text: str


@dataclass(frozen=True)
class YearRange:
    """Inclusive year range; None means open."""

    start: int | None
    end: int | None


@dataclass(frozen=True)
class Fielded:
    """A node restricted to one metadata field (canonical name)."""

    field: str
    node: Node


@dataclass(frozen=True)
class AnyOf:
    """Explicit `a OR b`."""

    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Clause:
    occur: str
    node: Node


@dataclass(frozen=True)
class Group:
    """A list of clauses: MUST all match, MUST_NOT none, SHOULD score (and match if no MUST)."""

    clauses: tuple[Clause, ...] = ()


Node = Word | Phrase | Prefix | YearRange | Fielded | AnyOf | Group


@dataclass
class ParsedQuery:
    """Result of parsing: the tree, the cleaned text, and whether expert syntax was used."""

    root: Group
    text: str
    expert: bool = False
    truncated: bool = False
    features: set[str] = field(default_factory=set)

    @property
    def empty(self) -> bool:
        return not self.root.clauses


# ---------------------------------------------------------------------------- lexing


@dataclass(frozen=True)
class _Tok:
    kind: str  # word | phrase | lparen | rparen | op | field | range
    value: str = ""
    mod: str = ""  # "+" / "-" modifier
    field: str = ""


def sanitize(text: str) -> tuple[str, bool]:
    """Replace control/format characters with spaces, bound the length; never raises."""
    if not isinstance(text, str):
        text = str(text or "")
    text = text.encode("utf-8", "replace").decode("utf-8", "replace")
    truncated = len(text) > MAX_QUERY_CHARS
    if truncated:
        cut = text.rfind(" ", 0, MAX_QUERY_CHARS)
        text = text[: cut if cut > MAX_QUERY_CHARS // 2 else MAX_QUERY_CHARS]
    chars = []
    for c in text:
        cat = unicodedata.category(c)
        chars.append(" " if cat[0] == "C" or cat in ("Zl", "Zp") else c)
    return " ".join("".join(chars).split()), truncated


def _read_word(text: str, i: int) -> tuple[str, int]:
    j = i
    while j < len(text) and not text[j].isspace() and text[j] not in _STOP_CHARS:
        j += 1
    return text[i:j], j


def _find_quote(text: str, i: int) -> int:
    for j in range(i, len(text)):
        if text[j] in _QUOTES:
            return j
    return -1


def _lex(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        mod = ""
        if c in "+-" and i + 1 < n and not text[i + 1].isspace() and (i == 0 or text[i - 1].isspace() or text[i - 1] == "("):
            mod, i = c, i + 1
            c = text[i]
        if c in _QUOTES:
            end = _find_quote(text, i + 1)
            if end == -1:  # unbalanced quote: treat as a space
                i += 1
                continue
            toks.append(_Tok("phrase", text[i + 1 : end], mod))
            i = end + 1
            continue
        if c == "(":
            toks.append(_Tok("lparen", mod=mod))
            i += 1
            continue
        if c == ")":
            toks.append(_Tok("rparen"))
            i += 1
            continue
        word, j = _read_word(text, i)
        m = _FIELD_RE.match(word)
        if m and m.group(1).lower() in FIELD_ALIASES:
            fname = FIELD_ALIASES[m.group(1).lower()]
            rest = m.group(2)
            if fname == "year" and rest[:1] in ("[", "{"):
                close = min((k for k in (text.find("]", i), text.find("}", i)) if k != -1), default=-1)
                if close != -1:
                    inner = text[i + len(m.group(1)) + 2 : close]
                    toks.append(_Tok("range", inner, mod, fname))
                    i = close + 1
                    continue
            if rest == "" and j < n and text[j] in _QUOTES:
                end = _find_quote(text, j + 1)
                if end != -1:
                    toks.append(_Tok("field", text[j + 1 : end], mod, fname + "\x00phrase"))
                    i = end + 1
                    continue
            if rest:
                toks.append(_Tok("field", rest, mod, fname))
                i = j
                continue
        if word in ("AND", "OR", "NOT", "&&", "||") and not mod:
            toks.append(_Tok("op", {"&&": "AND", "||": "OR"}.get(word, word)))
        elif word:
            toks.append(_Tok("word", word, mod))
        i = max(j, i + 1)
    return toks


# ---------------------------------------------------------------------------- parsing


def _year(value: str) -> int | None:
    if value in ("", "*"):
        return None
    y = int(value)
    return y if 0 < y < 10000 else None


def parse_year_value(value: str) -> YearRange | None:
    """Parse "2021", "2015-2020", "2015..2020", "2015 TO 2020", ">2015"; None if not a year."""
    value = value.strip().strip("[]{}").strip()
    m = _YEAR_CMP_RE.match(value)
    if m:
        y = int(m.group(2))
        op = m.group(1)
        if op == ">":
            return YearRange(y + 1, None)
        if op == ">=":
            return YearRange(y, None)
        if op == "<":
            return YearRange(None, y - 1)
        return YearRange(None, y)
    m = _YEAR_RANGE_RE.match(value)
    if not m:
        return None
    if m.group(3):
        y = _year(m.group(3))
        return YearRange(y, y) if y else None
    lo, hi = _year(m.group(1)), _year(m.group(2))
    if lo is None and hi is None:
        return None
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return YearRange(lo, hi)


class _Parser:
    def __init__(self, toks: list[_Tok]) -> None:
        self.toks = toks
        self.i = 0
        self.atoms = 0
        self.features: set[str] = set()

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def group(self, depth: int) -> Group:
        clauses: list[Clause] = []
        next_occur: str | None = None
        join_or = False
        while self.i < len(self.toks):
            tok = self.toks[self.i]
            if tok.kind == "rparen":
                self.i += 1
                if depth > 0:
                    break
                continue  # stray closing bracket
            if tok.kind == "op":
                nxt = self.toks[self.i + 1] if self.i + 1 < len(self.toks) else None
                operand_follows = nxt is not None and nxt.kind not in ("op", "rparen")
                if tok.value == "NOT" and operand_follows:
                    self.i += 1
                    next_occur = MUST_NOT
                    self.features.add("not")
                    continue
                if tok.value in ("AND", "OR") and clauses and operand_follows:
                    self.i += 1
                    if tok.value == "AND":
                        last = clauses[-1]
                        if last.occur == SHOULD:
                            clauses[-1] = Clause(MUST, last.node)
                        if next_occur != MUST_NOT:
                            next_occur = MUST
                        self.features.add("and")
                    else:
                        join_or = True
                        self.features.add("or")
                    continue
                # an operator with nothing to operate on is just a word
                self.toks[self.i] = _Tok("word", tok.value)
                continue
            node, mod = self.atom(depth)
            if node is None:
                continue
            if join_or and clauses and clauses[-1].occur != MUST_NOT:
                last = clauses[-1]
                prev = last.node.nodes if isinstance(last.node, AnyOf) else (last.node,)
                clauses[-1] = Clause(last.occur, AnyOf(prev + (node,)))
                join_or = False
                next_occur = None
                continue
            join_or = False
            occur = next_occur or SHOULD
            if occur == SHOULD and isinstance(node, Fielded):
                occur = MUST  # a field constraint typed on purpose narrows the results
            if mod == "+":
                occur = MUST
                self.features.add("plus")
            elif mod == "-":
                occur = MUST_NOT
                self.features.add("minus")
            clauses.append(Clause(occur, node))
            next_occur = None
        return Group(tuple(clauses))

    def atom(self, depth: int) -> tuple[Node | None, str]:
        tok = self.toks[self.i]
        self.i += 1
        if tok.kind == "lparen":
            if depth >= MAX_DEPTH:
                return None, ""
            self.features.add("group")
            inner = self.group(depth + 1)
            if not inner.clauses:
                return None, ""
            if len(inner.clauses) == 1 and inner.clauses[0].occur == SHOULD:
                return inner.clauses[0].node, tok.mod
            return inner, tok.mod
        if self.atoms >= MAX_ATOMS:
            return None, ""
        self.atoms += 1
        if tok.kind == "phrase":
            self.features.add("phrase")
            return (Phrase(tok.value) if tok.value.strip() else None), tok.mod
        if tok.kind == "range":
            yr = parse_year_value(tok.value.replace(" TO ", "-").replace(" to ", "-"))
            if yr is None:
                return Word(tok.value), tok.mod
            self.features.add("field")
            return Fielded("year", yr), tok.mod
        if tok.kind == "field":
            fname, _, kind = tok.field.partition("\x00")
            self.features.add("field")
            if fname == "year":
                yr = parse_year_value(tok.value)
                if yr is None:
                    return Word(tok.value), tok.mod
                return Fielded("year", yr), tok.mod
            if kind == "phrase":
                return Fielded(fname, Phrase(tok.value)), tok.mod
            return Fielded(fname, _word_or_prefix(tok.value, self.features)), tok.mod
        return _word_or_prefix(tok.value, self.features), tok.mod


def _word_or_prefix(text: str, features: set[str]) -> Word | Prefix:
    if text.endswith("*"):
        stem = text.rstrip("*")
        if len(stem) >= 3 and re.fullmatch(r"\w+", stem):
            features.add("prefix")
            return Prefix(stem)
    return Word(text)


def parse(text: str) -> ParsedQuery:
    """Parse any string into a ParsedQuery. Never raises."""
    clean, truncated = sanitize(text)
    toks = _lex(clean)
    if not any(t.kind == "op" or (t.kind == "lparen" and t.mod) for t in toks):
        # without operators, brackets are prose ("flow (the slip effect)"), not grouping
        toks = [t for t in toks if t.kind not in ("lparen", "rparen")]
    parser = _Parser(toks)
    root = parser.group(0)
    return ParsedQuery(root, clean, expert=bool(parser.features), truncated=truncated,
                       features=parser.features)
