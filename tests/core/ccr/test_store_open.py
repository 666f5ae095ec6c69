"""Opening a store: unusable stores fail open with one sentence, concurrent first opens, owner-only files."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import headroom
import pytest
from headroom import metrics
from headroom.ccr import CCRStore, get_store
from headroom.ccr import engine as store_engine
from headroom.ccr import store as store_module
from headroom.config import HeadroomConfig
from headroom.errors import StoreError

SAMPLES = Path(__file__).resolve().parents[3] / "core/headroom/samples"
RUNS = json.dumps(json.loads((SAMPLES / "json/PullRequest2408.test_get_workflow_runs.85.json").read_text())["body"])


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


def _not_a_database(tmp_path: Path) -> str:
    path = tmp_path / "notes.db"
    path.write_text("these are notes, not a database\n" * 100)
    return f"sqlite:///{path}"


def _truncated(tmp_path: Path) -> str:
    path = tmp_path / "truncated.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE t (x TEXT)")
        raw.executemany("INSERT INTO t VALUES (?)", [("x" * 1000,)] * 500)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return f"sqlite:///{path}"


def _under_a_file(tmp_path: Path) -> str:
    (tmp_path / "a-file").write_text("a regular file")
    return f"sqlite:///{tmp_path}/a-file/headroom.db"


UNUSABLE = {
    # Root may write anywhere on a normal filesystem, so the folder that cannot be written is /proc.
    "read-only folder": (lambda tmp: "sqlite:////proc/headroom/headroom.db", "cannot create it"),
    "not a database": (_not_a_database, "file is not a database"),
    "truncated database": (_truncated, "malformed"),
    "unknown URL scheme": (lambda tmp: "nosuchdb://host/store", "unknown URL scheme 'nosuchdb'"),
    "path under a regular file": (_under_a_file, "is not a directory"),
}


@pytest.fixture(autouse=True)
def _fresh_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "_failed", {})


@pytest.mark.parametrize("case", sorted(UNUSABLE))
def test_an_unusable_store_raises_one_store_error_sentence(case: str, tmp_path: Path) -> None:
    make_url, expected = UNUSABLE[case]
    with pytest.raises(StoreError) as caught:
        CCRStore(make_url(tmp_path))
    message = str(caught.value)
    assert message.startswith("cannot open the Headroom store ") and expected in message
    assert "\n" not in message and "sqlalche.me" not in message


@pytest.mark.parametrize("case", sorted(UNUSABLE))
def test_compress_fails_open_on_an_unusable_store(
    case: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    monkeypatch.setattr(importlib.import_module("headroom.compress"), "_reported", set())
    url = UNUSABLE[case][0](tmp_path)
    config = HeadroomConfig(store_url=url)
    before = metrics.snapshot().get("errors.store.unavailable", 0)
    with caplog.at_level(logging.WARNING):
        first = headroom.compress(_tool_call(RUNS), config=config)
        second = headroom.compress(_tool_call(RUNS), config=config)
    for result in (first, second):
        assert not result.ccr_keys and not any("lossy" in t for t in result.transforms_applied)
        assert "omitted by headroom" not in result.messages[-1]["content"]  # nothing dropped
    assert metrics.snapshot()["errors.store.unavailable"] == before + 2
    store_lines = [r for r in caplog.records if "Headroom store" in r.getMessage()]
    assert len(store_lines) == 1 and store_lines[0].exc_info is None


def test_a_missing_postgres_driver_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now raises ImportError
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    with pytest.raises(StoreError, match=r'pip install "headroom-context\[postgres\]"'):
        CCRStore("postgresql://headroom:secret@127.0.0.1:9/headroom")


def test_a_password_in_the_url_is_never_shown() -> None:
    with pytest.raises(StoreError) as caught:
        CCRStore("postgresql+psycopg://headroom:s3cret-pw@127.0.0.1:9/headroom")  # nothing listens on port 9
    assert "s3cret-pw" not in str(caught.value) and "headroom:***@" in str(caught.value)


def test_a_failed_open_is_remembered_briefly_then_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = _not_a_database(tmp_path)
    with pytest.raises(StoreError):
        get_store(store_url=url)
    monkeypatch.setattr(store_module, "CCRStore", lambda *a, **k: pytest.fail("opened again at once"))
    with pytest.raises(StoreError, match="file is not a database"):
        get_store(store_url=url)
    monkeypatch.setattr(store_module, "STORE_RETRY_SECONDS", 0.0)
    Path(url.removeprefix("sqlite:///")).unlink()
    monkeypatch.undo()
    monkeypatch.setattr(store_module, "STORE_RETRY_SECONDS", 0.0)
    assert get_store(store_url=url).stats()["entries"] == 0


def _open_and_put(url: str, n: int, barrier: Any) -> None:
    barrier.wait()
    CCRStore(url).put(f"opened by process {n}")


def test_many_processes_opening_a_new_store_at_once_all_succeed(store_url: str) -> None:
    url = store_url
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(12)
    procs = [ctx.Process(target=_open_and_put, args=(url, n, barrier)) for n in range(12)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 12
    assert CCRStore(url).stats()["entries"] == 12


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_workspace_and_store_files_are_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_engine, "_workspaces", {})
    monkeypatch.setattr(store_engine, "_resolved", {})
    monkeypatch.setattr(os, "umask", os.umask)  # restored by monkeypatch, whatever the test sets
    old = os.umask(0o022)  # the usual umask, under which files would be world-readable
    try:
        workspace = tmp_path / "home" / ".headroom"
        store = get_store(HeadroomConfig(workspace_dir=str(workspace), stateless=False))
        store.put(RUNS)
    finally:
        os.umask(old)
    files = {p.name: _mode(p) for p in workspace.iterdir()}
    assert _mode(workspace) == 0o700
    assert files == {"headroom.db": 0o600, "headroom.db-wal": 0o600, "headroom.db-shm": 0o600}


def test_an_existing_workspace_keeps_its_permissions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_engine, "_workspaces", {})
    monkeypatch.setattr(store_engine, "_resolved", {})
    shared = tmp_path / "team"
    shared.mkdir(mode=0o750)
    os.chmod(shared, 0o750)
    get_store(HeadroomConfig(workspace_dir=str(shared))).put("x")
    assert _mode(shared) == 0o750 and _mode(shared / "headroom.db") == 0o600


def test_an_unwritable_workspace_falls_back_to_a_private_per_user_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_engine, "_workspaces", {})
    monkeypatch.setattr(store_engine, "_resolved", {})
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    url = headroom.ccr.resolve_store_url(HeadroomConfig(workspace_dir="/proc/headroom"))
    folder = Path(url.removeprefix("sqlite:///")).parent
    assert folder == tmp_path / f"headroom-{os.getuid()}"
    assert _mode(folder) == 0o700 and folder.stat().st_uid == os.getuid()


@pytest.mark.parametrize("taken_by", ["symlink", "open folder"])
def test_a_fallback_name_taken_by_something_else_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken_by: str
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    predictable = tmp_path / f"headroom-{os.getuid()}"
    if taken_by == "symlink":
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        predictable.symlink_to(tmp_path / "elsewhere")
    else:
        predictable.mkdir()
        os.chmod(predictable, 0o777)
    chosen = headroom.env.private_temp_dir()
    assert chosen != predictable and chosen.parent == tmp_path
    assert _mode(chosen) == 0o700 and not chosen.is_symlink()


_STATELESS_RUN = """
import json, sys
import headroom
messages = json.loads(sys.stdin.read())
result = headroom.compress(messages)
assert result.ccr_keys, result.transforms_applied
assert headroom.retrieve(result.ccr_keys[0], config=headroom.HeadroomConfig()) == messages[-1]["content"]
print("ok")
"""


def _snapshot(*roots: Path) -> set[str]:
    return {str(p) for root in roots for p in root.rglob("*")}


def test_stateless_mode_writes_nothing_to_the_filesystem(tmp_path: Path) -> None:
    home, tmp, workspace = tmp_path / "home", tmp_path / "tmp", tmp_path / "workspace"
    for folder in (home, tmp, workspace):
        folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEADROOM_", "TIKTOKEN_"))}
    env.update(HOME=str(home), TMPDIR=str(tmp), HEADROOM_STATELESS="1", HEADROOM_WORKSPACE_DIR=str(workspace))
    before = _snapshot(home, tmp, workspace)
    out = subprocess.run(
        [sys.executable, "-c", _STATELESS_RUN],
        input=json.dumps(_tool_call(RUNS)),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
    assert _snapshot(home, tmp, workspace) == before == set()


def test_an_unusable_store_sends_the_conversation_unfitted_and_says_why(tmp_path: Path) -> None:
    url = UNUSABLE[sorted(UNUSABLE)[0]][0](tmp_path)
    config = HeadroomConfig(store_url=url, model_context_limits={"gpt-4o": 8_000})
    request = _tool_call(RUNS)
    result = headroom.compress(request, config=config)
    sent = json.dumps(result.messages)
    assert "omitted by headroom" not in sent and "[headroom" not in sent and len(result.messages) == len(request)
    assert "fitting" not in result.extras and not result.dropped_messages
    assert any("CCR store is unavailable" in n and "nothing dropped or fitted" in n for n in result.passthrough_reasons)
