"""``headroom stats`` and ``headroom retrieve`` on unusable stores and odd keys: one sentence, non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from headroom.ccr import CCRStore
from headroom.config import CCRConfig


def _headroom(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "headroom.cli", *args], capture_output=True, timeout=120, env=dict(os.environ)
    )


def _one_sentence(out: subprocess.CompletedProcess[bytes]) -> str:
    lines = out.stderr.decode("utf-8", "replace").strip().splitlines()
    assert out.returncode != 0 and len(lines) == 1, lines
    assert "Traceback" not in lines[0] and "sqlalche.me" not in lines[0]
    return lines[0]


def test_stats_on_a_file_that_is_not_a_database_prints_one_sentence(tmp_path: Path) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("not a database\n" * 200)
    line = _one_sentence(_headroom("stats", "--store-url", f"sqlite:///{notes}"))
    assert line == f"headroom: error: cannot open the Headroom store sqlite:///{notes}: file is not a database"


def test_stats_on_an_unknown_scheme_prints_one_sentence() -> None:
    line = _one_sentence(_headroom("stats", "--store-url", "nosuchdb://host/db"))
    assert "unknown URL scheme 'nosuchdb'" in line


def test_retrieve_of_an_undecodable_key_prints_one_sentence() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "headroom.cli", "retrieve", os.fsdecode(b"\xff")], capture_output=True, timeout=120
    )
    assert "is not a CCR key" in _one_sentence(out)


def test_retrieve_of_an_expired_key_cites_when_the_entry_expired(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    key = CCRStore(url, CCRConfig(ttl_seconds=1)).put("gone soon")
    time.sleep(1.1)
    line = _one_sentence(_headroom("retrieve", key, "--store-url", url))
    assert f"CCR key '{key}' expired" in line and "kept until" in line
