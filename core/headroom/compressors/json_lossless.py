"""Lossless re-encodings of JSON: minified text, and a compact table for arrays of uniform objects.

The table form writes each key once instead of once per item:
``{"_headroom_table": {"columns": [...], "rows": [[...], ...]}}``, for the arrays SmartCrusher
locates (root or envelope arrays). Every value survives; ``decode_tables`` turns it back into the
original structure.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["TABLE_KEY", "decode_tables", "encode_tables", "is_uniform", "minified"]

TABLE_KEY = "_headroom_table"
_MIN_ROWS = 3


def minified(value: Any) -> str:
    """``value`` as JSON without insignificant whitespace (non-ASCII kept as is)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _uniform_columns(items: list[Any]) -> list[str] | None:
    if len(items) < _MIN_ROWS or not all(isinstance(it, dict) and it for it in items):
        return None
    first = list(items[0].keys())
    keyset = set(first)
    for it in items[1:]:
        if len(it) != len(first) or set(it.keys()) != keyset:
            return None
    return first


def is_uniform(items: Any) -> bool:
    """True for a list of at least 3 objects that all have the same keys."""
    return isinstance(items, list) and _uniform_columns(items) is not None


def encode_tables(value: Any, paths: list[tuple[Any, ...]]) -> Any:
    """``value`` with the uniform arrays at ``paths`` (root or envelope arrays) in table form, in place.

    Only the given arrays are considered, which keeps the cost proportional to the number of
    items rather than to every nested value.
    """
    for path in sorted(paths, key=len, reverse=True):
        if not path:
            return _table(value) if is_uniform(value) else value
        parent = value
        for step in path[:-1]:
            parent = parent[step]
        if is_uniform(parent[path[-1]]):
            parent[path[-1]] = _table(parent[path[-1]])
    return value


def _table(items: list[dict[str, Any]]) -> dict[str, Any]:
    columns = list(items[0].keys())
    return {TABLE_KEY: {"columns": columns, "rows": [[it[c] for c in columns] for it in items]}}


def decode_tables(value: Any) -> Any:
    """The inverse of :func:`encode_tables`."""
    if isinstance(value, dict):
        table = value.get(TABLE_KEY)
        if len(value) == 1 and isinstance(table, dict) and set(table) == {"columns", "rows"}:
            cols = table["columns"]
            return [{c: decode_tables(v) for c, v in zip(cols, row)} for row in table["rows"]]
        return {k: decode_tables(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_tables(v) for v in value]
    return value
