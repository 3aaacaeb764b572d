"""Turns a parsed query tree into Whoosh queries for publications, pages and highlighting."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import islice

from whoosh import query as wq

from .analysis import QUESTION_WORDS, QueryToken, fold, query_tokens, stem_in
from .query import (
    MUST,
    MUST_NOT,
    SHOULD,
    AnyOf,
    Clause,
    Fielded,
    Group,
    Node,
    ParsedQuery,
    Phrase,
    Prefix,
    Word,
    YearRange,
)
from .bm25f import BM25FTerm
from .ranking import Ranking
from .vocabulary import Member, Vocabulary

# (stemmed fields, unstemmed fields) searched by plain words and by each typed field name
ALL_FIELDS = (
    ("title", "subtitle", "abstract", "keywords", "topic_t", "series_t", "body"),
    ("title_u", "abstract_u", "body_u", "names"),
)
FIELD_MAP: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "title": (("title", "subtitle"), ("title_u",)),
    "abstract": (("abstract",), ("abstract_u",)),
    "text": (("body",), ("body_u",)),
    "keyword": (("keywords",), ()),
    "topic": (("topic_t",), ()),
    "series": (("series_t",), ()),
    "author": ((), ("author_t",)),
    "organisation": ((), ("org_t",)),
    "type": ((), ("type_t",)),
}
# fields whose words a reader expects to see highlighted in text and found on pages
TEXTUAL = {None, "title", "abstract", "text", "keyword", "topic"}
PAGE_FIELDS = (("content",), ("content_u",))
PROXIMITY_FIELDS = (("title", "abstract", "body"), ("title_u", "abstract_u", "body_u"))
# fields holding non-English text, stemmed in each document's own language
OTHER_LANGUAGE_FIELDS = frozenset({"title_u", "abstract_u", "body_u", "content_u"})
MAX_PREFIX_TERMS = 200
MIN_WORDS_LEFT = 2  # question words are dropped only if this many subject words remain

Fields = tuple[tuple[str, ...], tuple[str, ...]]


class BoundedPrefix(wq.Prefix):
    """Prefix query expanding to at most MAX_PREFIX_TERMS terms (keeps `pol*` cheap)."""

    def _btexts(self, ixreader):  # type: ignore[no-untyped-def]
        return islice(super()._btexts(ixreader), MAX_PREFIX_TERMS)


@dataclass
class HighlightTerms:
    """What to mark in snippets: English stems, folded words (unstemmed text), prefixes."""

    stems: set[str] = field(default_factory=set)
    folded: set[str] = field(default_factory=set)
    prefixes: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.stems or self.folded or self.prefixes)


@dataclass
class Compiled:
    """Whoosh queries built from one parsed query."""

    match: wq.Query | None  # None: every publication (an empty or negative-only query)
    exclude: wq.Query | None
    boosts: list[wq.Query]
    page_query: wq.Query | None
    highlight: HighlightTerms
    tokens: list[QueryToken]  # content words of the free-text part, in order
    natural: bool

    @property
    def match_all(self) -> bool:
        return self.match is None


class _Builder:
    def __init__(self, ranking: Ranking, natural: bool, only_stops: bool = False,
                 drop: frozenset[str] = frozenset(), vocabulary: Vocabulary | None = None,
                 languages: tuple[str, ...] = ()) -> None:
        self.r = ranking
        self.languages = languages  # non-English languages with a stemmer in the index
        self.vocab = vocabulary if vocabulary is not None and vocabulary.groups else None
        self.natural = natural
        self.only_stops = only_stops  # the whole query is stop words: search them anyway
        self.drop = drop  # question-framing words to ignore in this query
        self.highlight = HighlightTerms()
        self.page_parts: list[wq.Query] = []
        self.sequence: list[QueryToken] = []

    # -- leaves -------------------------------------------------------------------------
    def weight(self, fieldname: str) -> float:
        return self.r.weights.get(fieldname, 1.0)

    def variants(self, folded: str) -> list[str]:
        """A query word as it may be indexed in non-English text: as typed, and stemmed in
        each language of the index that has a stemmer."""
        return list(dict.fromkeys([folded] + [stem_in(lang, folded) for lang in self.languages]))

    def plain_texts(self, f: str, tok: QueryToken) -> list[str]:
        return self.variants(tok.folded) if f in OTHER_LANGUAGE_FIELDS else [tok.folded]

    def term(self, tok: QueryToken, fields: Fields, boost: float = 1.0) -> wq.Query | None:
        stems, plains = fields
        pairs = [(f, tok.stem) for f in stems] + [(f, t) for f in plains for t in self.plain_texts(f, tok)]
        if self.r.bm25f and len(pairs) > 1:
            parts = tuple(
                (f, text, self.weight(f), self.r.field_b.get(f, self.r.b))
                for f, text in pairs
                if self.weight(f) > 0
            )
            return BM25FTerm(parts, self.r.k1, boost=boost) if parts else None
        subs: list[wq.Query] = [wq.Term(f, text, boost=self.weight(f) * boost) for f, text in pairs]
        if not subs:
            return None
        return subs[0] if len(subs) == 1 else wq.Or(subs)

    def phrase(self, toks: list[QueryToken], fields: Fields, slop: int = 1, boost: float = 1.0) -> wq.Query | None:
        if not toks:
            return None
        if len(toks) == 1:
            return self.term(toks[0], fields, boost)
        stems, plains = fields
        subs: list[wq.Query] = [
            wq.Phrase(f, [t.stem for t in toks], slop=slop, boost=self.weight(f) * boost) for f in stems
        ]
        for f in plains:
            langs: tuple[str, ...] = ("",) + (self.languages if f in OTHER_LANGUAGE_FIELDS else ())
            words = dict.fromkeys(tuple(stem_in(lang, t.folded) for t in toks) for lang in langs)
            subs += [wq.Phrase(f, list(w), slop=slop, boost=self.weight(f) * boost) for w in words]
        if not subs:
            return None
        return subs[0] if len(subs) == 1 else wq.Or(subs)

    def prefix(self, text: str, fields: Fields) -> wq.Query | None:
        p = fold(text)
        if len(p) < 3:
            return None
        subs: list[wq.Query] = [BoundedPrefix(f, p) for group in fields for f in group]
        return wq.Or(subs) if len(subs) > 1 else (subs[0] if subs else None)

    def note_positive(self, toks: list[QueryToken], fieldname: str | None, phrase: bool) -> None:
        if fieldname not in TEXTUAL or not toks:
            return
        for t in toks:
            self.highlight.stems.add(t.stem)
            self.highlight.folded.update(self.variants(t.folded))
        if phrase and len(toks) > 1:
            self.page_parts.append(self.phrase(toks, PAGE_FIELDS))  # type: ignore[arg-type]
        else:
            for t in toks:
                self.page_parts.append(self.term(t, PAGE_FIELDS))  # type: ignore[arg-type]

    # -- nodes --------------------------------------------------------------------------
    def tokens_of(self, text: str, top_level: bool) -> list[QueryToken]:
        toks = query_tokens(text)
        content = [t for t in toks if not t.stop]
        if top_level and self.drop:
            content = [t for t in content if t.folded not in self.drop]
        return content or (toks if self.only_stops else [])

    def node(self, node: Node, occur: str, fieldname: str | None = None, top: bool = False) -> list[wq.Query]:
        """Queries for one node. SHOULD words may expand into several independent queries."""
        positive = occur != MUST_NOT
        fields = FIELD_MAP.get(fieldname, ALL_FIELDS) if fieldname else ALL_FIELDS
        if isinstance(node, Word):
            if fieldname == "language":
                v = fold(node.text.strip())
                return [wq.Term("language", v)] if v else []
            toks = self.tokens_of(node.text, top)
            if not toks:
                return []
            if positive:
                self.note_positive(toks, fieldname, phrase=False)
            if top and occur == SHOULD and fieldname is None:
                self.sequence.extend(toks)
                return [q for q in (self.term(t, fields) for t in toks) if q is not None]
            if occur == SHOULD or len(toks) == 1:
                qs = [q for q in (self.term(t, fields) for t in toks) if q is not None]
                if len(toks) == 1 and qs and fieldname is None and self.vocab is not None:
                    alts = self.member_queries(self.vocab.alternatives((toks[0].stem,)), positive)
                    if alts:
                        return [wq.Or(qs + alts)]
                return [wq.Or(qs)] if len(qs) > 1 else qs
            q = self.phrase(toks, fields)
            return [q] if q is not None else []
        if isinstance(node, Phrase):
            toks = [t for t in query_tokens(node.text) if not t.stop] or (
                query_tokens(node.text) if self.only_stops else []
            )
            if not toks:
                return []
            if positive:
                self.note_positive(toks, fieldname, phrase=True)
            q = self.phrase(toks, fields)
            return [q] if q is not None else []
        if isinstance(node, Prefix):
            if positive and fieldname in TEXTUAL:
                self.highlight.prefixes.add(fold(node.text))
                pq = self.prefix(node.text, PAGE_FIELDS)
                if pq is not None:
                    self.page_parts.append(pq)
            q = self.prefix(node.text, fields)
            return [q] if q is not None else []
        if isinstance(node, YearRange):
            return [wq.NumericRange("year", node.start, node.end, constantscore=True)]
        if isinstance(node, Fielded):
            return self.node(node.node, occur, node.field)
        if isinstance(node, AnyOf):
            qs = [q for n in node.nodes for q in self.node(n, occur, fieldname)]
            return [wq.Or(qs)] if len(qs) > 1 else qs
        if isinstance(node, Group):
            match, exclude = self.group(node)
            if match is None and exclude is None:
                return []
            if match is None:
                return [wq.AndNot(wq.Every(), exclude)]  # type: ignore[arg-type]
            return [wq.AndNot(match, exclude) if exclude is not None else match]
        return []

    def group(self, group: Group, top: bool = False) -> tuple[wq.Query | None, wq.Query | None]:
        musts: list[wq.Query] = []
        shoulds: list[wq.Query] = []
        nots: list[wq.Query] = []
        for clause in group.clauses:
            qs = self.node(clause.node, clause.occur, top=top)
            if clause.occur == MUST:
                musts.extend(qs)
            elif clause.occur == MUST_NOT:
                nots.extend(qs)
            else:
                shoulds.extend(qs)
        if top:
            shoulds = self.merge_repeats(shoulds) + self.synonyms()
        match: wq.Query | None
        if musts:
            match = musts[0] if len(musts) == 1 else wq.And(musts)
            if shoulds:
                match = wq.AndMaybe(match, shoulds[0] if len(shoulds) == 1 else wq.Or(shoulds))
        elif shoulds:
            match = shoulds[0] if len(shoulds) == 1 else wq.Or(shoulds)
        else:
            match = None
        exclude = (nots[0] if len(nots) == 1 else wq.Or(nots)) if nots else None
        return match, exclude

    def synonyms(self) -> list[wq.Query]:
        """Optional queries for the other names of words and phrases in the reader's text.

        The longest run of query words naming a vocabulary member wins ("general
        practitioner" before "general"); each other member of its group is searched as a
        word or phrase at `synonym_weight`.
        """
        if self.vocab is None or not self.sequence:
            return []
        seq, out, i = self.sequence, [], 0
        longest = self.vocab.longest
        while i < len(seq):
            for n in range(min(longest, len(seq) - i), 0, -1):
                alts = self.vocab.alternatives(tuple(t.stem for t in seq[i : i + n]))
                if alts:
                    out.extend(self.member_queries(alts, True))
                    i += n
                    break
            else:
                i += 1
        return out

    def member_queries(self, members: list[Member], positive: bool) -> list[wq.Query]:
        out: list[wq.Query] = []
        for m in members:
            toks = [t for t in query_tokens(m.text) if not t.stop] or query_tokens(m.text)
            q = self.phrase(toks, ALL_FIELDS, boost=self.r.synonym_weight)
            if q is None:
                continue
            out.append(q)
            if positive:
                self.note_positive(toks, None, phrase=True)
        return out

    def merge_repeats(self, queries: list[wq.Query]) -> list[wq.Query]:
        """A word typed twice counts more, but with diminishing weight."""
        counts = Counter(queries)
        out: list[wq.Query] = []
        for q in queries:
            n = counts.pop(q, 0)
            if not n:
                continue
            if n > 1:
                q = q.copy()
                q.boost = q.boost * (1.0 + self.r.repeat_weight * (n - 1))
            out.append(q)
        return out

    def proximity(self) -> list[wq.Query]:
        seq = self.sequence
        out: list[wq.Query] = []
        if self.r.pair_weight <= 0 and self.r.window_weight <= 0:
            return out
        pairs = list(dict.fromkeys((a, b) for a, b in zip(seq, seq[1:], strict=False) if a != b))
        for a, b in pairs[: self.r.max_pairs]:
            if self.r.pair_weight > 0:
                q = self.phrase([a, b], PROXIMITY_FIELDS, slop=self.r.pair_slop, boost=self.r.pair_weight)
                if q is not None:
                    out.append(q)
            if self.r.window_weight > 0:
                q = self.phrase([a, b], PROXIMITY_FIELDS, slop=self.r.window_slop, boost=self.r.window_weight)
                if q is not None:
                    out.append(q)
        return out


def compile_query(parsed: ParsedQuery, ranking: Ranking, vocabulary: Vocabulary | None = None,
                  languages: tuple[str, ...] = ()) -> Compiled:
    """Build the Whoosh queries for a parsed query (expanding synonyms from `vocabulary`;
    `languages` are the non-English languages with a stemmer present in the index)."""
    natural = not parsed.expert
    all_tokens = query_tokens(parsed.text)
    only_stops = all(t.stop for t in all_tokens)
    drop: frozenset[str] = frozenset()
    if natural:
        strong = {t.folded for t in all_tokens if not t.stop and t.folded not in QUESTION_WORDS}
        if len(strong) >= MIN_WORDS_LEFT:
            drop = QUESTION_WORDS
    b = _Builder(ranking, natural, only_stops, drop, vocabulary, languages)
    match, exclude = b.group(parsed.root, top=True)
    pages = [p for p in b.page_parts if p is not None]
    page_query = None
    if pages:
        page_query = pages[0] if len(pages) == 1 else wq.Or(list(dict.fromkeys(pages)))
    tokens = list(dict.fromkeys(b.sequence))
    return Compiled(
        match=match,
        exclude=exclude,
        boosts=b.proximity() if len(tokens) > 1 else [],
        page_query=page_query,
        highlight=b.highlight,
        tokens=tokens,
        natural=natural,
    )


def expansion_query(terms: list[tuple[str, float]], ranking: Ranking) -> wq.Query | None:
    """Optional query adding feedback terms (English stems with weights) to the score."""
    if not terms:
        return None
    b = _Builder(ranking, True)
    fields = (("title", "abstract", "body"), ())
    subs = []
    for stem_text, w in terms:
        tok = QueryToken(stem_text, stem_text, stem_text, False)
        q = b.term(tok, fields, boost=w)
        if q is not None:
            subs.append(q)
    return wq.Or(subs) if subs else None


__all__ = ["Clause", "Compiled", "HighlightTerms", "compile_query", "expansion_query"]
