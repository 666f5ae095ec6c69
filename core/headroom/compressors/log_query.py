"""Which lines of a log the question names: the log compressor keeps them verbatim.

A question reaches a log in the words its user typed. Three kinds of lines answer it, tried
in this order:

1. **Pasted lines.** A line the question contains whole, quoted or not ("what caused this?
   Dec 10 06:55:48 LabSZ sshd[24200]: Failed password ..."). The pasted text is then taken
   out of the question: its dates and pids would otherwise name hundreds of unrelated lines.
2. **Named lines.** Lines holding quoted text, an identifier (``libc-bin``, ``dn228``, an IP)
   or a phrase of the question (``node 17`` as ``node-17``; ``data source``). They are ranked
   by how much of the rest of the question they also hold, each word weighted by its rarity
   in the log (``upgrade libc-bin`` ranks above ``status installed libc-bin`` for "when was
   libc-bin upgraded?"), and kept best first up to a budget; the rest is counted per name.
3. **Lines of the rarest words.** When nothing is named that way ("any errors from gmetad?"),
   lines are scored by the question's words they hold in any form, weighted by rarity, and a
   question about errors, failures or warnings counts the log's problem lines as holding
   that word. The best-scoring lines are kept, one per shape, down to half the best score.

Words found in more than half of the lines tell nothing apart and are ignored. Every scan is
one pass of a literal-first pattern over the lower-cased log (see :mod:`headroom.question`);
match positions are turned into line numbers by bisection, so the cost is one C-level scan
per word plus a little per matching line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from headroom.compressors.log_templates import mask_text, shape_key
from headroom.question import QUOTED, Question, parse_question
from headroom.relevance import LineIndex

__all__ = ["QueryLines", "query_lines"]

_MIN_PASTED = 12
_WORD_FLOOR = 0.5
"""Lines chosen by words alone score at least this share of the best line's score."""


@dataclass(frozen=True)
class QueryLines:
    """The lines a question names, by kind (0-based line numbers)."""

    pasted: tuple[int, ...] = ()
    named: tuple[int, ...] = ()
    """Lines naming quoted text, an identifier or a phrase; best first, at most the budget."""
    overflow: tuple[tuple[str, int], ...] = ()
    """(name, lines naming it that were not kept) for names with more lines than the budget."""
    by_words: tuple[int, ...] = ()
    """When nothing is named: lines holding the rarest combination of the question's words."""
    found: dict[str, list[int]] = field(default_factory=dict, compare=False)
    """Lines holding each name or word of the question (for diagnostics and tests)."""

    @property
    def lines(self) -> set[int]:
        """Every line kept for the question."""
        return {*self.pasted, *self.named, *self.by_words}


def _idf(n: int, df: int) -> float:
    return math.log(1 + n / df)


def query_lines(
    lines: Sequence[str],
    low: str,
    query: str,
    *,
    budget: int,
    problem_lines: Callable[[], Collection[int]] | None = None,
) -> QueryLines:
    """The lines of a log that ``query`` names (see the module documentation).

    ``lines`` are the log's lines and ``low`` its text lower-cased (line ``i`` of ``low`` is
    ``lines[i]`` lower-cased); ``budget`` caps named lines and lines chosen by words each;
    ``problem_lines`` gives the lines reporting a problem, asked for only when the question
    asks about errors, failures or warnings.
    """
    if not query.strip():
        return QueryLines()
    pasted: list[int] = []
    rest = query
    if len(query) >= _MIN_PASTED:
        for i, line in enumerate(lines):
            s = line.strip()
            if len(s) >= _MIN_PASTED and s in query:
                pasted.append(i)
                rest = rest.replace(s, " ")
    quoted = [q for q in dict.fromkeys(QUOTED.findall(rest)) if len(q.strip()) >= 3]
    question = parse_question(QUOTED.sub(" ", rest))
    if not quoted and not question:
        return QueryLines(pasted=tuple(pasted))
    log = LineIndex(low)
    n = len(lines)
    found: dict[str, list[int]] = {}
    named_hits: dict[str, list[int]] = {}
    for name in dict.fromkeys([*quoted, *question.identifiers]):
        hits = log.lines_with_text(name.lower())
        found[name] = hits
        if hits:
            named_hits[name] = hits
    for phrase in question.phrases:
        hits = log.lines_matching(phrase.pattern)
        found[phrase.text] = hits
        if hits:
            named_hits[phrase.text] = hits
    scores: dict[int, float] = {}
    for lines_with, weight in _word_weights(log, question, n, found, problem_lines):
        for i in lines_with:
            scores[i] = scores.get(i, 0.0) + weight
    if named_hits:
        named, overflow = _best_named(named_hits, scores, n, budget)
        return QueryLines(tuple(pasted), named, overflow, (), found)
    return QueryLines(tuple(pasted), (), (), _best_by_words(lines, scores, budget), found)


def _word_weights(
    log: LineIndex,
    question: Question,
    n: int,
    found: dict[str, list[int]],
    problem_lines: Callable[[], Collection[int]] | None,
) -> list[tuple[list[int] | Collection[int], float]]:
    """(lines holding it, weight) for every selective word of the question (and for "problems")."""
    weighted: list[tuple[list[int] | Collection[int], float]] = []
    for word in question.words:
        hits = log.lines_matching(word.pattern)
        found[word.text] = hits
        if hits and len(hits) * 2 <= n:
            weighted.append((hits, _idf(n, len(hits))))
    if question.asks_for_problems and problem_lines is not None:
        problems = problem_lines()
        if problems and len(problems) * 2 <= n:
            weighted.append((problems, _idf(n, len(problems))))
    return weighted


def _best_named(
    named_hits: dict[str, list[int]], scores: dict[int, float], n: int, budget: int
) -> tuple[tuple[int, ...], tuple[tuple[str, int], ...]]:
    """Named lines best first (by rarity of their names plus the question's other words), up to ``budget``."""
    rank: dict[int, float] = {}
    for hits in named_hits.values():
        weight = _idf(n, len(hits))
        for i in hits:
            rank[i] = rank.get(i, 0.0) + weight
    ordered = sorted(rank, key=lambda i: (-(rank[i] + scores.get(i, 0.0)), i))
    kept = ordered[: max(budget, 0)]
    chosen = set(kept)
    overflow = tuple(
        (name, missed) for name, hits in named_hits.items() if (missed := sum(1 for i in hits if i not in chosen))
    )
    return tuple(kept), overflow


def _best_by_words(lines: Sequence[str], scores: dict[int, float], budget: int) -> tuple[int, ...]:
    """The best-scoring lines, one per shape, down to :data:`_WORD_FLOOR` of the best score."""
    if not scores or budget <= 0:
        return ()
    best = max(scores.values())
    kept: list[int] = []
    shapes: set[str] = set()
    for i in sorted(scores, key=lambda i: (-scores[i], i)):
        if scores[i] < best * _WORD_FLOOR or len(kept) >= budget:
            break
        shape = shape_key(mask_text(lines[i]))
        if shape not in shapes:
            shapes.add(shape)
            kept.append(i)
    return tuple(kept)
