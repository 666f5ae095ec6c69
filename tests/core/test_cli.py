"""The headroom command: compress, retrieve, stats and --help, run as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "core/headroom/samples"
RUNS = SAMPLES / "json/PullRequest2408.test_get_workflow_runs.85.json"


def _headroom(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "headroom.cli", *args],
        input=stdin,
        capture_output=True,
        env=os.environ.copy(),
        timeout=120,
        check=False,
    )


def test_compress_file_prints_output_and_one_line_summary() -> None:
    done = _headroom("compress", str(RUNS), "--query", "which run failed?")
    assert done.returncode == 0
    data = json.loads(done.stdout)
    assert "_headroom" in json.dumps(data) and any(
        r.get("conclusion") == "failure" for r in data["body"]["workflow_runs"] if isinstance(r, dict)
    )
    summary = done.stderr.decode().strip().splitlines()
    assert len(summary) == 1 and "fewer" in summary[0] and "hr_" in summary[0]


def test_compress_stdin_json_output_then_retrieve_restores_original() -> None:
    original = RUNS.read_bytes()
    done = _headroom("compress", "-", "--json", stdin=original)
    payload = json.loads(done.stdout)
    assert payload["tokens_after"] < payload["tokens_before"] and payload["ccr_keys"]
    back = _headroom("retrieve", payload["ccr_keys"][0])
    assert back.returncode == 0 and back.stdout == original


def test_compress_log_file() -> None:
    done = _headroom("compress", str(SAMPLES / "logs/OpenSSH_2k.log"), "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["tokens_before"] > 0


def test_compress_messages_file(tmp_path: Path) -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "c1", "content": RUNS.read_text()}]
    path = tmp_path / "messages.json"
    path.write_text(json.dumps(messages))
    done = _headroom("compress", str(path))
    out = json.loads(done.stdout)
    assert isinstance(out, list) and out[0] == messages[0] and len(out[1]["content"]) < len(messages[1]["content"])


def test_retrieve_unknown_key_exits_with_clear_error() -> None:
    done = _headroom("retrieve", "hr_0000000000000000")
    assert done.returncode == 2 and b"no content stored" in done.stderr


def test_retrieve_with_query_searches_the_original() -> None:
    payload = json.loads(_headroom("compress", str(RUNS), "--json").stdout)
    done = _headroom("retrieve", payload["ccr_keys"][0], "--query", "failure")
    assert done.returncode == 0 and b"failure" in done.stdout


def test_stats_reports_entries() -> None:
    _headroom("compress", str(RUNS))
    done = _headroom("stats", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["entries"] >= 1


def test_missing_file_is_a_clear_error() -> None:
    done = _headroom("compress", "/nonexistent/file.json")
    assert done.returncode == 2 and b"cannot read" in done.stderr


@pytest.mark.parametrize("command", ["compress", "retrieve", "stats", "bench"])
def test_every_command_has_help(command: str) -> None:
    done = _headroom(command, "--help")
    assert done.returncode == 0 and b"usage: headroom " + command.encode() in done.stdout


def test_stats_include_headroom_client_calls() -> None:
    import openai
    from headroom import HeadroomClient, OpenAIProvider

    from tests.support.scripted_server import ScriptedServer

    with ScriptedServer() as server:
        client = HeadroomClient(openai.OpenAI(base_url=server.base_url, api_key="test"), OpenAIProvider())
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    done = _headroom("stats", "--json")
    assert json.loads(done.stdout)["client"]["requests"] == 1
    assert b"HeadroomClient     1 calls (1 audit)" in _headroom("stats").stdout
