"""Which items of a JSON array must survive crushing, and why.

Statistics over the items' top-level fields find the items a reader would look for: those that
carry errors or failures, rare categorical values (one ``failure`` among many ``success``),
numeric outliers and change points, and those that match the user's question.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from headroom.compressors.json_columns import ABSENT, CONTAINERS, Column, columns_of
from headroom.compressors.json_columns import column as column_of_values
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
    columns: Mapping[str, Column] | None = field(default=None, repr=False, compare=False)
    """The objects' fields as columns (None when the array is not mostly objects), for the diversity fill."""


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


def _mean_std(xs: Sequence[float]) -> tuple[float, float]:
    n = len(xs)
    mean = sum(xs) / n
    var = sum((x - mean) ** 2 for x in xs) / n
    return mean, math.sqrt(var)


def _change_points(xs: list[float], threshold: float) -> list[int]:
    """Indices where the mean of the next window departs from the previous window's.

    A shift counts when it exceeds ``threshold`` pooled standard deviations of the two windows
    (so steady noise does not trigger it), and only the strongest index of a run is reported.
    Windows are a tenth of the array, so each window's sums come from running totals: the cost
    is linear in the array's length. The totals are exact integers (every float is an integer
    over a power of two), so equal windows give equal shifts and ties break the same way on
    any machine; values too small or large for that use floats of the standardised values.
    """
    n = len(xs)
    w = max(3, n // 10)
    if n < 2 * w + 2 or not all(math.isfinite(x) for x in xs):
        return []
    values = _exact_integers(xs)
    if values is None:
        mean, std = _mean_std(xs)
        if std == 0:
            return []
        values = [(x - mean) / std for x in xs]
    sums = [0] * (n + 1)
    squares = [0] * (n + 1)
    for i, v in enumerate(values):
        sums[i + 1] = sums[i] + v
        squares[i + 1] = squares[i] + v * v
    spread = n * squares[n] - sums[n] * sums[n]  # n^2 x the variance of all values
    if spread <= 0:
        return []
    floor = math.sqrt(spread) / n * 1e-3 * w  # a thousandth of the overall deviation, times w
    shifts: list[float] = []
    for i in range(w, n - w + 1):
        s1, s2 = sums[i] - sums[i - w], sums[i + w] - sums[i]
        both = w * (squares[i + w] - squares[i - w]) - s1 * s1 - s2 * s2
        # |m2 - m1| / pooled deviation, with m = s / w and pooled = sqrt(both / 2) / w
        pooled = math.sqrt(both / 2) if both > 0 else 0.0
        shifts.append(abs(s2 - s1) / (pooled if pooled > floor else floor))
    points = []
    bar = threshold * 2
    last = len(shifts) - 1
    for k, shift in enumerate(shifts):
        if shift <= bar:
            continue
        if (k == 0 or shift >= shifts[k - 1]) and (k == last or shift > shifts[k + 1]):
            points.append(k + w)
    return points


def _exact_integers(xs: list[float]) -> list[Any] | None:
    """``xs`` times one power of two, as exact integers; None when that power would exceed 2**64."""
    ratios = [x.as_integer_ratio() for x in xs]
    scale = max(q for _, q in ratios)
    if scale > 1 << 64:
        return None
    return [p * (scale // q) for p, q in ratios]


def _rare_value_items(label: str, column: Column, cfg: SmartCrusherConfig) -> list[int] | None:
    """Items holding a rare value of a categorical column; None when the column is not categorical.

    Categorical: nearly constant (few values for the array's length, per ``uniqueness_threshold``),
    or a status-like field (status, conclusion, state, type, action, ...) with few values. Strings
    longer than a category (URLs, sentences) and containers do not count as values.
    """
    n = len(column.values)
    name = label.rsplit(".", 1)[-1].lower()
    most: float = max(3, math.ceil(cfg.uniqueness_threshold * n))
    if _is_category_name(name):
        most = max(most, 3, 2 * math.sqrt(n), n / 2)
    if len(column.counts) > most:
        # Too many values to be categorical, unless most of them are long strings (which are not
        # categories): count the others only until the limit is passed (ids, shas, timestamps).
        short = 0
        for value in column.counts:
            if type(value) is not str or len(value) <= _MAX_CATEGORY_LEN:
                short += 1
                if short > most:
                    return None
    distinct: Counter[Any] = Counter()
    category_of: dict[Any, Any] = {}
    for value, count in column.counts.items():
        if value is ABSENT:
            category = value
        else:
            category = _scalar_key(value)
            if category is None and value is not None:
                continue  # a long string: not a category value
        distinct[category] += count
        category_of[value] = category
    nearly_constant = len(distinct) <= max(3, math.ceil(cfg.uniqueness_threshold * n))
    few_values = _is_category_name(name) and len(distinct) <= max(3, 2 * math.sqrt(n), n / 2)
    if len(distinct) < 2 or not (nearly_constant or few_values):
        return None
    rare_limit = max(2, math.floor(0.1 * n))
    rare = {value for value, count in distinct.items() if count <= rare_limit and count < n / 2}
    rare_values = {value for value, category in category_of.items() if category in rare}
    if not rare_values:
        return []
    if column.has_containers:
        return [i for i, v in enumerate(column.values) if not isinstance(v, CONTAINERS) and v in rare_values]
    return [i for i, v in enumerate(column.values) if v in rare_values]


def _inner_keys(column: Column) -> dict[str, None]:
    """The keys of the objects a column holds (its fields one level down), in first-seen order."""
    keys: dict[str, None] = {}
    for value in column.values:
        if type(value) is dict:
            keys.update(dict.fromkeys(value))
    return keys


def _inner_column(column: Column, inner: str) -> list[Any]:
    return [v.get(inner, ABSENT) if type(v) is dict else ABSENT for v in column.values]


def _nested_columns(outer: str, column: Column, inner_keys: dict[str, None]) -> list[tuple[str, str, Column]]:
    """Status-like fields one object deep (an event's ``payload.action``), as columns over all items."""
    found = []
    for inner in inner_keys:
        if not _is_category_name(inner.lower()):
            continue
        values = _inner_column(column, inner)
        if any(v is not ABSENT and not isinstance(v, CONTAINERS) for v in values):
            found.append((outer, inner, column_of_values(values)))
    return found


def _error_items(key: str, column: Column) -> list[int]:
    """Items whose ``key`` field (a status, error or message field) reports an error.

    Each distinct string is judged once; other values (numbers, nulls, objects) one by one,
    since equal numbers of different types are judged differently (``400`` vs ``400.0``).
    """
    canonical = _CHECKED_SPELLINGS.get(key)
    if canonical is None:
        return []
    bad = {v for v in column.counts if type(v) is str and _is_error_value(canonical, v)}
    one_by_one = column.has_containers or any(v is not ABSENT and type(v) is not str for v in column.counts)
    if not bad and not one_by_one:
        return []
    return [
        i
        for i, v in enumerate(column.values)
        if v is not ABSENT and (v in bad if type(v) is str else _is_error_value(canonical, v))
    ]


def _numeric_values(column: Column) -> list[float] | None:
    """The column as floats when every item holds a number (booleans are not numbers)."""
    if column.has_containers or not all(type(v) is int or type(v) is float for v in column.counts):
        return None
    return [float(v) for v in column.values]


def _mark_errors(
    items: list[Any],
    columns: Mapping[str, Column] | None,
    inner_keys: Mapping[str, dict[str, None]],
    mark: Callable[[int, str], None],
) -> None:
    """Mark the items that carry errors: by field and one object deep, column by column for objects."""
    if columns is None:
        for i, item in enumerate(items):
            if _carries_error(item):
                mark(i, "error")
        return
    for i, item in enumerate(items):
        if not isinstance(item, dict) and _carries_error(item):
            mark(i, "error")
    for key, column in columns.items():
        for i in _error_items(key, column):
            mark(i, "error")
        if key in inner_keys:  # one object deep (a run's head_commit.status)
            for name in _CHECKED_SPELLING_SET.intersection(inner_keys[key]):
                for i in _error_items(name, column_of_values(_inner_column(column, name))):
                    mark(i, "error")


def _mark_statistics(
    columns: Mapping[str, Column],
    inner_keys: Mapping[str, dict[str, None]],
    cfg: SmartCrusherConfig,
    mark: Callable[[int, str], None],
) -> tuple[list[str], list[str]]:
    """Mark rare categorical values, outliers and change points; return the categorical and numeric fields."""
    categorical: list[str] = []
    numeric: list[str] = []
    # Status-like fields one object deep (an event's payload.action) count as categorical too.
    inner_columns = sorted(
        (found for outer, keys in inner_keys.items() for found in _nested_columns(outer, columns[outer], keys)),
        key=lambda found: (found[0], found[1]),
    )
    for outer, inner_key, inner in inner_columns:
        label = f"{outer}.{inner_key}"
        hits = _rare_value_items(label, inner, cfg)
        if hits is not None:
            categorical.append(label)
            for i in hits:
                mark(i, f"rare:{label}")
    for key, column in columns.items():
        hits = _rare_value_items(key, column, cfg)
        if hits is not None:
            categorical.append(key)
            for i in hits:
                mark(i, f"rare:{key}")
            continue
        if _ID_KEY.search(key):
            continue
        nums = _numeric_values(column)
        if nums is None or len(nums) < max(cfg.min_items_to_analyze, 5):
            continue
        if len(set(nums)) / len(nums) < cfg.uniqueness_threshold:
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
    return categorical, numeric


def analyse_array(items: list[Any], docs: list[str], query: str, cfg: SmartCrusherConfig) -> ArrayAnalysis:
    """Why each item must be kept; ``docs`` are the items serialised (for relevance).

    Objects are analysed column by column: each field's values are gathered once and counted
    in C, so an array costs a few passes per field rather than a Python loop per value.
    """
    n = len(items)
    keep: dict[int, set[str]] = {}

    def mark(i: int, reason: str) -> None:
        keep.setdefault(i, set()).add(reason)

    columns = columns_of(items)
    inner_keys = {key: _inner_keys(col) for key, col in (columns or {}).items() if col.has_containers}
    _mark_errors(items, columns, inner_keys, mark)
    categorical, numeric = _mark_statistics(columns, inner_keys, cfg, mark) if columns is not None else ([], [])

    scores: list[float] = []
    if query.strip():
        for i in _exact_value_matches(items, query):
            mark(i, "query_id")
        bm25 = BM25(docs)
        ids = [x.lower() for x in query_identifiers(query)]
        scores = bm25.scores(query)
        for ident in ids:
            hits = [i for i, found in enumerate(bm25.containing(ident)) if found]
            # An identifier found in every item is not selective (a repo name in every URL).
            if 0 < len(hits) <= max(3, n // 4):
                for i in hits:
                    mark(i, "query_id")
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
        columns=columns,
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
    # Numbers are compared as text, but formatting every number costs more than looking it up:
    # only a number equal to a numeric token can format as that token.
    ints, floats = _numeric_tokens(tokens)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        for k, v in item.items():
            kind = type(v)
            if kind is str:
                if len(v) > longest:
                    continue  # a URL or a sentence never equals a query token
                sv = v.lower()
            elif kind is int:
                if v not in ints:
                    continue
                sv = str(v)
            elif kind is float:
                if v not in floats and v == v:  # NaN equals nothing, yet formats as "nan"
                    continue
                sv = str(v)
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


def _numeric_tokens(tokens: set[str]) -> tuple[set[int], set[float]]:
    """The numbers the query's tokens spell (any number that formats as a token is among them)."""
    ints: set[int] = set()
    floats: set[float] = set()
    for token in tokens:
        try:
            ints.add(int(token))
        except ValueError:
            pass
        try:
            floats.add(float(token))
        except ValueError:
            pass
    return ints, floats
