"""Array analysis: column-by-column statistics find exactly what item-by-item checks would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from headroom.compressors.json_analysis import _carries_error, analyse_array
from headroom.config import SmartCrusherConfig
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core.jsoncorpus import load_body, main_array

_STATUS = st.sampled_from(["success", "failure", "ok", "timed_out", "Error: disk full", 200, 404, 400.0, True, None])
_NESTED = st.fixed_dictionaries({}, optional={"status": _STATUS, "message": st.sampled_from(["fine", "Traceback ..."])})
_ITEM = st.fixed_dictionaries(
    {"id": st.integers(0, 10**6)},
    optional={
        "status": _STATUS,
        "conclusion": _STATUS,
        "status_code": st.sampled_from([200, 201, 500, 503.0, "500", True]),
        "error": st.sampled_from([None, "", "boom", 0, 1, [], ["x"], {}, {"code": 1}]),
        "errorMessage": st.sampled_from([None, "", "bad input"]),
        "head_commit": _NESTED,
        "payload": st.one_of(_NESTED, st.lists(st.integers(), max_size=2)),
        "Status": _STATUS,
    },
)


def _errors(items: list[Any]) -> set[int]:
    analysis = analyse_array(items, [], "", SmartCrusherConfig())
    return {i for i, why in analysis.must_keep.items() if "error" in why}


@given(
    st.lists(st.one_of(_ITEM, _ITEM, _ITEM, _ITEM, st.sampled_from(["fatal: broken pipe", "all good", 3])), max_size=40)
)
@settings(max_examples=300, deadline=None)
def test_error_items_found_by_columns_are_those_an_item_check_finds(items: list[Any]) -> None:
    assert _errors(items) == {i for i, item in enumerate(items) if _carries_error(item)}


def test_error_items_of_real_workflow_runs(samples_dir: Path) -> None:
    runs = main_array(load_body(samples_dir / "json" / "PullRequest2408.test_get_workflow_runs.85.json"))
    assert runs is not None
    assert _errors(runs) == {i for i, item in enumerate(runs) if _carries_error(item)} != set()


def _change_points_by_definition(xs: list[float], threshold: float) -> list[int]:
    """The documented rule in exact arithmetic, window by window: squared shifts compared as fractions."""
    from fractions import Fraction

    n, w = len(xs), max(3, len(xs) // 10)
    if n < 2 * w + 2:
        return []
    exact = [Fraction(x) for x in xs]

    def mean_var(v: list[Fraction]) -> tuple[Fraction, Fraction]:
        m = sum(v, Fraction(0)) / len(v)
        return m, sum(((x - m) ** 2 for x in v), Fraction(0)) / len(v)

    _, overall = mean_var(exact)
    if overall == 0:
        return []
    floor2 = overall / 1_000_000
    shifts2 = []
    for i in range(w, n - w + 1):
        (m1, v1), (m2, v2) = mean_var(exact[i - w : i]), mean_var(exact[i : i + w])
        shifts2.append((m2 - m1) ** 2 / max((v1 + v2) / 2, floor2))
    bar = Fraction(threshold * 2) ** 2
    return [
        i + w
        for i, s in enumerate(shifts2)
        if s > bar and s >= (shifts2[i - 1] if i > 0 else -1) and s > (shifts2[i + 1] if i + 1 < len(shifts2) else -1)
    ]


@given(
    st.lists(st.one_of(st.integers(-5, 5), st.integers(-(10**6), 10**6).map(lambda k: k / 1000)), max_size=90),
    st.sampled_from([0.5, 2.0]),
)
@settings(max_examples=300, deadline=None)
def test_change_points_match_their_definition(xs: list[float], threshold: float) -> None:
    from headroom.compressors.json_analysis import _change_points

    values = [float(x) for x in xs]
    assert _change_points(values, threshold) == _change_points_by_definition(values, threshold)


def test_change_points_cost_grows_linearly_with_the_array() -> None:
    from headroom.compressors.json_analysis import _change_points

    step = [100.0 + (i % 7) for i in range(60_000)] + [400.0 + (i % 7) for i in range(40_000)]
    assert _change_points(step, 2.0) == [60_000]  # 100,000 values with 10,000-wide windows: linear, not 10^9 steps


def test_values_too_small_for_exact_sums_still_show_a_level_shift() -> None:
    from headroom.compressors.json_analysis import _change_points

    tiny = [1e-30 * (1 + (i % 3) / 10) for i in range(50)] + [5e-30 * (1 + (i % 3) / 10) for i in range(50)]
    assert _change_points(tiny, 2.0) == [50]


def test_a_level_shift_in_real_run_numbers_is_a_change_point(samples_dir: Path) -> None:
    from headroom.compressors.json_analysis import _change_points

    runs = main_array(load_body(samples_dir / "json" / "PullRequest2408.test_get_workflow_runs.85.json"))
    assert runs is not None
    numbers = [float(r["run_number"]) for r in runs]
    assert len(numbers) in _change_points(numbers + [x + 10_000 for x in numbers], 2.0)


def _matches_by_definition(items: list[Any], query: str) -> list[int]:
    """Every field formatted and compared with the query's tokens (the rule, without shortcuts)."""
    import re

    from headroom.compressors.json_analysis import _ID_KEY, _QUERY_TOKEN
    from headroom.relevance import query_identifiers

    tokens = {t.lower() for t in _QUERY_TOKEN.findall(query)} | {q.lower() for q in query_identifiers(query)}
    if not tokens:
        return []
    longest = max(len(t) for t in tokens)
    by_id, by_value = [], {}
    for i, item in enumerate(items):
        for k, v in item.items() if isinstance(item, dict) else ():
            if isinstance(v, str):
                sv = v.lower() if len(v) <= longest else None
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                sv = str(v)
            else:
                sv = None
            if sv is not None and sv in tokens:
                if re.search(_ID_KEY, k) or k.lower() in ("login", "name", "full_name", "title", "slug"):
                    by_id.append(i)
                else:
                    by_value.setdefault(sv, []).append(i)
    if by_id:
        return sorted(set(by_id))
    return sorted({i for hits in by_value.values() if len(hits) <= max(3, len(items) // 4) for i in hits})


_NUMBERS = st.one_of(
    st.integers(-3, 3000),
    st.sampled_from([0.0, -0.0, 1.5, 2.0, 1e-05, 1e16, float("inf"), float("nan"), True, False, None]),
)


@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["id", "count", "ratio", "name", "state"]), _NUMBERS | st.text("ab1", max_size=3)
        ),
        max_size=20,
    ),
    st.lists(
        st.sampled_from(["7", "1.5", "2.0", "-0.0", "0.0", "1e-05", "inf", "nan", "True", "ab", "3000", "1e16"]),
        max_size=3,
    ),
)
@settings(max_examples=300, deadline=None)
def test_exact_value_matches_follow_their_definition(items: list[Any], words: list[str]) -> None:
    from headroom.compressors.json_analysis import _exact_value_matches

    query = "what about " + " ".join(words)
    assert _exact_value_matches(items, query) == _matches_by_definition(items, query)


def _rare_by_definition(label: str, values: list[Any], cfg: SmartCrusherConfig) -> list[int] | None:
    """The categorical rule item by item: absent is a value, long strings and containers are none."""
    import math
    from collections import Counter

    from headroom.compressors.json_analysis import _is_category_name, _scalar_key
    from headroom.compressors.json_columns import ABSENT

    n = len(values)
    keys = [("<absent>",) if v is ABSENT else _scalar_key(v) for v in values]
    usable = [v is ABSENT or k is not None or v is None for k, v in zip(keys, values)]
    distinct = Counter(k for k, u in zip(keys, usable) if u)
    name = label.rsplit(".", 1)[-1].lower()
    nearly_constant = len(distinct) <= max(3, math.ceil(cfg.uniqueness_threshold * n))
    few_values = _is_category_name(name) and len(distinct) <= max(3, 2 * math.sqrt(n), n / 2)
    if len(distinct) < 2 or not (nearly_constant or few_values):
        return None
    limit = max(2, math.floor(0.1 * n))
    rare = {value for value, count in distinct.items() if count <= limit and count < n / 2}
    return [i for i, (k, u) in enumerate(zip(keys, usable)) if u and k in rare]


_CELLS = st.one_of(
    st.sampled_from(["success", "failure", "queued", "x" * 90, None, True, 1, 1.0, 0, 2.5]),
    st.integers(0, 60),
    st.just({"nested": 1}),
    st.just([1, 2]),
)


@given(
    st.lists(st.one_of(_CELLS, st.just("<ABSENT>")), min_size=1, max_size=70),
    st.sampled_from(["status", "payload.action", "score", "html_url"]),
    st.sampled_from([0.1, 0.3]),
)
@settings(max_examples=400, deadline=None)
def test_rare_values_by_column_follow_the_item_rule(cells: list[Any], label: str, uniqueness: float) -> None:
    from headroom.compressors.json_analysis import _rare_value_items
    from headroom.compressors.json_columns import ABSENT, column

    values = [ABSENT if c == "<ABSENT>" else c for c in cells]
    cfg = SmartCrusherConfig(uniqueness_threshold=uniqueness)
    assert _rare_value_items(label, column(values), cfg) == _rare_by_definition(label, values, cfg)
