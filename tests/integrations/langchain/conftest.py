"""Fixtures of the LangChain adapter tests: the scripted provider, ChatOpenAI pointed at it, corpus tool outputs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_openai import ChatOpenAI

from tests.integrations.langchain.lc_helpers import QUESTION, SYSTEM_PROMPT, corpus_body
from tests.support.scripted_server import ScriptedServer


@pytest.fixture(scope="session")
def workflow_runs(corpus_dir: Path) -> str:
    """30 workflow runs of a real repository (one failed), as the GitHub API returned them: ~115K tokens."""
    return json.dumps(corpus_body(corpus_dir, "PullRequest2408.test_get_workflow_runs.85.json")["workflow_runs"])


@pytest.fixture(scope="session")
def search_results(corpus_dir: Path) -> str:
    """A real repository search response (30 repositories)."""
    return json.dumps(corpus_body(corpus_dir, "Search.testSearchRepos.118.json"))


@pytest.fixture
def session_messages(workflow_runs: str) -> list[BaseMessage]:
    """A system prompt, a question, one tool call and its large JSON result."""
    return [
        SystemMessage(SYSTEM_PROMPT, id="sys"),
        HumanMessage(QUESTION, id="q1"),
        AIMessage(
            "",
            id="a1",
            tool_calls=[{"id": "call_runs", "name": "list_workflow_runs", "args": {"repo": "ReDASers/PhishBench"}}],
        ),
        ToolMessage(workflow_runs, tool_call_id="call_runs", name="list_workflow_runs", id="t1"),
    ]


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:
        yield srv


@pytest.fixture
def chat_openai(server: ScriptedServer) -> Callable[..., ChatOpenAI]:
    """``ChatOpenAI`` talking to the scripted server (no retries, so provider errors surface at once)."""

    def make(**kwargs: Any) -> ChatOpenAI:
        return ChatOpenAI(model="gpt-4o", base_url=server.base_url, api_key="test", max_retries=0, **kwargs)

    return make
