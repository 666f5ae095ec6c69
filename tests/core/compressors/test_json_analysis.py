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
    from headroom.compressors.json_analysis import _mean_std

    n, w = len(xs), max(3, len(xs) // 10)
    if n < 2 * w + 2 or _mean_std(xs)[1] == 0:
        return []
    floor = _mean_std(xs)[1] * 1e-3
    shifts = []
    for i in range(w, n - w + 1):
        (m1, s1), (m2, s2) = _mean_std(xs[i - w : i]), _mean_std(xs[i : i + w])
        shifts.append(abs(m2 - m1) / max(((s1 * s1 + s2 * s2) / 2) ** 0.5, floor))
    return [
        i + w
        for i, s in enumerate(shifts)
        if s > threshold * 2
        and s >= (shifts[i - 1] if i > 0 else -1)
        and s > (shifts[i + 1] if i + 1 < len(shifts) else -1)
    ]


@given(
    st.lists(st.one_of(st.integers(-5, 5), st.floats(-1e9, 1e9, allow_nan=False)), max_size=120),
    st.sampled_from([0.5, 2.0]),
)
@settings(max_examples=300, deadline=None)
def test_change_points_match_their_definition(xs: list[float], threshold: float) -> None:
    from headroom.compressors.json_analysis import _change_points

    values = [float(x) for x in xs]
    assert _change_points(values, threshold) == _change_points_by_definition(values, threshold)


def test_a_level_shift_in_real_run_numbers_is_a_change_point(samples_dir: Path) -> None:
    from headroom.compressors.json_analysis import _change_points

    runs = main_array(load_body(samples_dir / "json" / "PullRequest2408.test_get_workflow_runs.85.json"))
    assert runs is not None
    numbers = [float(r["run_number"]) for r in runs]
    assert len(numbers) in _change_points(numbers + [x + 10_000 for x in numbers], 2.0)
