"""The headroom command: compress, retrieve, stats and --help, run as a user would."""

from __future__ import annotations

import json
import os
import re
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


@pytest.mark.parametrize("command", ["demo", "compress", "retrieve", "stats", "bench"])
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


def test_version_prints_the_distribution_name_and_version() -> None:
    from importlib.metadata import version

    done = _headroom("--version")
    assert done.returncode == 0 and done.stdout.decode() == f"headroom-context {version('headroom-context')}\n"


def test_bare_headroom_prints_the_help_and_exits_0() -> None:
    done = _headroom()
    text = done.stdout.decode()
    assert done.returncode == 0 and text.startswith("usage: headroom ") and "Start with: headroom demo" in text


def test_demo_shows_the_saving_what_was_kept_and_the_retrieve_command() -> None:
    done = _headroom("demo")
    text = done.stdout.decode()
    assert done.returncode == 0
    assert "kept 6 of 30 items (1 error, 1 rare, 2 first, 1 last, 1 diverse), verbatim:" in text
    assert "run 2802600146 Lint: failure" in text and "POSSIBLE BREAK-IN ATTEMPT" in text
    assert len(re.findall(r"-> [\d,]+ tokens \(\d+% fewer, \$\d\.\d{4} saved\)", text)) == 2


def test_demo_key_restores_the_sample_byte_for_byte() -> None:
    key = re.search(r"headroom retrieve (hr_[0-9a-f]{16})", _headroom("demo").stdout.decode()).group(1)  # type: ignore[union-attr]
    runs = json.dumps(json.loads(RUNS.read_text())["body"])
    assert _headroom("retrieve", key).stdout.decode() == runs


def test_unknown_model_is_said_once() -> None:
    done = _headroom("compress", str(SAMPLES / "logs/OpenSSH_2k.log"), "--model", "gpt-9")
    said = done.stderr.decode()
    assert done.returncode == 0 and said.count("unknown model 'gpt-9'") == 1
    assert "assumed the default 128,000-token window and no price, so costs are not computed" in said


def test_demo_says_an_unknown_model_once() -> None:
    done = _headroom("demo", "--model", "gpt-9")
    assert (done.stdout + done.stderr).decode().count("nknown model 'gpt-9'") == 1


def test_bad_store_url_names_the_flag() -> None:
    done = _headroom("compress", str(RUNS), "--store-url", "not a url")
    assert done.returncode == 2 and done.stderr.decode() == (
        "headroom: error: invalid value 'not a url' for --store-url: "
        "expected a SQLAlchemy URL such as sqlite:////abs/path/headroom.db, sqlite:// (in memory) "
        "or postgresql://user@host/db\n"
    )


def test_empty_model_flag_is_a_clear_error() -> None:
    done = _headroom("compress", str(RUNS), "--model", "")
    assert done.returncode == 2
    assert done.stderr.decode().endswith(
        "argument --model: expected a model name such as gpt-4o, got an empty string\n"
    )


def test_bad_environment_variable_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_KEEP_TURNS", "two")
    done = _headroom("compress", str(RUNS))
    assert done.returncode == 2
    assert (
        done.stderr.decode()
        == "headroom: error: invalid value 'two' for HEADROOM_KEEP_TURNS: expected an integer >= 0\n"
    )


def _record(source: str, before: int, after: int) -> None:
    from headroom.ccr.store import get_store
    from headroom.config import HeadroomConfig

    get_store(HeadroomConfig()).record_metrics(
        source=source, model="gpt-4o", mode="optimize", tokens_before=before, tokens_after=after
    )


def test_stats_says_which_store_and_that_it_is_shared() -> None:
    lines = _headroom("stats").stdout.decode().splitlines()
    workspace = os.environ["HEADROOM_WORKSPACE_DIR"]
    assert lines[0] == f"store              sqlite:///{workspace}/headroom.db"
    assert lines[1] == (
        f"                   shared by every process using the workspace {workspace} (HEADROOM_WORKSPACE_DIR); "
        "the figures are their total"
    )


def test_stats_with_a_store_url_says_it_is_shared_by_that_url(tmp_path: Path) -> None:
    text = _headroom("stats", "--store-url", f"sqlite:///{tmp_path}/other.db").stdout.decode()
    assert "shared by every process using this store URL; the figures are their total" in text


def test_stats_breaks_requests_down_by_source() -> None:
    _record("client", 1000, 400)
    _record("proxy", 500, 100)
    _record("proxy", 500, 100)
    text = _headroom("stats").stdout.decode()
    assert "requests recorded  3 by source: client 1, proxy 2; one source: headroom stats --source client" in text
    assert "tokens             2,000 -> 600 (saved 1,400; 0 read from provider caches)" in text


def test_stats_for_one_source_shows_its_figures_only() -> None:
    _record("client", 1000, 400)
    _record("proxy", 500, 100)
    text = _headroom("stats", "--source", "proxy").stdout.decode()
    assert "requests recorded  1 with source 'proxy' (all sources: 2)" in text
    assert "tokens             500 -> 100 (saved 400; 0 read from provider caches)" in text


def test_stats_json_has_totals_by_source() -> None:
    _record("proxy", 500, 100)
    by_source = json.loads(_headroom("stats", "--json").stdout)["by_source"]
    assert by_source["proxy"]["requests"] == 1 and by_source["proxy"]["tokens_saved"] == 400
