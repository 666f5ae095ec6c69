"""Diversity fill: the fast comparison picks exactly what the plain Jaccard definition picks."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from headroom.compressors.json_columns import columns_of
from headroom.compressors.json_diversity import fill_by_diversity, item_signature, jaccard

from tests.core.jsoncorpus import load_body, main_array


def _by_definition(n: int, chosen: set[int], slots: int, items: list[Any], threshold: float) -> list[int]:
    """The greedy fill written plainly over signature sets (the behaviour the module documents)."""
    step = max(1, n // 256)
    candidates = [i for i in range(0, n, step) if i not in chosen]
    sigs = {i: item_signature(items[i]) for i in [*chosen, *candidates]}
    best = {i: max((jaccard(sigs[i], sigs[j]) for j in chosen), default=0.0) for i in candidates}
    picked: list[int] = []
    while len(picked) < slots and candidates:
        i = min(candidates, key=lambda c: (best[c], c))
        candidates.remove(i)
        if best[i] >= threshold:
            continue
        picked.append(i)
        for c in candidates:
            best[c] = max(best[c], jaccard(sigs[c], sigs[i]))
    return picked


def _arrays(directory: Path) -> list[tuple[str, list[Any]]]:
    out = []
    for path in sorted((directory / "json").glob("*.json")):
        items = main_array(load_body(path))
        if items and len(items) >= 5:
            out.append((path.name, items))
    return out


def _check(items: list[Any], seed: int) -> None:
    rng = random.Random(seed)
    n = len(items)
    for threshold in (0.5, 0.85, 1.01):
        chosen = {0, n - 1, *rng.sample(range(n), min(3, n))}
        slots = rng.randint(1, 20)
        expected = _by_definition(n, set(chosen), slots, items, threshold)
        assert fill_by_diversity(n, set(chosen), slots, items, threshold) == expected
        assert fill_by_diversity(n, set(chosen), slots, items, threshold, columns_of(items)) == expected


def test_fill_matches_the_definition_on_the_samples(samples_dir: Path) -> None:
    for i, (_, items) in enumerate(_arrays(samples_dir)):
        _check(items, i)


def test_fill_matches_the_definition_on_the_corpus(corpus_dir: Path) -> None:
    for i, (_, items) in enumerate(_arrays(corpus_dir)):
        _check(items, i)


def test_fill_with_nothing_kept_yet_and_scalar_items() -> None:
    words = ["ok", "ok", "error", "ok", "timeout", "ok", "ok", "ok"]
    assert fill_by_diversity(len(words), set(), 3, words, 0.9) == _by_definition(len(words), set(), 3, words, 0.9)
    assert fill_by_diversity(5, {0}, 0, words, 0.9) == []


@pytest.mark.parametrize("empty", [{}, []])
def test_empty_items_are_identical_to_each_other(empty: Any) -> None:
    items = [empty, empty, {"a": 1}, empty]
    assert fill_by_diversity(4, {0}, 3, items, 0.99) == _by_definition(4, {0}, 3, items, 0.99)


def test_columns_give_the_same_fill_on_objects_with_missing_fields_and_mixed_types() -> None:
    items: list[Any] = [
        {"id": i, "state": ["open", "closed"][i % 2], "labels": [1] * (i % 3), "flag": [True, 1, 1.0][i % 3]}
        for i in range(40)
    ]
    for i in range(0, 40, 7):
        del items[i]["state"]
    items[5] = {}
    items[11] = {"id": 11, "state": "open", "labels": {"a": 1}}
    columns = columns_of(items)
    for threshold in (0.3, 0.8, 1.01):
        for chosen in ({0}, {0, 39}, {3, 5, 11}):
            assert fill_by_diversity(40, set(chosen), 12, items, threshold, columns) == _by_definition(
                40, set(chosen), 12, items, threshold
            )
