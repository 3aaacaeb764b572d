"""Text analysis: tokenising, Unicode/accent folding, stop words and English stemming."""

from __future__ import annotations

import operator
import pickle
import re
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Any

from whoosh.analysis import CompositeAnalyzer, Filter, RegexTokenizer, StemFilter, StopFilter, Token
from whoosh.formats import Positions
from whoosh.system import pack_uint
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
# Distinct raw tokens whose indexed form is remembered by an analyzer (then it starts over).
WORD_CACHE_SIZE = 300_000
_DROPPED = "\x00dropped"  # a token the filters remove (no indexed form has a NUL)


class _Analysed:
    """The tokens one analysis of `head + part` yielded, with what is needed to shift them."""

    __slots__ = ("texts", "poses", "starts", "ends", "raw", "_terms")

    def __init__(self, raw: int = 0) -> None:
        self.texts: list[str] = []
        self.poses: list[int] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.raw = raw  # tokens the tokenizer found in the part (before any filter)
        self._terms: dict[str, list[int]] | None = None

    def terms(self) -> dict[str, list[int]]:
        """Each token text with its positions, in order (made once; never to be changed)."""
        if self._terms is None:
            terms: dict[str, list[int]] = {}
            for text, pos in zip(self.texts, self.poses, strict=True):
                found = terms.get(text)
                if found is None:
                    terms[text] = [pos]
                else:
                    found.append(pos)
            self._terms = terms
        return self._terms


_Plan = list[tuple[_Analysed, int, int, int]]


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
    `PagePositions` (the fields' posting format) takes each word's positions from here
    without a token stream at all.
    """

    def __init__(self, analyzer: CompositeAnalyzer) -> None:
        super().__init__(analyzer)
        self._local = threading.local()
        self._words: dict[str, str] = {}  # raw token -> indexed form, for `_fused`

    @property
    def renumbers(self) -> bool:
        return any(isinstance(f, StopFilter) and f.renumber for f in self.items[1:])

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_local", "_words")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._local = threading.local()
        self._words = {}

    def _cache(self) -> dict[tuple[Any, ...], _Analysed]:
        cache = getattr(self._local, "cache", None)
        if cache is None:
            cache = self._local.cache = {}
        return cache

    @staticmethod
    def _reusable(kwargs: dict[str, Any], no_morph: bool = False) -> bool:
        return not no_morph and kwargs.get("mode") == "index" and _REUSABLE_ARGS.issuperset(kwargs)

    def __call__(self, value, no_morph=False, **kwargs):  # type: ignore[no-untyped-def, override]
        if not self._reusable(kwargs, no_morph):
            return super().__call__(value, no_morph=no_morph, **kwargs)
        flags = (bool(kwargs.get("positions")), bool(kwargs.get("chars")))
        plan = self._plan(value, flags, kwargs)
        if plan is None:
            return super().__call__(str(value), **kwargs)
        return self._replay(kwargs, plan)

    def term_positions(self, value: str, **kwargs: Any) -> dict[str, list[int]] | None:
        """{token text: its positions} as indexing `value` with positions would find them,
        or None when `value` is neither a `PagedText` nor a page analysed just before."""
        kwargs["positions"] = True
        if not self._reusable(kwargs):
            return None
        plan = self._plan(value, (True, bool(kwargs.get("chars"))), kwargs)
        if plan is None:
            return None
        if len(plan) == 1 and not plan[0][1] and not plan[0][3]:
            return plan[0][0].terms()
        merged: dict[str, list[int]] = {}
        for analysed, pshift, _, skip in plan:
            for text, poses in analysed.terms().items():
                if skip:
                    poses = [p for p in poses if p >= skip]
                    if not poses:
                        continue
                if pshift:
                    poses = [p + pshift for p in poses]
                found = merged.get(text)
                if found is None:
                    merged[text] = list(poses)
                else:
                    found.extend(poses)
        return merged

    def _plan(self, value: str, flags: tuple[bool, bool], kwargs: dict[str, Any]) -> _Plan | None:
        """The analysed pages making up `value`, each with its shifts; None to analyse afresh."""
        if isinstance(value, PagedText) and flags[0]:
            return self._paged(value, flags, kwargs)
        hit = self._cache().get((flags, value))
        return None if hit is None else [(hit, 0, 0, 0)]

    def _analyse(self, text: str, part: str, flags: tuple[bool, bool],
                 kwargs: dict[str, Any]) -> _Analysed | None:
        fast = self._fused(text, flags)
        if fast is not None:
            return fast
        out = _Analysed(sum(1 for _ in self.items[0].expression.finditer(part)))
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

    def _fused(self, text: str, flags: tuple[bool, bool]) -> _Analysed | None:
        """The English pipeline (tokenizer, fold, renumbering stop filter, stemmer) as one
        loop without token objects: the same tokens, several times faster. None when this
        analyzer is another pipeline."""
        items = self.items
        if not (flags[0] and len(items) == 4 and type(items[0]) is RegexTokenizer
                and not items[0].gaps and type(items[1]) is FoldFilter
                and type(items[2]) is StopFilter and items[2].renumber
                and type(items[3]) is StemFilter):
            return None
        stops, minsize, maxsize = items[2].stops, items[2].min, items[2].max
        stemmer, ignore = items[3]._stem, items[3].ignore
        words = self._words
        if len(words) > WORD_CACHE_SIZE:
            words.clear()
        chars = flags[1]
        out = _Analysed()
        texts, poses, starts, ends = out.texts, out.poses, out.starts, out.ends
        pos = -1
        raw = -1
        for raw, match in enumerate(items[0].expression.finditer(text)):
            token = match.group()
            word = words.get(token)
            if word is None:
                # what the fold, stop and stem filters make of this token (_DROPPED: nothing)
                word = fold(token)
                if (not word or len(word) < minsize or (maxsize is not None and len(word) > maxsize)
                        or word in stops):
                    word = _DROPPED
                elif word not in ignore:
                    word = stemmer(word)
                words[token] = word
            if word is _DROPPED:
                continue
            pos = raw if pos < 0 else pos + 1  # the stop filter's renumbering
            texts.append(word)
            poses.append(pos)
            if chars:
                starts.append(match.start())
                ends.append(match.end())
        out.raw = raw + 1
        return out

    def _paged(self, value: PagedText, flags: tuple[bool, bool], kwargs: dict[str, Any]) -> _Plan | None:
        head, sep = value.head, value.sep
        renumbers = self.renumbers
        if renumbers and head:
            return None
        head_raw = sum(1 for _ in self.items[0].expression.finditer(head))
        cache: dict[tuple[Any, ...], _Analysed] = {}
        budget = PAGE_CACHE_TOKENS
        plan: _Plan = []
        raw_before = 0  # tokenizer positions of the pages before this one
        offset = 0  # characters of the pages (and separators) before this one
        kept = 0  # tokens yielded by the pages before this one (renumbering)
        base: int | None = None  # position of the first token yielded (renumbering)
        for part in value.parts:
            key = (flags, head + part)
            analysed = cache.get(key)
            if analysed is None:
                analysed = self._analyse(head + part, part, flags, kwargs)
                if analysed is None:
                    return None
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
        return plan

    @staticmethod
    def _replay(kwargs: dict[str, Any], plan: _Plan):  # type: ignore[no-untyped-def]
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


class PagePositions(Positions):
    """Whoosh's positions posting format, taking each word's positions from a
    `PageReuseAnalyzer` when it has them (a `PagedText`, or a page analysed just before)
    instead of from a stream of tokens. What it yields is what `Positions` would yield."""

    def word_values(self, value, analyzer, **kwargs):  # type: ignore[no-untyped-def]
        terms = None
        if isinstance(analyzer, PageReuseAnalyzer) and isinstance(value, str):
            terms = analyzer.term_positions(value, **{**kwargs, "boosts": True})
        if terms is None:
            yield from super().word_values(value, analyzer, **kwargs)
            return
        fb = self.field_boost
        encode = self.encode
        for word, poses in terms.items():
            # Positions sums each token's boost (1.0 at index time) into the weight
            yield (word, len(poses), float(len(poses)) * fb, encode(poses))

    def encode(self, poslist):  # type: ignore[no-untyped-def]
        # Positions.encode's bytes (count, then the pickled gaps), without its Python loop
        deltas = [poslist[0], *map(operator.sub, islice(poslist, 1, None), poslist)] if poslist else []
        return pack_uint(len(deltas)) + pickle.dumps(deltas, 2)
