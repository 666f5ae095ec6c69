"""Parse JSON once and keep each array item's original text.

SmartCrusher matches the question against every item's text. Re-serialising every item costs
more than parsing, so for the arrays it crushes most often (the root array, and arrays directly
under a top-level object such as ``{"total_count": 593, "workflow_runs": [...]}``) the items are
parsed one by one with the C decoder and their source text is sliced out as it goes.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["parse_with_item_texts"]

_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")
_WS_CHARS = " \t\n\r"


def _skip(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()  # type: ignore[union-attr]


def _array(text: str, pos: int) -> tuple[list[Any], list[str], int]:
    """Items of the array starting at ``text[pos] == "["``, their source texts, and the end index."""
    items: list[Any] = []
    texts: list[str] = []
    decode = _DECODER.raw_decode
    append_item, append_text = items.append, texts.append
    pos = _skip(text, pos + 1)
    if text[pos] == "]":
        return items, texts, pos + 1
    while True:
        value, end = decode(text, pos)
        append_item(value)
        append_text(text[pos:end])
        sep = text[end]
        if sep not in ",]":  # whitespace before the separator (pretty-printed JSON)
            end = _skip(text, end)
            sep = text[end]
        if sep == ",":
            pos = end + 1
            if text[pos] in _WS_CHARS:  # ", " (json.dumps) or a line break: skip it without a regex call
                pos = pos + 1 if text[pos + 1] not in _WS_CHARS else _skip(text, pos)
        elif sep == "]":
            return items, texts, end + 1
        else:
            raise ValueError(f"expected ',' or ']' at {end}")


def _object(text: str, pos: int) -> tuple[dict[str, Any], dict[tuple[Any, ...], list[str]], int]:
    obj: dict[str, Any] = {}
    spans: dict[tuple[Any, ...], list[str]] = {}
    pos = _skip(text, pos + 1)
    if text[pos] == "}":
        return obj, spans, pos + 1
    while True:
        if text[pos] != '"':
            raise ValueError(f"expected a key at {pos}")
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _skip(text, pos)
        if text[pos] != ":":
            raise ValueError(f"expected ':' at {pos}")
        pos = _skip(text, pos + 1)
        if text[pos] == "[":
            value, texts, pos = _array(text, pos)
            spans[(key,)] = texts
        else:
            value, pos = _DECODER.raw_decode(text, pos)
            spans.pop((key,), None)
        obj[key] = value
        pos = _skip(text, pos)
        if text[pos] == ",":
            pos = _skip(text, pos + 1)
        elif text[pos] == "}":
            return obj, spans, pos + 1
        else:
            raise ValueError(f"expected ',' or '}}' at {pos}")


def parse_with_item_texts(text: str) -> tuple[Any, dict[tuple[Any, ...], list[str]]]:
    """``json.loads(text)``, plus the source text of each item of the root or top-level arrays.

    The texts are keyed by the array's path (``()`` for the root, ``(key,)`` under the top-level
    object). Raises ``json.JSONDecodeError`` exactly where ``json.loads`` would.
    """
    start = _skip(text, 0)
    try:
        if text.startswith("[", start):
            items, texts, end = _array(text, start)
            if _skip(text, end) == len(text):
                return items, {(): texts}
        elif text.startswith("{", start):
            obj, spans, end = _object(text, start)
            if _skip(text, end) == len(text):
                return obj, spans
    except (ValueError, IndexError):
        pass  # json.loads below reports the error with its position, or parses what this did not
    return json.loads(text), {}
