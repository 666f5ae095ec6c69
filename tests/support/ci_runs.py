"""One agent turn over 30 real GitHub Actions runs (PyGithub replay data, one failed), in both wire formats.

Shared by the HeadroomClient and proxy tests: the question, a tool call listing the runs, and the
tool's real JSON output, as OpenAI chat messages or Anthropic Messages API messages. The fixtures
below are registered for every test by tests/conftest.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

QUESTION = "Which workflow runs of PhishBench failed, and on which branch?"
_ARGS = {"repo": "ReDASers/PhishBench"}


def load_workflow_runs(samples_dir: Path) -> list[dict[str, Any]]:
    """The 30 runs of the bundled sample; exactly one has ``conclusion: failure``."""
    data = json.loads((samples_dir / "json" / "PullRequest2408.test_get_workflow_runs.85.json").read_text())
    runs: list[dict[str, Any]] = data["body"]["workflow_runs"]
    assert [r["conclusion"] for r in runs].count("failure") == 1
    return runs


def openai_turn(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The turn as OpenAI chat messages: system, question, tool call, tool output."""
    call = {
        "id": "call_runs",
        "type": "function",
        "function": {"name": "list_workflow_runs", "arguments": json.dumps(_ARGS)},
    }
    return [
        {"role": "system", "content": "You answer questions about CI runs. Use the tools."},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_runs", "content": json.dumps(runs)},
    ]


def anthropic_turn(runs: list[dict[str, Any]], preface: str | None = None) -> list[dict[str, Any]]:
    """The same turn in the Messages API format; ``preface`` is text the assistant says before its tool call."""
    use = {"type": "tool_use", "id": "toolu_runs", "name": "list_workflow_runs", "input": dict(_ARGS)}
    result = {"type": "tool_result", "tool_use_id": "toolu_runs", "content": json.dumps(runs)}
    said = [{"type": "text", "text": preface}] if preface else []
    return [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": [*said, use]},
        {"role": "user", "content": [result]},
    ]


@pytest.fixture(scope="session")
def workflow_runs(samples_dir: Path) -> list[dict[str, Any]]:
    """30 real GitHub Actions runs (PyGithub replay data), one of which failed."""
    return load_workflow_runs(samples_dir)


@pytest.fixture(scope="session")
def failed_run(workflow_runs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in workflow_runs if r["conclusion"] == "failure")


@pytest.fixture
def openai_messages(workflow_runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An agent turn: the question, a tool call, and the tool's real JSON output."""
    return openai_turn(workflow_runs)
