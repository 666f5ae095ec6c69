"""Query relevance: BM25 counts whole terms only, and identifiers a question names rank first."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from headroom.relevance import BM25, query_identifiers, query_terms, tokenize
from hypothesis import given, settings
from hypothesis import strategies as st


def _repos(samples_dir: Path) -> list[str]:
    body = json.loads((samples_dir / "json" / "Search.testSearchRepos.118.json").read_text())["body"]
    return [json.dumps(item) for item in body["items"]]


def test_a_term_inside_a_longer_word_does_not_count() -> None:
    docs = ['{"node_id": "x1", "name": "alpha"}', '{"id": 7, "name": "beta"}', '{"name": "gamma"}']
    scores = BM25(docs).scores("which id?")
    assert scores[1] > 0 and scores[0] == scores[2] == 0


def test_the_repository_a_question_names_scores_highest(samples_dir: Path) -> None:
    docs = _repos(samples_dir)
    name = json.loads(docs[5])["full_name"]
    best = BM25(docs).top(f"tell me about {name}", 1)
    assert best == [5]


@given(st.lists(st.text(alphabet="abcXYZ019_-./:é ", max_size=40), min_size=1, max_size=6), st.text(max_size=30))
@settings(max_examples=200, deadline=None)
def test_term_counts_match_a_lookaround_definition_of_a_whole_term(docs: list[str], query: str) -> None:
    bm25 = BM25(docs)
    for term in query_terms(query):
        if any(c in term for c in "-./:@#_"):
            continue  # a compound term is also queried by its parts: its score is not its count alone
        whole = re.compile(r"(?<![a-z0-9_])" + re.escape(term) + r"(?![a-z0-9_])")
        assert term[0].isalnum() or term[0] == "_"
        expected = [len(whole.findall(d.lower())) for d in docs]
        single = BM25(docs).scores(term)
        # A term written in every document, even inside longer words, names what all of them are: no score.
        everywhere = len(docs) > 1 and all(term in d.lower() for d in docs)
        assert [s > 0 for s in single] == [c > 0 for c in expected] or everywhere or all(c > 0 for c in expected)
    assert len(bm25.scores(query)) == len(docs)


def test_identifiers_and_their_parts_are_query_terms() -> None:
    assert query_identifiers("what happened with user beaver-user046?") == ["beaver-user046"]
    assert {"beaver-user046", "beaver", "user046"} <= set(tokenize("beaver-user046"))


def test_a_plain_word_finds_its_inflected_form() -> None:
    docs = ["status installed libc-bin", "upgrade libc-bin:amd64", "status unpacked libc6"]
    assert BM25(docs).top("when was libc-bin upgraded?", 1) == [1]


def test_a_phrase_ranks_the_document_that_joins_its_words() -> None:
    docs = ["node-17 action start", "node 18 action start 17", "node-16 status 17"]
    assert BM25(docs).top("what happened to node 17?", 1) == [0]


def test_compound_names_are_identifiers() -> None:
    assert query_identifiers("When was libc-bin upgraded?") == ["libc-bin"]


def _plain_bm25(docs: list[str], query: str, k1: float = 1.2, b: float = 0.75) -> list[float]:
    """BM25 by its definition: every matcher counted in every document."""
    from headroom.question import parse_question

    low = [d.lower() for d in docs]
    lens = [max(len(d) / 5.0, 1.0) for d in low]
    avg = sum(lens) / len(lens)
    out = [0.0] * len(docs)
    for matcher in parse_question(query).matchers:
        tfs = [len(matcher.pattern.findall(d)) for d in low]
        df = sum(1 for f in tfs if f)
        if not df or df == len(docs) or all(matcher.text in d for d in low):
            continue
        idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
        for i, f in enumerate(tfs):
            if f:
                out[i] += idf * f * (k1 + 1) / (f + k1 * (1 - b + b * lens[i] / avg))
    return out


def test_scores_follow_the_definition_for_rare_and_frequent_terms(samples_dir: Path) -> None:
    """Rare terms are counted in one scan of all documents, frequent ones per document: same scores."""
    docs = _repos(samples_dir)
    query = "which repository has the owner login url with python issues forks"
    assert BM25(docs).scores(query) == pytest.approx(_plain_bm25(docs, query))


def test_a_word_written_in_every_document_inside_a_field_name_does_not_count() -> None:
    docs = ['{"filename": "a.py", "patch": "new file"}', '{"filename": "b.py", "patch": "x"}']
    assert BM25(docs).scores("what happened with file b.py?")[0] == 0
