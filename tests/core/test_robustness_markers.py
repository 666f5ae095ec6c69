"""Every marker's key is retrievable when the result is returned, also for tool outputs seen before (issue 12, item 1)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import headroom
import pytest
from headroom.ccr import CCRStore
from headroom.ccr import store as store_module
from headroom.ccr.markers import keys_in_text
from headroom.compressors.base import CompressionContext
from headroom.compressors.router import compress_content, result_cache
from headroom.config import CCRConfig, HeadroomConfig, HeadroomMode
from headroom.errors import StoreError
from headroom.tokens import get_counter

RUNS = "PullRequest2408.test_get_workflow_runs.85.json"


@pytest.fixture(scope="module")
def runs_text(samples_dir: Path) -> str:
    return json.dumps(json.loads((samples_dir / "json" / RUNS).read_text())["body"])


@pytest.fixture(scope="module")
def log_text(samples_dir: Path) -> str:
    return (samples_dir / "logs" / "OpenSSH_2k.log").read_text()


def _tool_call(content: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "Which workflow run failed?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "list_runs", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": content},
    ]


def _config(tmp_path: Path, **ccr: Any) -> HeadroomConfig:
    return HeadroomConfig(store_url=f"sqlite:///{tmp_path}/s.db", ccr=CCRConfig(**ccr))


def _assert_markers_retrievable(result: headroom.CompressResult, original: str, config: HeadroomConfig) -> None:
    named = keys_in_text(result.messages[-1]["content"])
    assert named and set(named) <= set(result.ccr_keys)
    for key in named:
        assert headroom.retrieve(key, config=config) == original


def test_a_seen_output_is_stored_again_after_its_entry_expired(tmp_path: Path, runs_text: str) -> None:
    config = _config(tmp_path, ttl_seconds=1)
    first = headroom.compress(_tool_call(runs_text), config=config)
    time.sleep(1.1)
    again = headroom.compress(_tool_call(runs_text), config=config)
    assert again.extras["content_timings"][0].cache_hit  # the router's result cache served it
    assert again.ccr_keys == first.ccr_keys
    _assert_markers_retrievable(again, runs_text, config)


def test_a_seen_output_is_stored_again_after_its_entry_was_evicted(
    tmp_path: Path, runs_text: str, log_text: str
) -> None:
    config = _config(tmp_path, max_entries=1)
    first = headroom.compress(_tool_call(runs_text), config=config)
    store = headroom.get_store(config)
    headroom.compress(_tool_call(log_text), config=config)
    store.enforce_limits(grace_seconds=0)
    assert first.ccr_keys[0] not in store
    again = headroom.compress(_tool_call(runs_text), config=config)
    assert again.extras["content_timings"][0].cache_hit
    _assert_markers_retrievable(again, runs_text, config)


def test_a_seen_output_is_stored_in_a_new_store(tmp_path: Path, runs_text: str) -> None:
    headroom.compress(_tool_call(runs_text), config=_config(tmp_path / "a"))
    other = _config(tmp_path / "b")
    again = headroom.compress(_tool_call(runs_text), config=other)
    assert again.extras["content_timings"][0].cache_hit
    _assert_markers_retrievable(again, runs_text, other)


def test_a_seen_output_after_simulate_is_stored_when_optimized(tmp_path: Path, runs_text: str) -> None:
    config = _config(tmp_path)
    simulated = headroom.compress(_tool_call(runs_text), config=config, mode=HeadroomMode.SIMULATE)
    assert simulated.ccr_keys[0] not in headroom.get_store(config)  # simulate writes nothing
    optimized = headroom.compress(_tool_call(runs_text), config=config)
    _assert_markers_retrievable(optimized, runs_text, config)


def test_using_a_seen_output_keeps_its_entry_alive(
    tmp_path: Path, runs_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, ttl_seconds=3600)
    key = headroom.compress(_tool_call(runs_text), config=config).ccr_keys[0]
    store = headroom.get_store(config)
    stored = store.get_entry(key)
    later = time.time() + 3000  # most of the hour has gone by
    monkeypatch.setattr(store_module.time, "time", lambda: later)
    headroom.compress(_tool_call(runs_text), config=config)
    assert store.get_entry(key).expires_at > stored.expires_at + 2900


def test_the_hot_path_only_reads_while_an_entry_is_fresh(tmp_path: Path, runs_text: str) -> None:
    store = CCRStore(f"sqlite:///{tmp_path}/s.db")
    key = store.put(runs_text)
    writes: list[str] = []
    from sqlalchemy import event

    event.listen(store.engine, "before_cursor_execute", lambda *a: writes.append(a[2]) if "UPDATE" in a[2] else None)
    assert all(store.keep_alive(key) for _ in range(100))
    assert writes == []


def test_a_confirmed_entry_is_not_asked_for_again_within_the_grace_period(tmp_path: Path, runs_text: str) -> None:
    from sqlalchemy import event

    store = CCRStore(f"sqlite:///{tmp_path}/s.db")
    key = store.put(runs_text)
    assert store.keep_alive(key)
    checkouts: list[int] = []
    event.listen(store.engine, "checkout", lambda *a: checkouts.append(1))
    assert all(store.keep_alive(key) for _ in range(100))
    assert checkouts == []
    store.enforce_limits(grace_seconds=0)  # an eviction without the grace period: ask again
    assert store.keep_alive(key) and checkouts


def test_a_store_that_fails_on_a_seen_output_passes_it_through(
    tmp_path: Path, runs_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CCRStore(f"sqlite:///{tmp_path}/s.db")
    ctx = CompressionContext(config=HeadroomConfig(), counter=get_counter("gpt-4o"), store=store)
    result_cache.clear()
    assert compress_content(runs_text, ctx)[0] is not None

    def broken(key: str) -> bool:
        raise StoreError("cannot read the Headroom store: disk I/O error")

    monkeypatch.setattr(store, "keep_alive", broken)
    out, _kind, reason, hit = compress_content(runs_text, ctx)
    assert hit and out is None and "disk I/O error" in reason


def test_a_lossy_result_without_a_store_is_passed_through(runs_text: str) -> None:
    ctx = CompressionContext(config=HeadroomConfig(), counter=get_counter("gpt-4o"), store=None, persist=True)
    out, _kind, reason, _hit = compress_content(runs_text, ctx)
    assert out is None and "no CCR store" in reason
