"""Helpers for tests over the GitHub API corpus: the main array, a named record, rare-status records."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

STATUS_FIELDS = ("status", "conclusion", "state", "type", "event", "action")


def load_body(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))["body"]


def main_array(body: Any) -> list[Any] | None:
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        arrays = [v for v in body.values() if isinstance(v, list)]
        if arrays:
            return max(arrays, key=len)
    return None


def named_record(items: list[Any]) -> tuple[int, str] | None:
    """A record from the middle of the array and a question that names it by its identifier."""
    if len(items) < 8:
        return None
    index = len(items) // 2
    item = items[index]
    if not isinstance(item, dict):
        return None
    for key in ("id", "number", "sha", "login", "name"):
        if item.get(key) not in (None, ""):
            return index, f"What about the record with {key} {item[key]}?"
    return None


def rare_status_indices(items: list[Any]) -> set[int]:
    """Items holding a value of a status-like field that <=10% of the items (or fewer than 3) share."""
    out: set[int] = set()
    if not items or not all(isinstance(x, dict) for x in items):
        return out
    n = len(items)
    for key in STATUS_FIELDS:
        values = [json.dumps(x[key]) for x in items if key in x and not isinstance(x[key], (dict, list))]
        if len(values) < n / 2:
            continue
        counts = Counter(values)
        if len(counts) < 2:
            continue
        for i, x in enumerate(items):
            if key in x and not isinstance(x[key], (dict, list)):
                c = counts[json.dumps(x[key])]
                if c <= 0.1 * n or c < 3:
                    out.add(i)
    return out


def contains_verbatim(data: Any, record: Any) -> bool:
    """True when ``record`` appears, equal to the original, anywhere inside ``data``."""
    if data == record:
        return True
    if isinstance(data, dict):
        return any(contains_verbatim(v, record) for v in data.values())
    if isinstance(data, list):
        return any(contains_verbatim(v, record) for v in data)
    return False


def same_shape(a: Any, b: Any) -> bool:
    """Same JSON type at the root and, for objects, the same keys (arrays may be shorter)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(same_shape(a[k], b[k]) for k in a if isinstance(a[k], (dict, list)))
    if isinstance(a, list) and isinstance(b, list):
        return True
    return type(a) is type(b)


def tool_call_messages(question: str, output: str, tool: str = "github_api") -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "You are a careful assistant."},
        {"role": "user", "content": question},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": tool, "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": output},
    ]
