"""Text analysis: tokenising, Unicode/accent folding, stop words and English stemming."""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from whoosh.analysis import CompositeAnalyzer, Filter, RegexTokenizer, StemFilter, StopFilter, Token
from whoosh.lang import has_stemmer, stemmer_for_language
from whoosh.lang import languages as whoosh_languages
from whoosh.lang.porter2 import stem as _porter2

from .spelling import shared_spelling

# Words: letters/digits, allowing inner dots and apostrophes ("10.1234", "o'neill", "u.k").
TOKEN_PATTERN = r"\w+(?:[.'\u2019]\w+)*"
TOKEN_RE = re.compile(TOKEN_PATTERN, re.UNICODE)

# A general English stop list (function words, auxiliaries, pronouns, determiners).
STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can cannot could did do does doing done down
    during each either etc few for from further had has have having he her here hers herself
    him himself his how however i ie eg if in into is it its itself just let me more most my
    myself neither no nor not of off on once only or other otherwise ought our ours ourselves
    out over own same shall she should since so some such than that the their theirs them
    themselves then there thereby therefore these they this those though through thus to too
    under until up upon us very via was we were what whatever when whenever where whereas
    whether which while who whom whose why will with within without would yet you your yours
    yourself yourselves s t may might must
    """.split()
)

# Words that frame a reader's question rather than state its subject; dropped from
# natural-language queries only (never at index time, never inside quotes or fields).
QUESTION_WORDS = frozenset(
    """
    say says said tell told know please anything something regarding concerning
    """.split()
)

_EXTRA_FOLD = str.maketrans(
    {"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ß": "ss", "ı": "i"}
)
_INITIALISM = re.compile(r"^(?:\w\.)+\w\.?$")


@lru_cache(maxsize=200_000)
def fold(token: str) -> str:
    """Lowercase, NFKC-normalise, strip accents and possessives from one raw token."""
    if token.isascii():
        text = token.lower()
    else:
        text = unicodedata.normalize("NFKC", token).lower().translate(_EXTRA_FOLD)
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    if "'" in text or "\u2019" in text:
        text = text.replace("\u2019", "'")
        if text.endswith("'s"):
            text = text[:-2]
        text = text.replace("'", "")
    if "." in text and _INITIALISM.match(text):
        text = text.replace(".", "")
    return text


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """English (Porter2) stem of an already folded word; numbers are left alone.

    British and American spellings are first brought to one form (`spelling.shared_spelling`),
    so either spelling finds the other.
    """
    if not word.isalpha() or len(word) < 3:
        return word
    return _porter2(shared_spelling(word))


class FoldFilter(Filter):
    """Whoosh filter applying `fold` to every token, dropping tokens that fold to nothing."""

    def __call__(self, tokens):  # type: ignore[override]
        for t in tokens:
            text = fold(t.text)
            if text:
                t.text = text
                yield t


def english_analyzer():  # type: ignore[no-untyped-def]
    """Analyzer for English text fields: tokenise, fold, stop words, Porter2 stemming."""
    return PageReuseAnalyzer(
        RegexTokenizer(TOKEN_PATTERN)
        | FoldFilter()
        | StopFilter(stoplist=STOP_WORDS, minsize=1, renumber=True)
        | StemFilter(stemfn=stem, cachesize=-1)
    )


def plain_analyzer():  # type: ignore[no-untyped-def]
    """Analyzer for names and labels: tokenise and fold only (no stemming)."""
    return RegexTokenizer(TOKEN_PATTERN) | FoldFilter()


# Text of a non-English publication is indexed as "<LANGUAGE_MARK><code> <text>": the
# analyzer reads the mark (it is not indexed) and stems the rest with that language's
# stemmer. Whoosh analyzers see only text, so the language has to travel inside it.
LANGUAGE_MARK = "zzlanguagezz"


def language_stemmer(language: str):  # type: ignore[no-untyped-def]
    """Whoosh's Snowball stemmer for an ISO 639-1 code other than English, or None."""
    code = (language or "").strip().lower().split("-")[0]
    if not code or code == "en" or not has_stemmer(code):
        return None
    return _cached_stemmer(code)


@lru_cache(maxsize=32)
def _cached_stemmer(code: str):  # type: ignore[no-untyped-def]
    fn = stemmer_for_language(code)
    return lru_cache(maxsize=50_000)(fn)


def stem_in(language: str, word: str) -> str:
    """A folded word stemmed for `language` (unchanged when the language has no stemmer)."""
    fn = language_stemmer(language)
    if fn is None or not word.isalpha() or len(word) < 3:
        return word
    return fold(fn(word))


def language_head(language: str) -> str:
    """The prefix `mark_language` puts before text of `language` ("" when none is needed)."""
    if language_stemmer(language) is None:
        return ""
    return f"{LANGUAGE_MARK}{language.strip().lower().split('-')[0]} "


def mark_language(language: str, text: str) -> str:
    """Prefix `text` with the language mark when the language has a stemmer.

    A `PagedText` stays one, its pages unchanged, so its analysis can still reuse theirs.
    """
    head = language_head(language) if text else ""
    if not head:
        return text
    if isinstance(text, PagedText):
        return PagedText(text.parts, text.sep, head=head + text.head)
    return head + text


def stemmed_languages() -> tuple[str, ...]:
    """Codes of the languages (other than English) that have a stemmer."""
    return tuple(c for c in whoosh_languages if c != "en" and has_stemmer(c))


class LanguageStemFilter(Filter):
    """Stems tokens with the language named by a leading LANGUAGE_MARK token (if any)."""

    def __call__(self, tokens):  # type: ignore[override]
        fn = None
        first = True
        for t in tokens:
            if first:
                first = False
                if t.text.startswith(LANGUAGE_MARK):
                    fn = language_stemmer(t.text[len(LANGUAGE_MARK):])
                    continue
            if fn is not None and t.text.isalpha() and len(t.text) >= 3:
                t.text = fold(fn(t.text))
            yield t


def other_language_analyzer():  # type: ignore[no-untyped-def]
    """Analyzer for non-English text: tokenise, fold, and stem in the marked language."""
    return PageReuseAnalyzer(RegexTokenizer(TOKEN_PATTERN) | FoldFilter() | LanguageStemFilter())


class PagedText(str):
    """Text made of pages: `head + sep.join(parts)`, remembering the parts.

    A publication's body is the join of its pages, and each page is indexed again on its own
    (`head + part`). `PageReuseAnalyzer` analyses such a text one page at a time and keeps
    the tokens, so the page documents that follow reuse them instead of analysing again.
    """

    parts: tuple[str, ...]
    sep: str
    head: str

    def __new__(cls, parts: tuple[str, ...] | list[str], sep: str = "\n", head: str = "") -> PagedText:
        if sep.strip() or (head and not head[-1].isspace()):
            raise ValueError("pages must be joined by whitespace, after a head ending in one")
        self = super().__new__(cls, head + sep.join(parts))
        self.parts = tuple(parts)
        self.sep = sep
        self.head = head
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (PagedText, (self.parts, self.sep, self.head))


# The keyword arguments Whoosh's formats pass when indexing; any other request (a query,
# start offsets, stop words kept) is analysed the ordinary way.
_REUSABLE_ARGS = frozenset({"positions", "chars", "boosts", "mode"})
# Tokens of recent pages kept for reuse (per thread): bounds memory on very long reports.
PAGE_CACHE_TOKENS = 2_000_000


class _Analysed:
    """The tokens one analysis of `head + part` yielded, with what is needed to shift them."""

    __slots__ = ("texts", "poses", "starts", "ends", "raw")

    def __init__(self, raw: int) -> None:
        self.texts: list[str] = []
        self.poses: list[int] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.raw = raw  # tokens the tokenizer found in the part (before any filter)


class PageReuseAnalyzer(CompositeAnalyzer):
    """A composite analyzer that analyses each page of a `PagedText` once.

    The tokens of `PagedText` are exactly those of analysing the joined string: every page is
    analysed as `head + page`, its tokens' positions and character offsets are shifted to
    where the page sits in the join, and the positions are renumbered as a renumbering stop
    filter would have done over the whole text. This holds because the tokenizer's words
    never cross the whitespace between pages and the filters keep no state across words,
    except the stop filter's numbering and a head's language mark, both handled here. Each
    page's tokens are kept (per thread, for the last `PagedText` only) and replayed when
    the same page text is analysed next with the same arguments, as the page documents are.
    """

    def __init__(self, analyzer: CompositeAnalyzer) -> None:
        super().__init__(analyzer)
        self._local = threading.local()

    @property
    def renumbers(self) -> bool:
        return any(isinstance(f, StopFilter) and f.renumber for f in self.items[1:])

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_local"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    def _cache(self) -> dict[tuple[Any, ...], _Analysed]:
        cache = getattr(self._local, "cache", None)
        if cache is None:
            cache = self._local.cache = {}
        return cache

    def __call__(self, value, no_morph=False, **kwargs):  # type: ignore[no-untyped-def, override]
        if no_morph or kwargs.get("mode") != "index" or not _REUSABLE_ARGS.issuperset(kwargs):
            return super().__call__(value, no_morph=no_morph, **kwargs)
        flags = (bool(kwargs.get("positions")), bool(kwargs.get("chars")))
        if isinstance(value, PagedText) and flags[0]:
            return self._paged(value, flags, kwargs)
        hit = self._cache().get((flags, value))
        if hit is None:
            return super().__call__(value, **kwargs)
        return self._replay(kwargs, [(hit, 0, 0, 0)])

    def _analyse(self, text: str, raw: int, flags: tuple[bool, bool], kwargs: dict[str, Any]) -> _Analysed | None:
        out = _Analysed(raw)
        texts, poses, starts, ends = out.texts, out.poses, out.starts, out.ends
        positions, chars = flags
        for t in super().__call__(text, **kwargs):
            if t.stopped or t.boost != 1.0:
                return None  # not a stream this class replays (never so at index time)
            texts.append(t.text)
            if positions:
                poses.append(t.pos)
            if chars:
                starts.append(t.startchar)
                ends.append(t.endchar)
        return out

    def _paged(self, value: PagedText, flags: tuple[bool, bool], kwargs: dict[str, Any]):  # type: ignore[no-untyped-def]
        head, sep = value.head, value.sep
        renumbers = self.renumbers
        if renumbers and head:
            return super().__call__(str(value), **kwargs)
        count = self.items[0].expression.finditer
        head_raw = sum(1 for _ in count(head))
        cache: dict[tuple[Any, ...], _Analysed] = {}
        budget = PAGE_CACHE_TOKENS
        plan: list[tuple[_Analysed, int, int, int]] = []
        raw_before = 0  # tokenizer positions of the pages before this one
        offset = 0  # characters of the pages (and separators) before this one
        kept = 0  # tokens yielded by the pages before this one (renumbering)
        base: int | None = None  # position of the first token yielded (renumbering)
        for part in value.parts:
            key = (flags, head + part)
            analysed = cache.get(key)
            if analysed is None:
                raw = sum(1 for _ in count(part))
                analysed = self._analyse(head + part, raw, flags, kwargs)
                if analysed is None:
                    return super().__call__(str(value), **kwargs)
                if budget >= len(analysed.texts):
                    budget -= len(analysed.texts)
                    cache[key] = analysed
            if renumbers:
                if analysed.texts:
                    first = analysed.poses[0]
                    if base is None:
                        base = raw_before + first
                    plan.append((analysed, base + kept - first, offset, 0))
                    kept += len(analysed.texts)
            else:
                # head tokens come once, from the first page; each page's own after them
                plan.append((analysed, raw_before, offset, head_raw if plan else 0))
            raw_before += analysed.raw
            offset += len(part) + len(sep)
        self._local.cache = cache
        return self._replay(kwargs, plan)

    @staticmethod
    def _replay(kwargs: dict[str, Any], plan: list[tuple[_Analysed, int, int, int]]):  # type: ignore[no-untyped-def]
        """Yield the planned tokens: (analysed page, position shift, character shift, and
        the head's token count when its tokens are to be skipped, else 0)."""
        positions = bool(kwargs.get("positions"))
        chars = bool(kwargs.get("chars"))
        t = Token(**kwargs)
        for analysed, pshift, cshift, skip in plan:
            texts, poses = analysed.texts, analysed.poses
            first = 0
            while skip and first < len(poses) and poses[first] < skip:
                first += 1  # head tokens (they come first), already yielded with the first page
            t.boost = 1.0
            t.stopped = False
            if chars:
                starts, ends = analysed.starts, analysed.ends
                for i in range(first, len(texts)):
                    t.text = texts[i]
                    if positions:
                        t.pos = poses[i] + pshift
                    t.startchar = starts[i] + cshift
                    t.endchar = ends[i] + cshift
                    yield t
            elif positions:
                for i in range(first, len(texts)):
                    t.text = texts[i]
                    t.pos = poses[i] + pshift
                    yield t
            else:
                for i in range(first, len(texts)):
                    t.text = texts[i]
                    yield t


@dataclass(frozen=True)
class QueryToken:
    """One word of a query: folded form (unstemmed fields) and stem (English fields)."""

    raw: str
    folded: str
    stem: str
    stop: bool


def query_tokens(text: str) -> list[QueryToken]:
    """Split query text into tokens, marking (not removing) stop words."""
    out: list[QueryToken] = []
    for m in TOKEN_RE.finditer(text):
        f = fold(m.group())
        if not f:
            continue
        out.append(QueryToken(m.group(), f, stem(f), f in STOP_WORDS))
    return out


def iter_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """Yield (start, end, folded) for every token of `text` (used for highlighting)."""
    for m in TOKEN_RE.finditer(text):
        f = fold(m.group())
        if f:
            yield m.start(), m.end(), f


def title_sort_key(title: str) -> str:
    """Key for sorting by title: folded words without a leading article."""
    words = [fold(w) for w in TOKEN_RE.findall(title)]
    words = [w for w in words if w]
    if len(words) > 1 and words[0] in ("the", "a", "an"):
        words = words[1:]
    return " ".join(words)[:200]


LIST_SEP = "\x1f"


class ExactListTokenizer(RegexTokenizer):
    """Tokenizer for exact multi-valued labels joined with LIST_SEP (facet filters)."""

    def __init__(self) -> None:
        super().__init__(expression=r"[^\x1f]+", gaps=False)


def exact_list_analyzer():  # type: ignore[no-untyped-def]
    """Analyzer keeping each LIST_SEP-separated label as one exact, case-preserved term."""
    return ExactListTokenizer()


def clean_label(value: str) -> str:
    """Normalise a facet label: collapse whitespace, drop control characters and LIST_SEP."""
    value = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in value)
    return " ".join(value.split())[:300]
