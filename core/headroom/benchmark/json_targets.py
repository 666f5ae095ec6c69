"""What must survive in a JSON tool output, and the question that names a record.

For a JSON response the benchmark finds the *main array* (the largest array of objects, at
the top level or nested in an envelope such as ``{"total_count": .., "workflow_runs": [..]}``),
then:

- names one record from its middle (not among the first 5 nor the last 3 items, which any
  first/last heuristic keeps anyway) by a unique identifier such as ``id``, ``number``,
  ``sha`` or ``login``, and asks about it: ``What happened with workflow run 3519037359?``.
  A name that is not a number is quoted, as people paste one (``What happened with
  stargazer "lrtitze"?``); the same question is also asked with the quotation marks removed;
- marks every record holding a *rare categorical value* as must-keep: a value of a
  status/conclusion/state/type-like field (top level or one object deep, e.g.
  ``payload.action``) held by at most 10% of the items or by fewer than 3 of them. A field
  counts as categorical when it has at least two distinct values and at most half as many
  distinct values as there are items.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from headroom.benchmark.fidelity import Target

__all__ = ["JsonTargets", "find_main_array", "json_targets"]

_HEAD, _TAIL = 5, 3
_CATEGORICAL_KEY = re.compile(
    r"(?i)(^|_)(status|conclusion|state|type|event|action|result|level|severity|kind|outcome|reason|association|visibility)$"
)
_ID_FIELDS = ("number", "id", "filename", "path", "sha", "login", "full_name", "name", "key", "node_id")
_NESTED_ID_FIELDS = ("login", "number", "id", "sha", "full_name", "name")
_ID_LIKE = re.compile(r"(?i)(login|_id|_name)$")
_PLAIN_FIELDS = frozenset({"id", "number", "sha", "login", "filename", "path", "full_name"})
_GENERIC_KEYS = frozenset({"items", "data", "results", "values", "entries", "records", "nodes", "list"})


@dataclass(frozen=True)
class JsonTargets:
    """The question for one JSON body and the records that must survive."""

    question: str
    targets: tuple[Target, ...]
    array_path: str
    """Where the main array sits, e.g. ``workflow_runs`` or ``(top level)``."""
    items: int
    plain_question: str = ""
    """The question with its quotation marks removed."""


def find_main_array(body: Any, max_depth: int = 4) -> tuple[list[dict[str, Any]], list[str]] | None:
    """The largest array of objects in ``body`` (shallowest wins a tie) and its key path."""
    best: tuple[list[dict[str, Any]], list[str]] | None = None
    frontier: list[tuple[Any, list[str]]] = [(body, [])]
    for _ in range(max_depth + 1):
        following: list[tuple[Any, list[str]]] = []
        for value, path in frontier:
            if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
                if best is None or len(value) > len(best[0]):
                    best = (value, path)
            elif isinstance(value, dict):
                following.extend((v, [*path, k]) for k, v in value.items() if isinstance(v, (dict, list)))
        frontier = following
    return best


def _categorical_values(item: dict[str, Any]) -> list[tuple[str, Any]]:
    """(field, value) pairs of status-like scalar fields, top level and one object deep."""
    found: list[tuple[str, Any]] = []
    for key, value in item.items():
        if isinstance(value, dict):
            for inner, v in value.items():
                if _CATEGORICAL_KEY.search(inner) and (v is None or isinstance(v, (str, bool))):
                    found.append((f"{key}.{inner}", v))
        elif _CATEGORICAL_KEY.search(key) and (value is None or isinstance(value, (str, bool))):
            found.append((key, value))
    return found


def rare_record_indices(items: list[dict[str, Any]]) -> dict[int, str]:
    """Index -> reason (``conclusion=failure (1 of 30)``) for records with a rare categorical value."""
    n = len(items)
    by_field: dict[str, list[tuple[Any, int]]] = defaultdict(list)
    for i, item in enumerate(items):
        for field, value in _categorical_values(item):
            by_field[field].append((value, i))
    rare: dict[int, str] = {}
    for field, pairs in sorted(by_field.items()):
        counts = Counter(value for value, _ in pairs)
        if len(counts) < 2 or len(counts) > max(2, n // 2):
            continue
        for value, count in counts.items():
            if count <= 0.1 * n or count < 3:
                for v, i in pairs:
                    if v == value:
                        rare.setdefault(i, f"{field}={value} ({count} of {n})")
    return rare


def _unique_identifier(items: list[dict[str, Any]], i: int) -> tuple[str, str] | None:
    """(field, value) identifying ``items[i]`` uniquely: a top-level id-like field, else one nested."""

    def scalar(v: Any) -> bool:
        return isinstance(v, (str, int)) and not isinstance(v, bool) and str(v) != ""

    item = items[i]
    fields = [*_ID_FIELDS, *(k for k in item if k not in _ID_FIELDS and _ID_LIKE.search(k))]
    for field in fields:
        if field in item and scalar(item[field]) and sum(1 for x in items if x.get(field) == item[field]) == 1:
            return field, str(item[field])
    for key, inner in item.items():
        if isinstance(inner, dict):
            for field in _NESTED_ID_FIELDS:
                if field in inner and scalar(inner[field]):
                    same = sum(1 for x in items if isinstance(x.get(key), dict) and x[key].get(field) == inner[field])
                    if same == 1:
                        return f"{key}.{field}", str(inner[field])
    return None


def _noun(path: list[str], item: dict[str, Any]) -> str:
    """What the array holds, in words: from its key (``workflow_runs``) or the items' fields."""
    if path and path[-1].lower() not in _GENERIC_KEYS:
        word = path[-1].replace("_", " ").strip()
        return word[:-1] if word.endswith("s") and not word.endswith("ss") else word
    kind = item.get("type")
    if isinstance(kind, str) and kind.endswith("Event"):
        return "event"
    if "sha" in item and "commit" in item:
        return "commit"
    if "full_name" in item or ("git_url" in item and "owner" in item):
        return "repository"
    if "starred_at" in item:
        return "stargazer"
    if "filename" in item or ("path" in item and "sha" in item):
        return "file"
    if "number" in item and "title" in item:
        return "pull request" if "pull_request" in item or "merged_at" in item else "issue"
    if "event" in item:
        return "timeline event"
    if "rule" in item and "most_recent_instance" in item:
        return "code scanning alert"
    if "files" in item and "public" in item:
        return "gist"
    if "weeks" in item and "author" in item:
        return "contributor"
    if "login" in item:
        return "user"
    return "record"


def _choose_named(items: list[dict[str, Any]]) -> tuple[int, str, str] | None:
    """The middle-most record outside the first 5 and last 3 that has a unique identifier."""
    n = len(items)
    middle = n // 2
    candidates = list(range(_HEAD, n - _TAIL)) or [middle]
    candidates.sort(key=lambda i: (abs(i - middle), i))
    for i in candidates:
        ident = _unique_identifier(items, i)
        if ident is not None:
            return i, ident[0], ident[1]
    return None


def json_targets(body: Any) -> JsonTargets:
    """The question and must-keep records of one JSON response body (see module docs)."""
    found = find_main_array(body)
    if found is None:
        return JsonTargets("Summarize this API response.", (), "(none)", 0, "Summarize this API response.")
    items, path = found
    where = ".".join(path) or "(top level)"
    named = _choose_named(items)
    targets: list[Target] = []
    if named is None:
        question = plain = f"Summarize these {len(items)} records."
    else:
        i, field, value = named
        noun = _noun(path, items[i])
        by = "" if field.split(".")[-1] in _PLAIN_FIELDS else f" ({field})"
        quoted = value if value.isdigit() else f'"{value}"'
        question, plain = f"What happened with {noun} {quoted}{by}?", f"What happened with {noun} {value}{by}?"
        targets.append(Target("named_record", f"{where}[{i}] {field}={value}", record=items[i]))
    named_index = named[0] if named else -1
    for i, reason in sorted(rare_record_indices(items).items()):
        if i != named_index:
            targets.append(Target("rare_record", f"{where}[{i}] {reason}", record=items[i]))
    return JsonTargets(question, tuple(targets), where, len(items), plain)
