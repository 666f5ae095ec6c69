"""An array of objects seen column by column: each field's values across the items, counted once.

SmartCrusher's statistics (rare values, outliers, errors one object deep) and its diversity
fill both look at one field across all items. Gathering each field once and counting it with
``collections.Counter`` (a C loop) costs a few passes per field instead of Python work per value.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

__all__ = ["ABSENT", "CONTAINERS", "Column", "column", "columns_of"]

ABSENT: Any = object()
"""Stands for a field an item does not have (a category of its own: "absent" among "present")."""
CONTAINERS = (dict, list)


@dataclass(frozen=True)
class Column:
    """One field's values across the items (``ABSENT`` where an item lacks it) and their counts."""

    values: list[Any]
    counts: Counter[Any]
    """How often each hashable value occurs (objects and arrays are not counted)."""
    has_containers: bool
    """True when some item holds an object or an array in this field."""


def column(values: list[Any]) -> Column:
    """The column of ``values`` (one per item, ``ABSENT`` for a missing field)."""
    try:
        return Column(values, Counter(values), False)  # one C pass when every value is a scalar
    except TypeError:  # objects or arrays among the values
        return Column(values, Counter(v for v in values if not isinstance(v, CONTAINERS)), True)


def columns_of(items: list[Any]) -> dict[str, Column] | None:
    """Every field of the array's objects as a column, in first-seen order; None unless >=80% are objects."""
    dicts = [it for it in items if isinstance(it, dict)]
    if not dicts or len(dicts) < len(items) * 0.8:
        return None
    fields: dict[str, None] = {}
    for it in dicts:
        fields.update(dict.fromkeys(it))
    if len(dicts) == len(items):
        return {key: column([it.get(key, ABSENT) for it in items]) for key in fields}
    return {key: column([it.get(key, ABSENT) if isinstance(it, dict) else ABSENT for it in items]) for key in fields}
