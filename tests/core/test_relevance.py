"""Query relevance: BM25 counts whole terms only, and identifiers a question names rank first."""

from __future__ import annotations

import json
import re
from pathlib import Path

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
        assert [s > 0 for s in single] == [c > 0 for c in expected] or all(c > 0 for c in expected)
    assert len(bm25.scores(query)) == len(docs)


def test_identifiers_and_their_parts_are_query_terms() -> None:
    assert query_identifiers("what happened with user beaver-user046?") == ["beaver-user046"]
    assert {"beaver-user046", "beaver", "user046"} <= set(tokenize("beaver-user046"))
