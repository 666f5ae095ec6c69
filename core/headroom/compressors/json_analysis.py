"""Which items of a JSON array must survive crushing, and why.

Statistics over the items' top-level fields find the items a reader would look for: those that
carry errors or failures, rare categorical values (one ``failure`` among many ``success``),
numeric outliers and change points, and those that match the user's question.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from headroom.config import SmartCrusherConfig
from headroom.relevance import BM25, query_identifiers

__all__ = ["ArrayAnalysis", "analyse_array"]

_ERROR_WORDS = re.compile(
    r"\b(error|errors|errored|exception|fail|failed|failure|failing|fatal|panic|crash(?:ed)?|"
    r"timed[ _]out|timeout|denied|refused|abort(?:ed)?|cancel(?:led|ed)?|rejected|invalid|"
    r"critical|severe|unhealthy|down|broken|conflict|stale|startup_failure|action_required)\b",
    re.IGNORECASE,
)
_STATUS_KEYS = frozenset(
    {
        "status",
        "conclusion",
        "state",
        "result",
        "outcome",
        "level",
        "severity",
        "health",
        "phase",
        "status_code",
        "state_reason",
        "mergeable_state",
        "lifecycle_state",
    }
)
_ERROR_KEYS = frozenset(
    {
        "error",
        "errors",
        "exception",
        "exceptions",
        "failure",
        "failures",
        "traceback",
        "stacktrace",
        "stack_trace",
        "error_message",
        "errormessage",
        "fault",
    }
)
_CATEGORY_KEYS = _STATUS_KEYS | frozenset(
    {"type", "event", "action", "kind", "category", "conclusion", "reason", "role", "visibility", "environment"}
)
_CATEGORY_SUFFIXES = ("type", "status", "state", "kind", "action", "event", "level", "severity", "category", "reason")


def _is_category_name(name: str) -> bool:
    """Status-like field names: ``status``, ``conclusion``, ``ref_type``, ``alert_state``, ..."""
    return name in _CATEGORY_KEYS or name.endswith(_CATEGORY_SUFFIXES)


_ID_KEY = re.compile(r"(^|_)(id|ids|number|sha|hash|node_id|key|uuid|guid|timestamp|ts)$", re.IGNORECASE)
_MAX_CATEGORY_LEN = 80


@dataclass(frozen=True)
class ArrayAnalysis:
    """Per-item reasons to keep it (index -> set of reasons)."""

    must_keep: dict[int, frozenset[str]] = field(default_factory=dict)
    categorical_fields: tuple[str, ...] = ()
    numeric_fields: tuple[str, ...] = ()
    query_scores: tuple[float, ...] = ()


def _scalar_key(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= _MAX_CATEGORY_LEN else None
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return None


def _is_error_value(key: str, value: Any) -> bool:
    k = key.lower()
    if k in _ERROR_KEYS:
        return value not in (None, "", [], {}, False, 0)
    if k in _STATUS_KEYS:
        if isinstance(value, str) and _ERROR_WORDS.search(value):
            return True
        if k == "status_code" or (k == "status" and isinstance(value, int)):
            return isinstance(value, int) and value >= 400
    return isinstance(value, str) and value[:12].lower().startswith(("error", "exception", "traceback", "fatal"))


_TEXT_KEYS = frozenset({"message", "msg", "detail", "details", "description", "output", "reason", "summary", "text"})
_CHECKED_KEYS = _STATUS_KEYS | _ERROR_KEYS | _TEXT_KEYS


def _case_variants(names: frozenset[str]) -> dict[str, str]:
    """Spellings of the checked key names seen in APIs (status, Status, STATUS, errorMessage, ...) -> canonical."""
    out: dict[str, str] = {}
    for name in names:
        parts = name.split("_")
        camel = parts[0] + "".join(p.capitalize() for p in parts[1:])
        for variant in (name, name.capitalize(), name.upper(), camel, camel[:1].upper() + camel[1:]):
            out[variant] = name
    out.update({"errorMessage": "errormessage", "ErrorMessage": "errormessage", "stackTrace": "stacktrace",
                "StackTrace": "stacktrace"})  # fmt: skip
    return out


_CHECKED_SPELLINGS = _case_variants(_CHECKED_KEYS)
_CHECKED_SPELLING_SET = frozenset(_CHECKED_SPELLINGS)


def _checked(mapping: dict[Any, Any]) -> list[tuple[str, Any]]:
    """(canonical key, value) of the keys worth an error check, found with one C-level set intersection."""
    return [(_CHECKED_SPELLINGS[k], mapping[k]) for k in _CHECKED_SPELLING_SET.intersection(mapping)]


def _carries_error(item: Any) -> bool:
    if isinstance(item, dict):
        if any(_is_error_value(k, v) for k, v in _checked(item)):
            return True
        for v in item.values():
            if isinstance(v, dict) and any(_is_error_value(k2, v2) for k2, v2 in _checked(v)):
                return True
        return False
    if isinstance(item, str):
        return bool(_ERROR_WORDS.search(item[:500]))
    return False


def _numeric(values: list[Any]) -> list[float] | None:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        out.append(float(v))
    return out


def _mean_std(xs: Sequence[float]) -> tuple[float, float]:
    n = len(xs)
    mean = sum(xs) / n
    var = sum((x - mean) ** 2 for x in xs) / n
    return mean, math.sqrt(var)


def _change_points(xs: list[float], threshold: float) -> list[int]:
    """Indices where the mean of the next window departs from the previous window's.

    A shift counts when it exceeds ``threshold`` pooled standard deviations of the two windows
    (so steady noise does not trigger it), and only the strongest index of a run is reported.
    """
    n = len(xs)
    w = max(3, n // 10)
    if n < 2 * w + 2:
        return []
    _, global_std = _mean_std(xs)
    if global_std == 0:
        return []
    floor = global_std * 1e-3
    shifts = []
    for i in range(w, n - w + 1):
        left, right = xs[i - w : i], xs[i : i + w]
        m1, s1 = _mean_std(left)
        m2, s2 = _mean_std(right)
        pooled = max(math.sqrt((s1 * s1 + s2 * s2) / 2), floor)
        shifts.append((abs(m2 - m1) / pooled, i))
    points = []
    for k, (shift, i) in enumerate(shifts):
        if shift <= threshold * 2:
            continue
        left_shift = shifts[k - 1][0] if k > 0 else -1
        right_shift = shifts[k + 1][0] if k + 1 < len(shifts) else -1
        if shift >= left_shift and shift > right_shift:
            points.append(i)
    return points


def _nested_status_keys(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    inner_keys: dict[str, set[Any]] = {}
    for it in items:
        for outer, value in it.items():
            if isinstance(value, dict):
                inner_keys.setdefault(outer, set()).update(value)
    found: list[tuple[str, str]] = []
    for outer, keys in inner_keys.items():
        for inner in keys:
            if (
                isinstance(inner, str)
                and _is_category_name(inner.lower())
                and any(
                    isinstance(it.get(outer), dict)
                    and inner in it[outer]
                    and not isinstance(it[outer][inner], (dict, list))
                    for it in items
                )
            ):
                found.append((outer, inner))
    return sorted(found)


def _mark_rare_values(label: str, column: list[Any], present: list[bool], cfg: SmartCrusherConfig, mark: Any) -> bool:
    """Mark items holding a rare value of a categorical column; False when the column is not categorical.

    Categorical: nearly constant (few values for the array's length, per ``uniqueness_threshold``),
    or a status-like field (status, conclusion, state, type, action, ...) with few values.
    """
    n = len(column)
    keys = [(_scalar_key(v) if p else ("<absent>",)) for v, p in zip(column, present)]
    usable = [k for k, v, p in zip(keys, column, present) if not p or k is not None or v is None]
    distinct = Counter(usable)
    name = label.rsplit(".", 1)[-1].lower()
    nearly_constant = len(distinct) <= max(3, math.ceil(cfg.uniqueness_threshold * n))
    few_values = _is_category_name(name) and len(distinct) <= max(3, 2 * math.sqrt(n), n / 2)
    if len(distinct) < 2 or not (nearly_constant or few_values):
        return False
    rare_limit = max(2, math.floor(0.1 * n))
    rare = {value for value, count in distinct.items() if count <= rare_limit and count < n / 2}
    for i, (k, v, p) in enumerate(zip(keys, column, present)):
        if k in rare and (not p or k is not None or v is None):
            mark(i, f"rare:{label}")
    return True


def analyse_array(items: list[Any], docs: list[str], query: str, cfg: SmartCrusherConfig) -> ArrayAnalysis:
    """Why each item must be kept; ``docs`` are the items serialised (for relevance)."""
    n = len(items)
    keep: dict[int, set[str]] = {}

    def mark(i: int, reason: str) -> None:
        keep.setdefault(i, set()).add(reason)

    for i, item in enumerate(items):
        if _carries_error(item):
            mark(i, "error")

    dict_items = [it for it in items if isinstance(it, dict)]
    categorical: list[str] = []
    numeric: list[str] = []
    if dict_items and len(dict_items) >= n * 0.8:
        keys: Counter[str] = Counter()
        for it in dict_items:
            keys.update(it.keys())
        # Status-like fields one object deep (an event's payload.action) count as categorical too.
        for outer, inner in _nested_status_keys(dict_items):
            column = [
                it[outer].get(inner) if isinstance(it, dict) and isinstance(it.get(outer), dict) else None
                for it in items
            ]
            present_mask = [
                isinstance(it, dict) and isinstance(it.get(outer), dict) and inner in it[outer] for it in items
            ]
            if _mark_rare_values(f"{outer}.{inner}", column, present_mask, cfg, mark):
                categorical.append(f"{outer}.{inner}")
        for key in keys:
            column = [it.get(key) if isinstance(it, dict) else None for it in items]
            if _mark_rare_values(
                key, column, [key in it if isinstance(it, dict) else False for it in items], cfg, mark
            ):
                categorical.append(key)
                continue
            if _ID_KEY.search(key):
                continue
            nums = _numeric(column)
            if nums is None or len(nums) < max(cfg.min_items_to_analyze, 5):
                continue
            if len(set(nums)) / n < cfg.uniqueness_threshold:
                continue  # nearly constant: no statistics worth computing
            numeric.append(key)
            mean, std = _mean_std(nums)
            if std > 0:
                for i, x in enumerate(nums):
                    if abs(x - mean) / std > cfg.variance_threshold:
                        mark(i, f"outlier:{key}")
            if cfg.preserve_change_points:
                for i in _change_points(nums, cfg.variance_threshold):
                    mark(i, f"change:{key}")

    scores: list[float] = []
    if query.strip():
        for i in _exact_value_matches(items, query):
            mark(i, "query_id")
        bm25 = BM25(docs)
        ids = [x.lower() for x in query_identifiers(query)]
        lowered = bm25.lowered_documents
        for ident in ids:
            hits = [i for i, d in enumerate(lowered) if ident in d]
            # An identifier found in every item is not selective (a repo name in every URL).
            if 0 < len(hits) <= max(3, n // 4):
                for i in hits:
                    mark(i, "query_id")
        scores = bm25.scores(query)
        best = max(scores) if scores else 0.0
        if best > 0:
            ordered = sorted(scores)
            median = ordered[len(ordered) // 2]
            top = sorted(range(n), key=lambda i: (-scores[i], i))[:3]
            for i in top:
                if scores[i] >= 0.6 * best and scores[i] > 1.5 * median + 1e-9:
                    mark(i, "query")
    return ArrayAnalysis(
        must_keep={i: frozenset(r) for i, r in keep.items()},
        categorical_fields=tuple(categorical),
        numeric_fields=tuple(numeric),
        query_scores=tuple(scores),
    )


_QUERY_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-./:@#]*[A-Za-z0-9_]|[0-9]+")


def _exact_value_matches(items: list[Any], query: str) -> list[int]:
    """Items whose own top-level field equals a token of the query (``number 7``, a sha, a login).

    A match on an identifier-like field (id, number, sha, ...) wins; a match on any other field
    counts only when it is selective (few items share the value).
    """
    tokens = {t.lower() for t in _QUERY_TOKEN.findall(query)}
    tokens.update(q.lower() for q in query_identifiers(query))
    if not tokens:
        return []
    by_id: list[int] = []
    by_value: dict[str, list[int]] = {}
    longest = max(len(t) for t in tokens)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        for k, v in item.items():
            if isinstance(v, str):
                if len(v) > longest:
                    continue  # a URL or a sentence never equals a query token
                sv = v.lower()
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                sv = str(v)
            else:
                continue
            if sv in tokens:
                if _ID_KEY.search(str(k)) or str(k).lower() in ("login", "name", "full_name", "title", "slug"):
                    by_id.append(i)
                else:
                    by_value.setdefault(sv, []).append(i)
    if by_id:
        return sorted(set(by_id))
    limit = max(3, len(items) // 4)
    return sorted({i for hits in by_value.values() if len(hits) <= limit for i in hits})
