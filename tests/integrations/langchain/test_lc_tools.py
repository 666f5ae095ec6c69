"""Tool-output compression without wrapping the model: wrapped tools, the LangGraph step, the retrieve tool."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from headroom import metrics, retrieve
from headroom.ccr import ccr_key
from langchain.agents import create_agent
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, tool
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, MessagesState, StateGraph

import headroom_integrations.langchain.compression as compression
from headroom_integrations.langchain import compress_messages_hook, compress_tools, headroom_retrieve_tool
from tests.integrations.langchain.lc_helpers import (
    FAILED_RUN_ID,
    QUESTION,
    SYSTEM_PROMPT,
    assert_tool_calls_paired,
    sent_messages,
)
from tests.support.scripted_server import ScriptedServer, text_reply, tool_call_reply


@pytest.fixture
def runs_tool(workflow_runs: str) -> BaseTool:
    @tool
    def list_workflow_runs(repo: str) -> str:
        """List the recent GitHub Actions workflow runs of a repository."""
        return workflow_runs

    return list_workflow_runs


def _items(text: str) -> list[dict[str, Any]]:
    return [r for r in json.loads(text) if "id" in r]


def test_wrapped_tool_output_is_crushed_and_keeps_the_failed_run(runs_tool: BaseTool, workflow_runs: str) -> None:
    [wrapped] = compress_tools([runs_tool])
    out = wrapped.invoke({"repo": "ReDASers/PhishBench"})
    assert len(out) < len(workflow_runs) / 2
    assert any(r["id"] == FAILED_RUN_ID and r["conclusion"] == "failure" for r in _items(out))
    assert retrieve(ccr_key(workflow_runs)) == workflow_runs


def test_the_original_tool_is_left_unchanged(runs_tool: BaseTool, workflow_runs: str) -> None:
    [wrapped] = compress_tools([runs_tool])
    assert (wrapped.name, wrapped.description, wrapped.args) == (runs_tool.name, runs_tool.description, runs_tool.args)
    assert runs_tool.invoke({"repo": "x"}) == workflow_runs


def test_a_tool_profile_sets_how_much_is_kept(runs_tool: BaseTool) -> None:
    [default] = compress_tools([runs_tool])
    [tight] = compress_tools([runs_tool], profiles={"list_workflow_runs": {"max_items_after_crush": 3}})
    assert len(_items(tight.invoke({"repo": "x"}))) < len(_items(default.invoke({"repo": "x"})))


def test_skip_compression_profile_passes_the_output_through(runs_tool: BaseTool, workflow_runs: str) -> None:
    [wrapped] = compress_tools([runs_tool], profiles={"list_workflow_runs": {"skip_compression": True}})
    assert wrapped.invoke({"repo": "x"}) == workflow_runs


def test_profiles_for_unknown_tools_are_rejected(runs_tool: BaseTool) -> None:
    from headroom.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="list_workflow_run"):
        compress_tools([runs_tool], profiles={"list_workflow_run": {"skip_compression": True}})


def test_tool_call_input_returns_a_tool_message_with_its_id(runs_tool: BaseTool, workflow_runs: str) -> None:
    [wrapped] = compress_tools([runs_tool])
    message = wrapped.invoke({"type": "tool_call", "id": "call_7", "name": "list_workflow_runs", "args": {"repo": "x"}})
    assert isinstance(message, ToolMessage) and message.tool_call_id == "call_7"
    assert len(message.content) < len(workflow_runs) / 2


def test_content_and_artifact_tools_keep_their_artifact(workflow_runs: str) -> None:
    @tool(response_format="content_and_artifact")
    def runs_with_artifact(repo: str) -> tuple[str, dict[str, int]]:
        """Workflow runs and their count."""
        return workflow_runs, {"count": 30}

    [wrapped] = compress_tools([runs_with_artifact])
    message = wrapped.invoke({"type": "tool_call", "id": "c1", "name": "runs_with_artifact", "args": {"repo": "x"}})
    assert message.artifact == {"count": 30}
    assert len(message.content) < len(workflow_runs) / 2


def test_async_invocation_compresses_once_like_sync(runs_tool: BaseTool) -> None:
    [wrapped] = compress_tools([runs_tool])
    assert asyncio.run(wrapped.ainvoke({"repo": "x"})) == wrapped.invoke({"repo": "x"})


def test_audit_mode_returns_the_original(runs_tool: BaseTool, workflow_runs: str) -> None:
    [wrapped] = compress_tools([runs_tool], mode="audit")
    assert wrapped.invoke({"repo": "x"}) == workflow_runs


def test_compression_failure_returns_the_original_and_is_counted(
    runs_tool: BaseTool, workflow_runs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("no room")

    monkeypatch.setattr(compression, "compress_text", broken)
    before = metrics.snapshot().get("errors.langchain.compress", 0)
    [wrapped] = compress_tools([runs_tool])
    assert wrapped.invoke({"repo": "x"}) == workflow_runs
    assert metrics.snapshot()["errors.langchain.compress"] == before + 1


def test_retrieve_tool_returns_the_original_or_the_matching_items(runs_tool: BaseTool, workflow_runs: str) -> None:
    [wrapped] = compress_tools([runs_tool])
    wrapped.invoke({"repo": "x"})
    retrieve_tool = headroom_retrieve_tool()
    key = ccr_key(workflow_runs)
    assert retrieve_tool.invoke({"key": key}) == workflow_runs
    matches = json.loads(retrieve_tool.invoke({"key": key, "query": str(FAILED_RUN_ID)}))
    assert matches[0]["id"] == FAILED_RUN_ID
    assert retrieve_tool.invoke({"key": "hr_0000000000000000"}).startswith("error:")


def test_agent_with_wrapped_tools_sends_compressed_outputs(
    server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI], runs_tool: BaseTool, workflow_runs: str
) -> None:
    server.script(
        tool_call_reply("list_workflow_runs", {"repo": "ReDASers/PhishBench"}, call_id="c1"),
        text_reply("Run 2802600146 failed."),
    )
    agent = create_agent(chat_openai(), compress_tools([runs_tool]), system_prompt=SYSTEM_PROMPT)
    agent.invoke({"messages": [HumanMessage(QUESTION)]})
    sent = sent_messages(server)
    assert_tool_calls_paired(sent)
    assert len(sent[-1]["content"]) < len(workflow_runs) / 2


class _Received(BaseCallbackHandler):
    def __init__(self) -> None:
        self.messages: list[list[BaseMessage]] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.messages.append(messages[0])


def test_graph_node_replaces_state_messages_by_their_compressed_form(session_messages: list[BaseMessage]) -> None:
    model = FakeMessagesListChatModel(responses=[AIMessage("Run 2802600146 failed.")])
    graph = StateGraph(MessagesState)
    graph.add_node("compress", compress_messages_hook(output="messages"))
    graph.add_node("model", lambda state: {"messages": [model.invoke(state["messages"])]})
    graph.add_edge(START, "compress")
    graph.add_edge("compress", "model")
    graph.add_edge("model", END)
    received = _Received()
    state = graph.compile().invoke({"messages": session_messages}, config={"callbacks": [received]})
    assert len(received.messages[-1][-1].content) < len(session_messages[-1].content) / 2
    assert [m.id for m in state["messages"][:4]] == [m.id for m in session_messages]
    assert len(state["messages"][3].content) < len(session_messages[-1].content) / 2


def test_pre_model_hook_compresses_what_the_model_sees_and_keeps_the_state(
    server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI], runs_tool: BaseTool, workflow_runs: str
) -> None:
    from langgraph.prebuilt import create_react_agent

    server.script(
        tool_call_reply("list_workflow_runs", {"repo": "ReDASers/PhishBench"}, call_id="c1"),
        text_reply("Run 2802600146 failed."),
    )
    with pytest.warns(Warning):  # create_react_agent is deprecated in favour of create_agent; still supported
        agent = create_react_agent(chat_openai(), [runs_tool], pre_model_hook=compress_messages_hook())
    state = agent.invoke({"messages": [HumanMessage(QUESTION)]})
    assert len(sent_messages(server)[-1]["content"]) < len(workflow_runs) / 2
    assert next(m for m in state["messages"] if isinstance(m, ToolMessage)).content == workflow_runs
