"""Text analysis: tokenising, Unicode/accent folding, stop words and English stemming."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from whoosh.analysis import Filter, RegexTokenizer, StemFilter, StopFilter
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
    return (
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


def mark_language(language: str, text: str) -> str:
    """Prefix `text` with the language mark when the language has a stemmer."""
    if not text or language_stemmer(language) is None:
        return text
    return f"{LANGUAGE_MARK}{language.strip().lower().split('-')[0]} {text}"


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
    return RegexTokenizer(TOKEN_PATTERN) | FoldFilter() | LanguageStemFilter()


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
