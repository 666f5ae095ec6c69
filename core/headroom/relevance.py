"""Query relevance without a model: BM25 over word forms and phrases, plus exact-identifier matches.

Used by every compressor to keep what the user's question names. The question is parsed once
(:mod:`headroom.question`): its content words match in their inflected forms ("upgraded" finds
"upgrade"), adjacent words match as one name however the output joins them ("node 17" finds
"node-17"), and identifiers (numbers, hashes, quoted text, compound names such as ``libc-bin``)
are matched verbatim by the callers, so a document that contains one always ranks as relevant.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence

from headroom.question import WORD, parse_question

__all__ = ["BM25", "LineIndex", "query_identifiers", "query_terms", "tokenize"]

_COMPOUND_SPLIT = re.compile(r"[-./:@#_]+")
_SEPARATOR = "\x00"
"""Joins the documents into one text scanned once per term; no term contains it."""


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens; compound identifiers also yield their parts."""
    out: list[str] = []
    for m in WORD.finditer(text.lower()):
        tok = m.group(0)
        out.append(tok)
        if len(tok) > 2 and any(c in tok for c in "-./:@#_"):
            out.extend(p for p in _COMPOUND_SPLIT.split(tok) if p and p != tok)
    return out


def query_terms(query: str) -> list[str]:
    """The query's content words (stop words removed, order kept, no repeats)."""
    return list(parse_question(query).terms)


def query_identifiers(query: str) -> list[str]:
    """Text of the query that names one thing, to be found verbatim.

    Quoted text, tokens holding a digit (ids, IPs, versions), compound names joined by
    ``- _ . / : @`` (``libc-bin``, ``src/github/Issue.py``) and words with an inner capital
    (``AudioManager``).
    """
    return list(parse_question(query).identifiers)


class BM25:
    """Okapi BM25 of a query over a fixed list of documents.

    Each term of the question (and each phrase) is one compiled pattern that starts with a
    literal, so finding it is a C-level substring search: the documents are joined once and
    scanned once per term; a term found nowhere costs that one scan, a rare term a few
    look-ups of which document each match falls in. Document length is measured in
    characters / 5 (a word-length proxy).
    """

    def __init__(self, documents: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._docs = [d.lower() for d in documents]
        self._lens = [max(len(d) / 5.0, 1.0) for d in self._docs]
        self._avg = (sum(self._lens) / len(self._lens)) if self._lens else 1.0
        self._joined = _SEPARATOR.join(self._docs)
        self._starts: list[int] | None = None
        self._containing: dict[str, list[bool]] = {}

    @property
    def lowered_documents(self) -> list[str]:
        """The documents, lower-cased (shared with callers that match identifiers)."""
        return self._docs

    def containing(self, text: str) -> list[bool]:
        """Per document: does it contain ``text`` (lower-case) anywhere? Remembered per text."""
        found = self._containing.get(text)
        if found is None:
            found = [text in d for d in self._docs] if text in self._joined else [False] * len(self._docs)
            self._containing[text] = found
        return found

    def _doc_starts(self) -> list[int]:
        if self._starts is None:
            starts, at = [], 0
            for d in self._docs:
                starts.append(at)
                at += len(d) + 1
            self._starts = starts
        return self._starts

    def _term_counts(self, pattern: re.Pattern[str]) -> dict[int, int]:
        """Document index -> number of matches of ``pattern`` (only documents with any).

        One scan of the joined documents, mapping each match to its document; a term with
        very many matches is counted per document instead (one C call each), which is cheaper
        than a Python step per match.
        """
        counts: dict[int, int] = {}
        limit = max(2 * len(self._docs), 256)
        for seen, m in enumerate(pattern.finditer(self._joined), 1):
            if seen > limit:
                break
            i = bisect.bisect_right(self._doc_starts(), m.start()) - 1
            counts[i] = counts.get(i, 0) + 1
        else:
            return counts
        counts = {}
        for i, d in enumerate(self._docs):
            f = len(pattern.findall(d))
            if f:
                counts[i] = f
        return counts

    def scores(self, query: str) -> list[float]:
        """One score per document (0 when nothing of the query occurs)."""
        matchers = parse_question(query).matchers
        n = len(self._docs)
        if not matchers or not n:
            return [0.0] * n
        out = [0.0] * n
        absent: set[str] = set()
        docs = self._docs
        for matcher in matchers:
            if not absent.isdisjoint(matcher.needs_words):
                continue  # a phrase one of whose words occurs nowhere cannot occur either
            if n > 1 and all(matcher.text in d for d in docs):
                # Written in every document, as a word or inside a longer one (a field name such
                # as "filename" holds "file"): it names what every document is, not one of them.
                continue
            tfs = self._term_counts(matcher.pattern)
            if not tfs:
                absent.add(matcher.text)
            df = len(tfs)
            if not df or (n > 1 and df == n):
                continue  # absent, or in every document: it cannot tell documents apart
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            for i, f in tfs.items():
                norm = self.k1 * (1 - self.b + self.b * self._lens[i] / self._avg)
                out[i] += idf * f * (self.k1 + 1) / (f + norm)
        return out

    def top(self, query: str, k: int, min_score: float = 0.0) -> list[int]:
        """Indices of the ``k`` best documents scoring above ``min_score``, best first."""
        scored = [(s, i) for i, s in enumerate(self.scores(query)) if s > min_score]
        scored.sort(key=lambda x: (-x[0], x[1]))
        return [i for _, i in scored[:k]]


class LineIndex:
    """A lower-cased text and where its lines start: which lines hold a text or match a pattern.

    Each lookup is one C-level scan of the whole text (``str.find`` or a literal-first pattern
    of :mod:`headroom.question`); match positions become line numbers by bisection, so the
    cost is the scan plus a little per matching line, however many lines the text has.
    Lines are those of ``str.splitlines``.
    """

    def __init__(self, low: str) -> None:
        self.low = low
        starts, at = [], 0
        for line in low.splitlines(keepends=True):
            starts.append(at)
            at += len(line)
        self.starts = starts

    def line_of(self, position: int) -> int:
        """The 0-based line holding character ``position``."""
        return bisect.bisect_right(self.starts, position) - 1

    def lines_with_text(self, needle: str) -> list[int]:
        """Lines containing ``needle`` (lower case) anywhere, in order; one ``find`` per line hit."""
        out: list[int] = []
        low, starts = self.low, self.starts
        at = low.find(needle) if needle else -1
        while at != -1:
            i = self.line_of(at)
            out.append(i)
            if i + 1 >= len(starts):
                break
            at = low.find(needle, starts[i + 1])
        return out

    def lines_matching(self, pattern: re.Pattern[str]) -> list[int]:
        """Lines where ``pattern`` matches, in order, each once."""
        out: list[int] = []
        last = -1
        for m in pattern.finditer(self.low):
            i = self.line_of(m.start())
            if i != last:
                out.append(i)
                last = i
        return out
