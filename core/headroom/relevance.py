"""Query relevance without a model: BM25 over word tokens, plus exact-identifier matches.

Used by every compressor to keep what the user's question names. Identifiers (numbers, hashes,
names with digits or punctuation) matter more than words in tool outputs, so a document that
contains a query identifier verbatim always ranks as relevant.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["BM25", "query_terms", "query_identifiers", "tokenize"]

_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-./:@#]*[A-Za-z0-9_]|[A-Za-z0-9_]")
_STOP = frozenset(
    "a an and are as at be by can did do does for from has have how i in is it its me my not of on or "
    "show tell that the their them there these this those to was were what when where which who why "
    "with you your find list give get all any about please".split()
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
    seen: dict[str, None] = {}
    for tok in tokenize(query):
        if tok not in _STOP and len(tok) > 1:
            seen.setdefault(tok, None)
    return list(seen)


def query_identifiers(query: str) -> list[str]:
    """Tokens of the query that look like identifiers (contain a digit, or are quoted)."""
    ids: dict[str, None] = {}
    for quoted in re.findall(r"[\"'`]([^\"'`]{3,200})[\"'`]", query):
        ids.setdefault(quoted, None)
    for m in re.finditer(r"[A-Za-z0-9_][A-Za-z0-9_\-./:@#]*", query):
        tok = m.group(0).rstrip(".:")
        if len(tok) >= 3 and any(c.isdigit() for c in tok):
            ids.setdefault(tok, None)
    return list(ids)


class BM25:
    """Okapi BM25 over a fixed list of documents."""

    def __init__(self, documents: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._tfs = [Counter(tokenize(d)) for d in documents]
        self._lens = [sum(tf.values()) for tf in self._tfs]
        self._avg = (sum(self._lens) / len(self._lens)) if self._lens else 0.0
        df: Counter[str] = Counter()
        for tf in self._tfs:
            df.update(tf.keys())
        n = len(self._tfs)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def scores(self, query: str) -> list[float]:
        """One score per document (0 when nothing of the query occurs)."""
        terms = query_terms(query)
        if not terms or not self._tfs:
            return [0.0] * len(self._tfs)
        out = []
        for tf, length in zip(self._tfs, self._lens):
            s = 0.0
            norm = self.k1 * (1 - self.b + self.b * (length / self._avg if self._avg else 0))
            for t in terms:
                f = tf.get(t)
                if f:
                    s += self._idf[t] * f * (self.k1 + 1) / (f + norm)
            out.append(s)
        return out

    def top(self, query: str, k: int, min_score: float = 0.0) -> list[int]:
        """Indices of the ``k`` best documents scoring above ``min_score``, best first."""
        scored = [(s, i) for i, s in enumerate(self.scores(query)) if s > min_score]
        scored.sort(key=lambda x: (-x[0], x[1]))
        return [i for _, i in scored[:k]]
