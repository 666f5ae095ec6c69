"""Diversity fill: the items of an array least like those already kept.

After the must-keep items, SmartCrusher fills its remaining slots greedily: each pick is the
candidate whose highest Jaccard similarity to anything kept is lowest. Similarity is over an
item's top-level (field, value) pairs (:func:`item_signature`).

The greedy loop compares every candidate with every pick, so the comparison is made cheap
without changing its value: pairs held by one item only enlarge that item's set, pairs held by
every item enlarge every intersection, and only the pairs shared by some items are compared,
as bits of one integer per item (``(a & b).bit_count()``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from headroom.compressors.json_columns import ABSENT, CONTAINERS, Column

__all__ = ["fill_by_diversity", "item_signature", "jaccard"]

_FILL_SAMPLE = 256
"""At most this many evenly spaced candidates are considered (long arrays are sampled)."""


def item_signature(item: Any) -> frozenset[int]:
    """A set of hashed (field, value) pairs of an item, for similarity.

    A scalar field is its value; an object or array field is its type and length (two events
    with a 3-element ``commits`` list look alike). A non-object item is its JSON text.
    """
    if isinstance(item, dict):
        return frozenset(
            hash((k, type(v).__name__, len(v))) if isinstance(v, CONTAINERS) else hash((k, v)) for k, v in item.items()
        )
    return frozenset({hash(json.dumps(item, default=str)[:500])})


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    """|a & b| / |a | b| (1.0 for two empty sets): the similarity the fill minimises."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True)
class _Profiles:
    """Per item: a bit mask of the pairs some (not all) items share, and its signature's size."""

    masks: dict[int, int]
    sizes: dict[int, int]
    common: int
    """Pairs every item of the pool holds (in every intersection)."""

    def similarity(self, i: int, j: int) -> float:
        """Exactly ``jaccard(signature(i), signature(j))``."""
        size_i, size_j = self.sizes[i], self.sizes[j]
        if not size_i and not size_j:
            return 1.0
        inter = self.common + (self.masks[i] & self.masks[j]).bit_count()
        return inter / (size_i + size_j - inter)


def _profiles(items: Sequence[Any], pool: list[int]) -> _Profiles:
    signatures = {i: item_signature(items[i]) for i in pool}
    holders = Counter(p for sig in signatures.values() for p in sig)
    everyone = len(pool)
    bits: dict[int, int] = {}
    common = 0
    for pair, count in holders.items():
        if count == everyone:
            common += 1
        elif count > 1:
            bits[pair] = len(bits)
    masks: dict[int, int] = {}
    for i, sig in signatures.items():
        mask = 0
        for pair in sig:
            bit = bits.get(pair)
            if bit is not None:
                mask |= 1 << bit
        masks[i] = mask
    return _Profiles(masks, {i: len(sig) for i, sig in signatures.items()}, common)


def _column_profiles(items: Sequence[Any], pool: list[int], columns: Mapping[str, Column]) -> _Profiles | None:
    """The same profiles built field by field from the array's columns (objects only, else None).

    A field whose values all differ (ids, URLs, timestamps) can never be shared, and a field
    with one value everywhere is shared by all: neither needs any work per item.
    """
    if any(type(items[i]) is not dict for i in pool):
        return None
    n = len(items)
    everyone = len(pool)
    masks = dict.fromkeys(pool, 0)
    common = 0
    bit = 1
    for col in columns.values():
        values = col.values
        groups: dict[Any, list[int]] = {}
        if not col.has_containers:
            if len(col.counts) == n:
                continue  # every item's value is its own (at most one item lacks the field)
            if len(col.counts) == 1 and ABSENT not in col.counts:
                common += 1  # one value, held by every item
                continue
            for i in pool:
                value = values[i]
                if value is not ABSENT:
                    groups.setdefault(value, []).append(i)
        else:
            for i in pool:
                value = values[i]
                if value is ABSENT:
                    continue
                if isinstance(value, CONTAINERS):
                    value = (_CONTAINER, type(value).__name__, len(value))
                groups.setdefault(value, []).append(i)
        for members in groups.values():
            if len(members) == everyone:
                common += 1
            elif len(members) > 1:
                for i in members:
                    masks[i] |= bit
                bit <<= 1
    return _Profiles(masks, {i: len(items[i]) for i in pool}, common)


_CONTAINER: Any = object()
"""Tags an object or array field's (type, length) so it never equals a scalar value."""


def fill_by_diversity(
    n: int,
    chosen: set[int],
    slots: int,
    items: Sequence[Any],
    threshold: float,
    columns: Mapping[str, Column] | None = None,
) -> list[int]:
    """Up to ``slots`` more indices of ``items``, each the least similar to what is already kept.

    A candidate whose similarity to a kept item reaches ``threshold`` is a near-duplicate and
    is skipped. Ties go to the lower index, so the result is deterministic. ``columns`` (the
    items' fields, from the analysis) make the comparison cheaper without changing it.
    """
    if slots <= 0:
        return []
    step = max(1, n // _FILL_SAMPLE)
    candidates = [i for i in range(0, n, step) if i not in chosen]
    if not candidates:
        return []
    pool = list(chosen) + candidates
    profiles = (_column_profiles(items, pool, columns) if columns is not None else None) or _profiles(items, pool)
    similarity = profiles.similarity
    best_sim = {i: max((similarity(i, j) for j in chosen), default=0.0) for i in candidates}
    picked: list[int] = []
    while len(picked) < slots and candidates:
        i = min(candidates, key=lambda c: (best_sim[c], c))
        candidates.remove(i)
        if best_sim[i] >= threshold:
            continue  # a near-duplicate of a kept item says nothing new
        picked.append(i)
        for c in candidates:
            s = similarity(c, i)
            if s > best_sim[c]:
                best_sim[c] = s
    return picked
