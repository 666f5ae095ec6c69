"""Questions typed in plain words: what they name, and the word forms that find it."""

from __future__ import annotations

import re

from headroom.question import STOP_WORDS, parse_question, word_forms_pattern
from hypothesis import given, settings
from hypothesis import strategies as st


def matches(word: str, text: str) -> list[str]:
    return word_forms_pattern(word).findall(text.lower())


def test_a_compound_name_is_an_identifier_without_quotes() -> None:
    assert "libc-bin" in parse_question("When was libc-bin upgraded?").identifiers


def test_a_word_with_an_inner_capital_is_an_identifier() -> None:
    assert "AudioManager" in parse_question("why did AudioManager complain?").identifiers


def test_an_apostrophe_does_not_open_a_quotation() -> None:
    assert parse_question("What's wrong with dn228's disk?").identifiers == ("dn228",)


def test_quoted_text_is_an_identifier_whole() -> None:
    assert "data source name" in parse_question('why "data source name" errors?').identifiers


def test_adjacent_content_words_form_a_phrase() -> None:
    phrases = [m.text for m in parse_question("what happened to node 17?").phrases]
    assert phrases == ["node 17"]


def test_a_phrase_matches_however_a_tool_joins_its_words() -> None:
    phrase = parse_question("what happened to node 17?").phrases[0]
    text = "node-17 up; node17 down; node_17; node 17; node 170; anode 17"
    assert phrase.pattern.findall(text) == ["node-17", "node17", "node_17", "node 17"]


def test_a_phrase_of_words_needs_a_separator() -> None:
    phrase = parse_question("which data source failed?").phrases[0]
    assert phrase.text == "data source"
    assert phrase.pattern.findall("data source name; data_source; datasource") == ["data source", "data_source"]


def test_inflected_forms_of_a_question_word_match() -> None:
    assert matches("upgraded", "upgrade libc-bin; upgrades; upgrading; upgrader") == [
        "upgrade",
        "upgrades",
        "upgrading",
        "upgrader",
    ]
    assert matches("failed", "Failure: x failed, fails") == ["failure", "failed", "fails"]
    assert matches("errors", "error, errors") == ["error", "errors"]
    assert matches("denied", "deny denied denies") == ["deny", "denied", "denies"]
    assert matches("stopped", "stop stops stopped stopping") == ["stop", "stops", "stopped", "stopping"]


def test_a_word_inside_another_word_does_not_match() -> None:
    assert matches("id", "node_id, idle, id") == ["id"]
    assert matches("log", "syslog login logs") == ["logs"]


def test_words_with_digits_or_punctuation_match_only_as_written() -> None:
    assert matches("libc-bin", "libc-bin:amd64 libc-bins libc-binx") == ["libc-bin"]
    assert matches("17", "node-17 170 17s") == ["17"]


def test_question_fillers_are_not_terms() -> None:
    q = parse_question("What happened around this log line, and what went wrong?")
    assert q.terms == ()
    assert not q


def test_a_question_about_errors_asks_for_problems() -> None:
    assert parse_question("any errors from gmetad?").asks_for_problems
    assert parse_question("did anything fail?").asks_for_problems
    assert not parse_question("when was libc-bin upgraded?").asks_for_problems


def test_parsing_is_remembered_per_question() -> None:
    assert parse_question("when was libc-bin upgraded?") is parse_question("when was libc-bin upgraded?")


_WORDS = st.text(alphabet="abcdefgilnoprstuy", min_size=1, max_size=9)


@given(_WORDS, st.lists(st.text(alphabet="abcdefgilnoprstuy_9- .", max_size=12), max_size=8))
@settings(max_examples=300, deadline=None)
def test_the_literal_first_pattern_finds_exactly_the_whole_words_that_are_forms(word: str, texts: list[str]) -> None:
    """The fast pattern against its plain definition: a whole word equal to the stem plus an allowed ending."""
    from headroom.question import _stem

    text = " ".join(texts)
    stem, endings = _stem(word)
    forms = {stem + e for e in endings}
    expected = [w for w in re.split(r"[^a-z0-9_]+", text) if w in forms]
    assert word_forms_pattern(word).findall(text) == expected


def test_stop_words_are_lower_case_words() -> None:
    assert all(w.islower() and w.isalpha() for w in STOP_WORDS)
