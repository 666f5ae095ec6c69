"""Constants and assertions shared by the LangChain adapter tests (fixtures are in conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.scripted_server import ScriptedServer

SYSTEM_PROMPT = "You are a CI assistant. Answer from the tool outputs; cite run ids."
QUESTION = "Which workflow run of ReDASers/PhishBench failed, and in which workflow?"
FAILED_RUN_ID = 2802600146  # the only run with conclusion "failure" in the recorded response


def corpus_body(corpus_dir: Path, name: str) -> Any:
    """The recorded GitHub API response body of one corpus file."""
    return json.loads((corpus_dir / "json" / name).read_text(encoding="utf-8"))["body"]


def sent_messages(server: ScriptedServer, index: int = -1) -> list[dict[str, Any]]:
    """The ``messages`` of a chat request the provider received."""
    return server.requests_to("/v1/chat/completions")[index].body["messages"]


def tool_names_offered(server: ScriptedServer, index: int = -1) -> list[str]:
    body = server.requests_to("/v1/chat/completions")[index].body
    return [t["function"]["name"] for t in body.get("tools") or []]


def assert_tool_calls_paired(messages: list[dict[str, Any]]) -> None:
    """Every assistant tool call is answered by a tool message, and every tool message answers a call."""
    called = [c["id"] for m in messages if m["role"] == "assistant" for c in m.get("tool_calls") or []]
    answered = [m["tool_call_id"] for m in messages if m["role"] == "tool"]
    assert sorted(called) == sorted(answered)
