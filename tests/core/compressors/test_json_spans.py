"""Parsing with item texts gives exactly what json.loads gives, plus each item's source text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from headroom.compressors.json_spans import parse_with_item_texts
from hypothesis import given, settings
from hypothesis import strategies as st

SAMPLES = Path(__file__).resolve().parents[3] / "core/headroom/samples/json"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_real_responses_parse_like_json_loads(path: Path) -> None:
    body = json.loads(path.read_text())["body"]
    for text in (json.dumps(body), json.dumps(body, indent=2), json.dumps(body, ensure_ascii=False)):
        data, texts = parse_with_item_texts(text)
        assert data == body
        for key, items in texts.items():
            array = data if key == () else data[key[0]]
            assert [json.loads(t) for t in items] == array


@given(json_values, st.sampled_from([None, 0, 2]))
@settings(max_examples=150, deadline=None)
def test_any_value_parses_like_json_loads(value: object, indent: int | None) -> None:
    text = json.dumps(value, indent=indent)
    data, texts = parse_with_item_texts(text)
    assert data == value
    assert all(isinstance(t, str) for items in texts.values() for t in items)


@pytest.mark.parametrize("bad", ["[1, 2,, 3]", '{"a": [1, 2}', "[1, 2] trailing", '{"a" 1}', "[", ""])
def test_malformed_json_raises_like_json_loads(bad: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        parse_with_item_texts(bad)


def test_duplicate_keys_keep_the_last_value_like_json_loads() -> None:
    data, texts = parse_with_item_texts('{"a": [1, 2], "a": 3}')
    assert data == {"a": 3} and ("a",) not in texts


@given(
    st.lists(json_values, max_size=8),
    st.lists(st.sampled_from(["", " ", "  ", "\n", "\n  ", "\t", "\r\n"]), min_size=4, max_size=4),
)
@settings(max_examples=200, deadline=None)
def test_any_spacing_around_separators_parses_like_json_loads(items: list[object], spaces: list[str]) -> None:
    a, b, c, d = spaces
    text = a + "[" + b + (c + "," + d).join(json.dumps(x) for x in items) + c + "]" + a
    data, texts = parse_with_item_texts(text)
    assert data == json.loads(text) == items
    assert [json.loads(t) for t in texts.get((), [])] == (items if texts else [])
