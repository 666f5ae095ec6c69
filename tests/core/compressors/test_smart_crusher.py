"""SmartCrusher on the real GitHub API corpus, per config field, and on bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import headroom
import pytest
from headroom.compressors.base import CompressionContext, PassThrough
from headroom.compressors.json_lossless import decode_tables
from headroom.compressors.router import result_cache
from headroom.compressors.smart_crusher import MARKER_KEY, SmartCrusher, adaptive_k
from headroom.config import HeadroomConfig, SmartCrusherConfig
from headroom.tokens import get_counter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.jsoncorpus import (
    contains_verbatim,
    load_body,
    main_array,
    named_record,
    rare_status_indices,
    same_shape,
    tool_call_messages,
)

SAMPLE_RUNS = (
    Path(__file__).resolve().parents[3] / "core/headroom/samples/json/PullRequest2408.test_get_workflow_runs.85.json"
)


def _ctx(query: str = "", **crusher: object) -> CompressionContext:
    config = HeadroomConfig(smart_crusher=SmartCrusherConfig(**crusher), stateless=True)  # type: ignore[arg-type]
    return CompressionContext(
        config=config, counter=get_counter("gpt-4o"), query=query, store=headroom.get_store(config), persist=True
    )


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    result_cache.clear()


def _runs() -> list[dict]:
    return load_body(SAMPLE_RUNS)["workflow_runs"]


def test_keeps_failed_workflow_run_among_successes() -> None:
    runs = _runs()
    failed = [r for r in runs if r["conclusion"] == "failure"]
    out = SmartCrusher().compress(json.dumps({"total_count": 593, "workflow_runs": runs}), _ctx())
    assert out is not None and out.lossy
    kept = json.loads(out.text)["workflow_runs"]
    assert failed and all(f in kept for f in failed)


def test_marker_names_count_and_key_that_restores_original() -> None:
    text = json.dumps(_runs())
    out = SmartCrusher().compress(text, _ctx())
    assert out is not None and out.ccr_key
    marker = json.loads(out.text)[-1][MARKER_KEY]
    omitted = len(_runs()) - (len(json.loads(out.text)) - 1)
    assert f"{omitted} of {len(_runs())} items omitted" in marker and out.ccr_key in marker
    assert headroom.retrieve(out.ccr_key, store_url="sqlite://") == text


def test_keeps_record_named_by_identifier_in_question() -> None:
    runs = _runs()
    target = runs[17]
    out = SmartCrusher().compress(json.dumps(runs), _ctx(f"what happened in run {target['id']}?"))
    assert out is not None and target in json.loads(out.text)


def test_keeps_first_and_last_items_by_fraction() -> None:
    runs = _runs()
    out = SmartCrusher().compress(json.dumps(runs), _ctx(first_fraction=0.5, last_fraction=0.3))
    kept = json.loads(out.text)[:-1] if out else []
    k = adaptive_k(len(runs), SmartCrusherConfig())
    assert kept[: round(k * 0.5)] == runs[: round(k * 0.5)]
    assert kept[-round(k * 0.3) :] == runs[-round(k * 0.3) :]


def test_max_items_after_crush_bounds_plain_items() -> None:
    items = [{"id": i, "name": f"user{i}", "score": 10} for i in range(400)]
    small = SmartCrusher().compress(json.dumps(items), _ctx(max_items_after_crush=5))
    large = SmartCrusher().compress(json.dumps(items), _ctx(max_items_after_crush=40))
    assert small is not None and large is not None
    assert len(json.loads(small.text)) - 1 <= 5 < len(json.loads(large.text)) - 1 <= 40


def test_keeps_numeric_outlier_and_change_point() -> None:
    items = [{"t": i, "path": f"/api/v1/orders/{i}/items?expand=all", "latency_ms": 20 + (i % 3)} for i in range(60)]
    items[23]["latency_ms"] = 900
    for it in items[40:]:
        it["latency_ms"] += 300
    out = SmartCrusher().compress(json.dumps(items), _ctx(max_items_after_crush=6))
    assert out is not None
    kept = json.loads(out.text)
    assert items[23] in kept
    assert any(it in kept for it in items[39:42])
    without = SmartCrusher().compress(json.dumps(items), _ctx(max_items_after_crush=6, preserve_change_points=False))
    assert without is not None and not any(it in json.loads(without.text) for it in items[39:42])


def test_variance_threshold_controls_outliers() -> None:
    items = [{"id": i, "path": f"/srv/data/part-{i:05d}.parquet", "size": 1000 + (i * 37) % 200} for i in range(80)]
    items[50]["size"] = 2500
    strict = SmartCrusher().compress(json.dumps(items), _ctx(variance_threshold=2.0))
    lax = SmartCrusher().compress(json.dumps(items), _ctx(variance_threshold=50.0))
    assert strict is not None and items[50] in json.loads(strict.text)
    assert lax is not None and items[50] not in json.loads(lax.text)


def test_rare_boolean_value_is_kept_when_field_nearly_constant() -> None:
    items = [
        {"login": f"user{i}", "url": f"https://api.github.com/users/user{i}", "site_admin": False} for i in range(50)
    ]
    items[31]["site_admin"] = True
    out = SmartCrusher().compress(json.dumps(items), _ctx())
    assert out is not None and items[31] in json.loads(out.text)
    loose = SmartCrusher().compress(json.dumps(items), _ctx(uniqueness_threshold=0.0))
    assert loose is not None  # with no categorical fields the rare flag is just another value


def test_similarity_threshold_skips_near_duplicates() -> None:
    items = [{"id": 1, "status": "ok", "msg": "same"} for _ in range(100)]
    out = SmartCrusher().compress(json.dumps(items), _ctx(similarity_threshold=0.5))
    assert out is not None and len(json.loads(out.text)) - 1 < adaptive_k(100, SmartCrusherConfig())


def test_include_summaries_describes_omitted_items() -> None:
    out = SmartCrusher().compress(json.dumps(_runs()), _ctx(include_summaries=True))
    assert out is not None
    summary = json.loads(out.text)[-1]["summary"]
    assert "conclusion" in summary and sum(summary["conclusion"].values()) > 0


def test_factor_out_constants_moves_shared_fields_to_marker() -> None:
    out = SmartCrusher().compress(json.dumps(_runs()), _ctx(factor_out_constants=True))
    assert out is not None
    data = json.loads(out.text)
    assert "repository" in data[-1]["constants"] and "repository" not in data[0]


def test_lossless_only_never_drops_items() -> None:
    runs = _runs()
    out = SmartCrusher().compress(json.dumps(runs, indent=2), _ctx(lossless_only=True))
    assert out is not None and not out.lossy
    assert decode_tables(json.loads(out.text)) == runs


def test_lossless_path_wins_when_savings_are_close() -> None:
    items = [{"id": i, "v": i} for i in range(12)]
    out = SmartCrusher().compress(json.dumps(items, indent=4), _ctx(min_tokens_to_crush=10))
    assert out is not None and not out.lossy and decode_tables(json.loads(out.text)) == items


def test_lossless_min_savings_ratio_gates_lossless_path() -> None:
    items = [{"id": i, "v": i} for i in range(12)]
    out = SmartCrusher().compress(
        json.dumps(items, indent=1), _ctx(min_tokens_to_crush=10, lossless_only=True, lossless_min_savings_ratio=0.99)
    )
    assert out is None


def test_small_arrays_and_small_outputs_pass_through() -> None:
    assert SmartCrusher().compress(json.dumps([{"a": 1}, {"a": 2}]), _ctx()) is None
    few = [{"id": i, "text": "x" * 300} for i in range(4)]
    assert SmartCrusher().compress(json.dumps(few), _ctx(min_items_to_analyze=5)) is None


def test_disabled_crusher_passes_through() -> None:
    with pytest.raises(PassThrough):
        SmartCrusher().compress(json.dumps(_runs()), _ctx(enabled=False))


def test_malformed_json_passes_through_with_reason() -> None:
    truncated = json.dumps(_runs())[:5000]
    with pytest.raises(PassThrough, match="not valid JSON"):
        SmartCrusher().compress(truncated, _ctx())


def _retrieve_often(store: Any, text: str, tool: str) -> None:
    for n in range(6):
        key = store.put(text + " " * n, tool_name=tool)
        store.get(key)


def test_feedback_hints_keep_more_items_for_often_retrieved_tool() -> None:
    config = HeadroomConfig(stateless=True)
    store = headroom.get_store(config)
    runs = _runs()
    first, second = json.dumps(runs), json.dumps(runs[::-1])
    ctx = CompressionContext(config=config, counter=get_counter("gpt-4o"), tool_name="list_runs", store=store)
    before = len(json.loads(SmartCrusher().compress(first, ctx).text))
    _retrieve_often(store, first, "list_runs")
    after = len(json.loads(SmartCrusher().compress(second, ctx).text))
    off = CompressionContext(
        config=HeadroomConfig(stateless=True, smart_crusher=SmartCrusherConfig(use_feedback_hints=False)),
        counter=get_counter("gpt-4o"),
        tool_name="list_runs",
        store=store,
    )
    assert after > before == len(json.loads(SmartCrusher().compress(second, off).text))


def test_feedback_never_changes_how_content_sent_before_is_compressed() -> None:
    config = HeadroomConfig(stateless=True)
    store = headroom.get_store(config)
    text = json.dumps(_runs())
    ctx = CompressionContext(config=config, counter=get_counter("gpt-4o"), tool_name="list_runs", store=store)
    sent = SmartCrusher().compress(text, ctx).text
    _retrieve_often(store, text, "list_runs")
    assert SmartCrusher().compress(text, ctx).text == sent


@given(
    st.lists(
        st.fixed_dictionaries(
            {"id": st.integers(), "state": st.sampled_from(["open", "closed", "merged"]), "title": st.text(max_size=40)}
        ),
        min_size=0,
        max_size=60,
    )
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_output_is_valid_json_and_restorable(items: list[dict]) -> None:
    text = json.dumps(items)
    out = SmartCrusher().compress(text, _ctx(min_tokens_to_crush=0))
    if out is None:
        return
    data = decode_tables(json.loads(out.text))
    assert isinstance(data, list)
    real = [d for d in data if not (isinstance(d, dict) and MARKER_KEY in d)]
    assert all(r in items for r in real)
    if out.lossy:
        assert headroom.retrieve(out.ccr_key, store_url="sqlite://") == text
    else:
        assert data == items


@pytest.mark.corpus
def test_every_corpus_file_keeps_shape_rare_and_named_records(corpus_dir: Path) -> None:
    failures = []
    for path in sorted((corpus_dir / "json").glob("*.json")):
        body = load_body(path)
        items = main_array(body) or []
        named = named_record(items) if items else None
        question = named[1] if named else "Summarise this response."
        text = json.dumps(body)
        result = headroom.compress(tool_call_messages(question, text), model="gpt-4o", config=HeadroomConfig())
        out = result.messages[-1]["content"]
        data = decode_tables(json.loads(out))
        if not same_shape(body, data):
            failures.append(f"{path.name}: shape changed")
        must = rare_status_indices(items) | ({named[0]} if named else set())
        missing = [i for i in must if not contains_verbatim(data, items[i])]
        if missing:
            failures.append(f"{path.name}: records {missing} missing")
        for key in result.ccr_keys:
            if headroom.retrieve(key) != text:
                failures.append(f"{path.name}: CCR key does not restore the original")
    assert not failures, failures


@pytest.mark.corpus
def test_corpus_json_saves_most_tokens(corpus_dir: Path) -> None:
    counter = get_counter("gpt-4o")
    before = after = 0
    for path in sorted((corpus_dir / "json").glob("*.json")):
        body = load_body(path)
        items = main_array(body) or []
        named = named_record(items) if items else None
        text = json.dumps(body)
        result = headroom.compress(
            tool_call_messages(named[1] if named else "Summarise.", text), config=HeadroomConfig()
        )
        before += counter.count(text)
        after += counter.count(result.messages[-1]["content"])
    assert after < 0.35 * before


def test_recompression_is_idempotent() -> None:
    first = SmartCrusher().compress(json.dumps(_runs()), _ctx())
    assert first is not None
    assert SmartCrusher().compress(first.text, _ctx()) is None


def test_retrieved_content_is_never_compressed_again() -> None:
    text = json.dumps(_runs())
    messages = [
        {"role": "user", "content": "show me every run"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "r1", "type": "function", "function": {"name": "headroom_retrieve", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "r1", "content": text},
    ]
    assert headroom.compress(messages).messages[-1]["content"] == text


def test_error_fields_are_found_in_other_spellings() -> None:
    items = [{"Id": i, "Status": "OK", "path": f"/jobs/{i}/logs/output.txt"} for i in range(60)]
    items[33]["Status"] = "FAILED"
    items[41]["errorMessage"] = "disk quota exceeded"
    out = SmartCrusher().compress(json.dumps(items), _ctx())
    assert out is not None
    kept = json.loads(out.text)
    assert items[33] in kept and items[41] in kept


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner, max_size=5),
    max_leaves=30,
)


@given(_JSON_VALUES, st.sampled_from([None, 1, 2]), st.booleans())
@settings(max_examples=150, deadline=None)
def test_lossless_lower_bound_never_exceeds_a_lossless_encoding(
    value: object, indent: int | None, ascii_: bool
) -> None:
    from headroom.compressors.json_lossless import encode_tables, minified
    from headroom.compressors.smart_crusher import _find_arrays, _lossless_lower_bound

    text = json.dumps(value, indent=indent, ensure_ascii=ascii_).replace("/", "\\/")
    data = json.loads(text)
    plain = minified(data)
    table = minified(encode_tables(json.loads(plain), _find_arrays(data, 3)))
    assert _lossless_lower_bound(data, text) <= _lossless_lower_bound(data, text, exact_escapes=True)
    assert _lossless_lower_bound(data, text, exact_escapes=True) <= min(len(plain), len(table))


def test_lossless_lower_bound_is_close_on_a_real_api_response() -> None:
    from headroom.compressors.json_lossless import minified
    from headroom.compressors.smart_crusher import _lossless_lower_bound

    body = load_body(SAMPLE_RUNS)["workflow_runs"][0]  # one object: no table, the bound is minified JSON's
    text = json.dumps(body, indent=2)
    bound = _lossless_lower_bound(body, text, exact_escapes=True)
    assert 0.99 * len(minified(body)) <= bound <= len(minified(body))
