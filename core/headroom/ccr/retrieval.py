"""The ``headroom_retrieve`` tool a model calls to get back what compression omitted.

The tool takes a CCR ``key`` and optionally a ``query`` (return only the items or lines of the
original that match) or ``lines`` (a ``start-end`` range of the original, 1-based inclusive).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from headroom.ccr.store import CCRStore
from headroom.errors import HeadroomError
from headroom.relevance import BM25, query_identifiers

__all__ = ["RETRIEVE_TOOL", "RETRIEVE_TOOL_NAME", "execute_retrieve_tool", "search_original"]

RETRIEVE_TOOL_NAME = "headroom_retrieve"

RETRIEVE_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": RETRIEVE_TOOL_NAME,
        "description": (
            "Retrieve content that Headroom omitted from an earlier tool output to save tokens. "
            "Call it with the key given in an omission marker (it looks like hr_0123abcd...). "
            "Pass `query` to get only the omitted items/lines that match it, or `lines` "
            "(e.g. '120-180') for a line range; with neither, the whole original is returned."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "key": {"type": "string", "description": "The CCR key from the omission marker."},
                "query": {"type": "string", "description": "Optional: words or ids to search for inside the original."},
                "lines": {"type": "string", "description": "Optional: a 1-based inclusive line range 'start-end'."},
            },
            "required": ["key"],
            "additionalProperties": False,
        },
    },
}


def _json_items(original: str) -> list[Any] | None:
    """The longest array of ``original``: the top level, or inside objects (envelopes nest a few deep)."""
    try:
        data = json.loads(original)
    except (json.JSONDecodeError, RecursionError):
        return None
    arrays = list(_arrays(data, 0))
    return max(arrays, key=len) if arrays else None


def _arrays(value: Any, depth: int) -> Iterator[list[Any]]:
    if isinstance(value, list):
        yield value
    elif isinstance(value, dict) and depth < _MAX_ENVELOPE_DEPTH:
        for inner in value.values():
            yield from _arrays(inner, depth + 1)


_MAX_ENVELOPE_DEPTH = 4


def search_original(original: str, query: str, limit: int = 20) -> str:
    """The items (JSON arrays) or lines of ``original`` that match ``query``, most relevant first."""
    items = _json_items(original)
    ids = [i.lower() for i in query_identifiers(query)]
    if items is not None:
        docs = [json.dumps(it, ensure_ascii=False, default=str) for it in items]
        exact = [i for i, d in enumerate(docs) if ids and any(x in d.lower() for x in ids)]
        ranked = exact + [i for i in BM25(docs).top(query, limit) if i not in exact]
        return json.dumps([items[i] for i in ranked[:limit]], ensure_ascii=False)
    lines = original.splitlines()
    exact = [i for i, line in enumerate(lines) if ids and any(x in line.lower() for x in ids)]
    ranked = exact + [i for i in BM25(lines).top(query, limit) if i not in exact]
    chosen = sorted(ranked[:limit])
    return "\n".join(f"{i + 1}: {lines[i]}" for i in chosen)


def _line_range(original: str, spec: str) -> str:
    try:
        start_s, _, end_s = spec.partition("-")
        start = max(int(start_s), 1)
        end = int(end_s) if end_s else start
    except ValueError:
        raise HeadroomError(f"lines must look like '120-180', got {spec!r}") from None
    lines = original.splitlines(keepends=True)
    return "".join(lines[start - 1 : end])


def execute_retrieve_tool(arguments: dict[str, Any] | str, store: CCRStore) -> str:
    """Answer a ``headroom_retrieve`` call; errors come back as text the model can read, never raised."""
    try:
        args = json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
        key = str(args.get("key", "")).strip()
        if not key:
            return "error: headroom_retrieve needs the 'key' from an omission marker"
        original = store.get(key)
        if args.get("query"):
            return search_original(original, str(args["query"]))
        if args.get("lines"):
            return _line_range(original, str(args["lines"]))
        return original
    except (HeadroomError, json.JSONDecodeError, TypeError, ValueError) as exc:
        return f"error: {exc}"
