"""The CCR store: exact round trips, limits, concurrency, search and the retrieve tool."""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from pathlib import Path

import headroom
import pytest
from headroom.ccr import RETRIEVE_TOOL, CCRStore, execute_retrieve_tool, get_store, resolve_store_url
from headroom.config import CCRConfig, HeadroomConfig
from headroom.errors import RetrievalError

LOG = (Path(__file__).resolve().parents[3] / "core/headroom/samples/logs/OpenSSH_2k.log").read_text()


def test_round_trip_is_byte_for_byte(store_url: str) -> None:
    store = CCRStore(store_url)
    for content in (LOG, "crlf\r\nline\r\n", "lone \ud800 surrogate", "emoji 🙂 and nul \x00"):
        assert store.get(store.put(content)) == content


def test_same_content_same_key(store_url: str) -> None:
    store = CCRStore(store_url)
    assert store.put(LOG) == store.put(LOG) == headroom.ccr.ccr_key(LOG)
    assert store.stats()["entries"] == 1


def test_storing_again_refreshes_expiry_and_counts_each_compression(store_url: str) -> None:
    store = CCRStore(store_url, CCRConfig(ttl_seconds=60))
    key = store.put(LOG, kind="log", tool_name="fetch_logs", meta={"lines": 2000})
    first = store.get_entry(key)
    time.sleep(0.01)
    assert store.put(LOG, kind="log", tool_name="fetch_logs") == key
    again = store.get_entry(key)
    assert again.expires_at > first.expires_at
    assert (again.content, again.kind, again.meta, again.created_at) == (LOG, "log", {"lines": 2000}, first.created_at)
    assert store.tool_feedback("fetch_logs") == (2, 0)


def test_key_depends_on_content_only_not_on_which_string_object() -> None:
    copy = "".join(list(LOG))
    other = LOG + "\n"
    first = headroom.ccr.ccr_key(LOG)
    assert copy is not LOG and headroom.ccr.ccr_key(copy) == first
    assert headroom.ccr.ccr_key(other) != first == headroom.ccr.ccr_key(LOG)


def test_unknown_and_expired_keys_raise_retrieval_error(store_url: str) -> None:
    store = CCRStore(store_url, CCRConfig(ttl_seconds=1))
    key = store.put("short lived")
    with pytest.raises(RetrievalError, match="no content"):
        store.get("hr_0000000000000000")
    time.sleep(1.1)
    with pytest.raises(RetrievalError, match="expired"):
        store.get(key)


def test_size_limits_evict_least_recently_used(store_url: str) -> None:
    store = CCRStore(store_url, CCRConfig(max_entries=3))
    keys = [store.put(f"entry {i}") for i in range(5)]
    store.enforce_limits(grace_seconds=0)
    assert store.stats()["entries"] == 3 and keys[-1] in store and keys[0] not in store


def test_limit_checks_read_indexes_not_stored_content(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "s.db"
    with sqlite3.connect(db) as raw:  # a store written before the indexes existed
        raw.execute(
            "CREATE TABLE headroom_ccr_entries (key VARCHAR(64) PRIMARY KEY, content BLOB NOT NULL, size INTEGER NOT NULL,"
            " kind VARCHAR(32) NOT NULL, tool_name VARCHAR(256), created_at FLOAT NOT NULL, expires_at FLOAT NOT NULL,"
            " last_access FLOAT NOT NULL, retrievals INTEGER NOT NULL, meta TEXT)"
        )
    store = CCRStore(f"sqlite:///{db}")
    key = store.put(LOG)
    with sqlite3.connect(db) as raw:
        plans = [
            " ".join(str(c) for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}") for c in row)
            for sql in (
                "SELECT count(*), coalesce(sum(size), 0) FROM headroom_ccr_entries",
                "DELETE FROM headroom_ccr_entries WHERE expires_at < 0",
                "SELECT key, size FROM headroom_ccr_entries ORDER BY last_access",
            )
        ]
    assert "COVERING INDEX ix_headroom_ccr_lru" in plans[0]
    assert "INDEX ix_headroom_ccr_expires" in plans[1]
    assert "INDEX ix_headroom_ccr_lru" in plans[2]
    assert store.enforce_limits() == 0 and store.get(key) == LOG


def test_entry_larger_than_limit_is_refused(store_url: str) -> None:
    store = CCRStore(store_url, CCRConfig(max_entry_bytes=10))
    with pytest.raises(headroom.StoreError):
        store.put("x" * 11)


def test_threads_writing_at_once_lose_nothing(store_url: str) -> None:
    store = CCRStore(store_url)
    keys: list[str] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        for i in range(25):
            k = store.put(f"thread {n} item {i}")
            with lock:
                keys.append(k)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 200 and all(store.get(k).startswith("thread") for k in keys)


def _process_writer(url: str, n: int) -> None:
    store = CCRStore(url)
    for i in range(30):
        store.put(f"process {n} item {i}", tool_name="list_items")


@pytest.mark.parametrize("start", ["spawn", "fork"])
def test_processes_writing_at_once_lose_nothing(store_url: str, start: str) -> None:
    url = store_url
    parent = CCRStore(url)
    parent.put("written by the parent before the workers start", tool_name="list_items")
    ctx = multiprocessing.get_context(start)
    procs = [ctx.Process(target=_process_writer, args=(url, n)) for n in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    parent.close()
    store = CCRStore(url)
    assert store.stats()["entries"] == 121
    assert store.get(headroom.ccr.ccr_key("process 3 item 29")) == "process 3 item 29"
    assert store.tool_feedback("list_items") == (121, 1)  # every process's counts written once, by itself


def _raw_compressions(url: str, tool: str) -> int:
    """The compressions of ``tool`` the database holds, read through a connection of its own."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT compressions FROM headroom_tool_feedback WHERE tool_name = :tool"), {"tool": tool}
            ).first()
    finally:
        engine.dispose()
    return 0 if row is None else int(row[0])


def test_compression_counts_are_seen_at_once_and_written_in_batches(store_url: str) -> None:
    db = store_url
    store = CCRStore(db)
    for i in range(5):
        store.put(f"{LOG}\n{i}", tool_name="fetch_logs")
    assert store.tool_feedback("fetch_logs") == (5, 0)
    assert _raw_compressions(db, "fetch_logs") == 0  # not written yet: no extra table write per put
    for i in range(5, 40):
        store.put(f"{LOG}\n{i}", tool_name="fetch_logs")
    assert 32 <= _raw_compressions(db, "fetch_logs") < 40
    assert store.tool_feedback("fetch_logs") == (40, 0)
    store.close()
    assert _raw_compressions(db, "fetch_logs") == 40
    assert CCRStore(db).tool_feedback("fetch_logs") == (40, 0)


def test_stateless_keeps_store_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_STATELESS", "1")
    assert resolve_store_url(HeadroomConfig()) == "sqlite://"


def test_relative_sqlite_path_lives_under_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_WORKSPACE_DIR", str(tmp_path))
    assert resolve_store_url(HeadroomConfig()) == f"sqlite:///{tmp_path}/headroom.db"


def test_search_within_original_returns_matching_lines() -> None:
    found = execute_retrieve_tool(
        {"key": get_store(HeadroomConfig()).put(LOG), "query": "Failed password root"}, get_store(HeadroomConfig())
    )
    lines = found.splitlines()
    assert lines and all("failed password" in line.lower() or "root" in line.lower() for line in lines)


def test_search_within_json_returns_items() -> None:
    items = [{"id": i, "login": f"user{i}"} for i in range(50)]
    store = get_store(HeadroomConfig())
    out = json.loads(execute_retrieve_tool({"key": store.put(json.dumps(items)), "query": "user42"}, store))
    assert out[0] == {"id": 42, "login": "user42"}


def test_retrieve_tool_line_range_and_errors() -> None:
    store = get_store(HeadroomConfig())
    key = store.put(LOG)
    assert execute_retrieve_tool(json.dumps({"key": key, "lines": "2-3"}), store) == "".join(LOG.splitlines(True)[1:3])
    assert execute_retrieve_tool({"key": "hr_missing"}, store).startswith("error:")
    assert execute_retrieve_tool({}, store).startswith("error:")


def test_retrieve_tool_schema_is_an_openai_function() -> None:
    fn = RETRIEVE_TOOL["function"]
    assert RETRIEVE_TOOL["type"] == "function" and fn["name"] == "headroom_retrieve"
    assert fn["parameters"]["required"] == ["key"]


def test_an_expired_key_cites_the_entrys_own_expiry_not_the_readers_ttl(store_url: str) -> None:
    url = store_url
    key = CCRStore(url, CCRConfig(ttl_seconds=1)).put("short lived")
    time.sleep(1.1)
    reader = CCRStore(url, CCRConfig(ttl_seconds=7 * 24 * 3600))
    with pytest.raises(RetrievalError) as caught:
        reader.get(key)
    assert "expired 1 s ago" in str(caught.value) and "kept until" in str(caught.value)
    assert "604800" not in str(caught.value) and "ttl_seconds" not in str(caught.value)


@pytest.mark.parametrize("key", ["\udcff", "hr_\udcff", "hr_0123", "HR_0123456789ABCDEF", "../../etc/passwd"])
def test_a_string_that_cannot_be_a_key_is_a_retrieval_error(key: str) -> None:
    with pytest.raises(RetrievalError, match="is not a CCR key"):
        headroom.retrieve(key)


def test_a_key_that_is_not_a_string_is_an_invalid_argument() -> None:
    with pytest.raises(headroom.InvalidArgumentError, match="got bytes"):
        headroom.retrieve(b"hr_0123456789abcdef")  # type: ignore[arg-type]


def test_a_huge_key_is_not_echoed_whole() -> None:
    with pytest.raises(RetrievalError) as caught:
        headroom.retrieve("hr_" + "a" * 10_000_000)
    assert len(str(caught.value)) < 200 and "10,000,003 characters" in str(caught.value)


def test_the_entry_count_overshoots_by_less_than_a_sixteenth(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(headroom.ccr.store, "EVICTION_GRACE_SECONDS", 0.0)
    store = CCRStore(store_url, CCRConfig(max_entries=48))
    counts = []
    for i in range(200):
        store.put(f"entry {i}")
        counts.append(store.stats()["entries"])
    assert max(counts) < 48 + 48 // 16 and counts[-1] >= 48 - 1


def test_the_total_size_overshoots_by_less_than_a_sixteenth_plus_one_entry(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(headroom.ccr.store, "EVICTION_GRACE_SECONDS", 0.0)
    limit = 64_000
    store = CCRStore(store_url, CCRConfig(max_total_bytes=limit))
    sizes = []
    for i in range(100):
        store.put(f"{i:04d}" + "x" * 2996)  # 3,000 bytes each
        sizes.append(store.stats()["bytes"])
    assert max(sizes) < limit + limit // 16 + 3000


def test_recently_used_entries_are_not_evicted_for_the_limits(store_url: str) -> None:
    store = CCRStore(store_url, CCRConfig(max_entries=2))
    keys = [store.put(f"entry {i}") for i in range(5)]
    store.enforce_limits()
    assert all(k in store for k in keys)  # all written just now: the markers naming them stay valid
    assert store.enforce_limits(grace_seconds=0) == 3


def test_retrievals_are_counted_per_tool_and_per_entry(store_url: str) -> None:
    store = CCRStore(store_url)
    key = store.put(LOG, kind="log", tool_name="fetch_logs")
    assert store.get(key) == LOG and store.get(key) == LOG
    assert store.tool_feedback("fetch_logs") == (1, 2)
    assert store.get_entry(key).retrievals == 2 and store.stats()["retrievals"] == 2


def test_metrics_are_recorded_and_totalled(store_url: str) -> None:
    store = CCRStore(store_url)
    for before, after in ((1000, 400), (2000, 500)):
        store.record_metrics(
            source="compress",
            model="gpt-4o",
            mode="optimize",
            tokens_before=before,
            tokens_after=after,
            cost_before=before / 1e6,
            cost_after=after / 1e6,
            data={"transforms": ["smart_crusher:lossy"]},
        )
    rows = store.metrics(source="compress")
    assert [r["tokens_before"] for r in rows] == [2000, 1000]  # newest first
    assert rows[0]["data"] == {"transforms": ["smart_crusher:lossy"]}
    stats = store.stats()
    assert (stats["requests"], stats["tokens_saved"]) == (2, 2100)
    assert stats["cost_saved_usd"] == pytest.approx(0.0021)


def test_keep_alive_tells_whether_an_entry_is_there(store_url: str) -> None:
    store = CCRStore(store_url, CCRConfig(ttl_seconds=1))
    key = store.put("kept alive")
    assert store.keep_alive(key) and not store.keep_alive(headroom.ccr.ccr_key("never stored"))
    time.sleep(1.1)
    assert not store.keep_alive(key)


def test_configs_with_other_limits_share_the_database_but_keep_their_limits(tmp_path: Path) -> None:
    from headroom.errors import StoreError

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    roomy = get_store(HeadroomConfig(store_url=url))
    small = get_store(HeadroomConfig(store_url=url, ccr=CCRConfig(max_entry_bytes=100)))
    key = roomy.put("x" * 1_000)
    assert small.get(key) == "x" * 1_000 and small.engine is roomy.engine
    with pytest.raises(StoreError, match="max_entry_bytes=100"):
        small.put("y" * 1_000)
    assert get_store(HeadroomConfig(store_url=url)).config.max_entry_bytes == CCRConfig().max_entry_bytes


def test_retrieving_with_a_query_finds_items_of_an_array_nested_in_envelopes(samples_dir: Path) -> None:
    from headroom.ccr.retrieval import search_original

    original = (samples_dir / "json" / "PullRequest2408.test_get_workflow_runs.85.json").read_text()
    found = json.loads(search_original(original, "failure"))
    assert 0 < len(found) < 30 and all("run_number" in item for item in found)
    assert any(item["conclusion"] == "failure" for item in found)
