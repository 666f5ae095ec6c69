"""Query relevance without a model: BM25 over word tokens, plus exact-identifier matches.

Used by every compressor to keep what the user's question names. Identifiers (numbers, hashes,
names with digits or punctuation) matter more than words in tool outputs, so a document that
contains a query identifier verbatim always ranks as relevant.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence

__all__ = ["BM25", "query_identifiers", "query_terms", "tokenize"]

_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-./:@#]*[A-Za-z0-9_]|[A-Za-z0-9_]")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "did",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "not",
        "of",
        "on",
        "or",
        "show",
        "tell",
        "that",
        "the",
        "their",
        "them",
        "there",
        "these",
        "this",
        "those",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
        "you",
        "your",
        "find",
        "list",
        "give",
        "get",
        "all",
        "any",
        "about",
        "please",
    ]
)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens; compound identifiers also yield their parts."""
    out: list[str] = []
    for m in _WORD.finditer(text.lower()):
        tok = m.group(0)
        out.append(tok)
        if len(tok) > 2 and any(c in tok for c in "-./:@#_"):
            out.extend(p for p in re.split(r"[-./:@#_]+", tok) if p and p != tok)
    return out


def query_terms(query: str) -> list[str]:
    """The query's content words (stop words removed, order kept, no repeats)."""
    return list(_query_terms(query))


@functools.lru_cache(maxsize=256)
def _query_terms(query: str) -> tuple[str, ...]:
    # One question is parsed by every compressor of every tool output it led to: remember it.
    seen: dict[str, None] = {}
    for tok in tokenize(query):
        if tok not in _STOP and len(tok) > 1:
            seen.setdefault(tok, None)
    return tuple(seen)


def query_identifiers(query: str) -> list[str]:
    """Tokens of the query that look like identifiers (contain a digit, or are quoted)."""
    return list(_query_identifiers(query))


@functools.lru_cache(maxsize=256)
def _query_identifiers(query: str) -> tuple[str, ...]:
    ids: dict[str, None] = {}
    for quoted in re.findall(r"[\"'`]([^\"'`]{3,200})[\"'`]", query):
        ids.setdefault(quoted, None)
    for m in re.finditer(r"[A-Za-z0-9_][A-Za-z0-9_\-./:@#]*", query):
        tok = m.group(0).rstrip(".:")
        if len(tok) >= 3 and any(c.isdigit() for c in tok):
            ids.setdefault(tok, None)
    return tuple(ids)


class BM25:
    """Okapi BM25 of a query over a fixed list of documents.

    Term frequencies are counted per query term with one C-level regex scan per document, so
    scoring costs O(query terms x bytes) and no per-document tokenisation: fast enough to run
    on every tool output. Document length is measured in characters / 5 (a word-length proxy).
    """

    def __init__(self, documents: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._docs = [d.lower() for d in documents]
        self._lens = [max(len(d) / 5.0, 1.0) for d in self._docs]
        self._avg = (sum(self._lens) / len(self._lens)) if self._lens else 1.0
        self._containing: dict[str, list[bool]] = {}

    @property
    def lowered_documents(self) -> list[str]:
        """The documents, lower-cased (shared with callers that match identifiers)."""
        return self._docs

    def containing(self, text: str) -> list[bool]:
        """Per document: does it contain ``text`` (lower-case) anywhere? Remembered per text."""
        found = self._containing.get(text)
        if found is None:
            found = self._containing[text] = [text in d for d in self._docs]
        return found

    def scores(self, query: str) -> list[float]:
        """One score per document (0 when nothing of the query occurs)."""
        terms = query_terms(query)
        n = len(self._docs)
        if not terms or not n:
            return [0.0] * n
        out = [0.0] * n
        for term in terms:
            present = self.containing(term)
            if not any(present) or (n > 1 and all(present)):
                continue  # absent, or in every document: it cannot tell documents apart
            # Terms start and end with a word character, so ASCII word boundaries delimit them
            # exactly (and let the regex engine scan for the literal fast).
            pattern = re.compile(r"\b" + re.escape(term) + r"\b", re.ASCII)
            tfs = [len(pattern.findall(d)) if p else 0 for d, p in zip(self._docs, present)]
            df = sum(1 for f in tfs if f)
            if not df:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            for i, f in enumerate(tfs):
                if f:
                    norm = self.k1 * (1 - self.b + self.b * self._lens[i] / self._avg)
                    out[i] += idf * f * (self.k1 + 1) / (f + norm)
        return out

    def top(self, query: str, k: int, min_score: float = 0.0) -> list[int]:
        """Indices of the ``k`` best documents scoring above ``min_score``, best first."""
        scored = [(s, i) for i, s in enumerate(self.scores(query)) if s > min_score]
        scored.sort(key=lambda x: (-x[0], x[1]))
        return [i for _, i in scored[:k]]
