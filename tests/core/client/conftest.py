"""Fixtures of the HeadroomClient tests: the scripted server, real SDK clients, a real tool output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.core.client.shared import QUESTION
from tests.support.scripted_server import ScriptedServer


@pytest.fixture
def srv() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A store of this test's own (the client's metrics and cache tables live there)."""
    return f"sqlite:///{tmp_path / 'headroom.db'}"


@pytest.fixture
def oai(srv: ScriptedServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.base_url, api_key="test-key", max_retries=0)


@pytest.fixture
def async_oai(srv: ScriptedServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=srv.base_url, api_key="test-key", max_retries=0)


@pytest.fixture
def claude(srv: ScriptedServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=srv.anthropic_base_url, api_key="test-key", max_retries=0)


@pytest.fixture
def async_claude(srv: ScriptedServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=srv.anthropic_base_url, api_key="test-key", max_retries=0)


@pytest.fixture(scope="session")
def workflow_runs(samples_dir: Path) -> list[dict[str, Any]]:
    """30 real GitHub Actions runs (PyGithub replay data), one of which failed."""
    data = json.loads((samples_dir / "json" / "PullRequest2408.test_get_workflow_runs.85.json").read_text())
    runs = data["body"]["workflow_runs"]
    assert [r["conclusion"] for r in runs].count("failure") == 1
    return runs


@pytest.fixture(scope="session")
def failed_run(workflow_runs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in workflow_runs if r["conclusion"] == "failure")


@pytest.fixture
def openai_messages(workflow_runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An agent turn: the question, a tool call, and the tool's real JSON output."""
    call = {"id": "call_runs", "type": "function",
            "function": {"name": "list_workflow_runs", "arguments": json.dumps({"repo": "ReDASers/PhishBench"})}}  # fmt: skip
    return [
        {"role": "system", "content": "You answer questions about CI runs. Use the tools."},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_runs", "content": json.dumps(workflow_runs)},
    ]


@pytest.fixture
def anthropic_messages(workflow_runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same agent turn in the Messages API format."""
    use = {"type": "tool_use", "id": "toolu_runs", "name": "list_workflow_runs",
           "input": {"repo": "ReDASers/PhishBench"}}  # fmt: skip
    result = {"type": "tool_result", "tool_use_id": "toolu_runs", "content": json.dumps(workflow_runs)}
    return [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": [{"type": "text", "text": "Let me list the runs."}, use]},
        {"role": "user", "content": [result]},
    ]
