"""Agents built with ``langchain.agents.create_agent`` running a multi-step tool loop over corpus data.

Once through HeadroomChatModel, once through HeadroomMiddleware; then the same long session with
LangChain's ContextEditingMiddleware and SummarizationMiddleware for comparison.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import headroom
import openai
import pytest
from headroom import count_message_tokens, metrics, retrieve
from headroom.ccr import RETRIEVE_TOOL_NAME, ccr_key
from langchain.agents import create_agent
from langchain.agents.middleware import ClearToolUsesEdit, ContextEditingMiddleware, SummarizationMiddleware
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from headroom_integrations.langchain import (
    HeadroomCallbackHandler,
    HeadroomChatModel,
    HeadroomMiddleware,
    headroom_retrieve_tool,
)
from tests.integrations.langchain.lc_helpers import (
    FAILED_RUN_ID,
    QUESTION,
    SYSTEM_PROMPT,
    assert_tool_calls_paired,
    corpus_body,
    sent_messages,
    tool_names_offered,
)
from tests.support.scripted_server import ScriptedServer, error_reply, text_reply, tool_call_reply

FINAL = "Run 2802600146 of the Lint workflow failed; the phishing repositories found are listed above."


@pytest.fixture
def corpus_tools(corpus_dir: Path) -> list[BaseTool]:
    runs = json.dumps(corpus_body(corpus_dir, "PullRequest2408.test_get_workflow_runs.85.json")["workflow_runs"])
    repos = json.dumps(corpus_body(corpus_dir, "Search.testSearchRepos.118.json"))
    events = json.dumps(corpus_body(corpus_dir, "Github.testGetEvents.41.json"))

    @tool
    def list_workflow_runs(repo: str) -> str:
        """List the recent GitHub Actions workflow runs of a repository, as the GitHub API returns them."""
        return runs

    @tool
    def search_repositories(query: str) -> str:
        """Search GitHub repositories."""
        return repos

    @tool
    def public_events() -> str:
        """The latest public GitHub events."""
        return events

    return [list_workflow_runs, search_repositories, public_events]


def _script_tool_loop(server: ScriptedServer) -> None:
    server.script(
        tool_call_reply("list_workflow_runs", {"repo": "ReDASers/PhishBench"}, call_id="call_runs"),
        tool_call_reply("search_repositories", {"query": "phishing"}, call_id="call_search"),
        tool_call_reply("public_events", {}, call_id="call_events"),
        text_reply(FINAL),
    )


def _tool_outputs(tools: list[BaseTool]) -> dict[str, str]:
    return {
        "call_runs": tools[0].invoke({"repo": "x"}),
        "call_search": tools[1].invoke({"query": "x"}),
        "call_events": tools[2].invoke({}),
    }


def _assert_provider_saw_compressed_session(server: ScriptedServer, originals: dict[str, str]) -> None:
    requests = server.requests_to("/v1/chat/completions")
    assert len(requests) == 4
    for i in range(4):
        sent = sent_messages(server, i)
        assert sent[0] == {"role": "system", "content": SYSTEM_PROMPT}
        assert sent[1] == {"role": "user", "content": QUESTION}
        assert_tool_calls_paired(sent)
        for m in sent:
            if m["role"] == "tool" and m["tool_call_id"] == "call_runs":
                assert len(m["content"]) < len(originals["call_runs"]) / 2
                assert str(FAILED_RUN_ID) in m["content"]
    last = sent_messages(server)
    assert sum(len(m["content"]) for m in last if m["role"] == "tool") < sum(map(len, originals.values())) / 2


def test_agent_with_headroom_chat_model_runs_a_tool_loop_on_compressed_context(
    server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI], corpus_tools: list[BaseTool]
) -> None:
    _script_tool_loop(server)
    handler = HeadroomCallbackHandler()
    agent = create_agent(HeadroomChatModel(chat_openai()), corpus_tools, system_prompt=SYSTEM_PROMPT)
    state = agent.invoke({"messages": [HumanMessage(QUESTION)]}, config={"callbacks": [handler]})
    assert state["messages"][-1].content == FINAL
    _assert_provider_saw_compressed_session(server, _tool_outputs(corpus_tools))
    assert len(handler.llm_calls) == 4  # the wrapped model's runs are children of the wrapper's, not extra calls
    assert all(r.tokens_saved > 0 for r in handler.llm_calls[1:])
    # the wrapper compresses what is sent; the agent's own state keeps the full tool outputs
    kept = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert [m.content for m in kept] == list(_tool_outputs(corpus_tools).values())


def test_agent_with_headroom_middleware_runs_a_tool_loop_on_compressed_context(
    server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI], corpus_tools: list[BaseTool]
) -> None:
    _script_tool_loop(server)
    agent = create_agent(chat_openai(), corpus_tools, system_prompt=SYSTEM_PROMPT, middleware=[HeadroomMiddleware()])
    handler = HeadroomCallbackHandler()
    state = agent.invoke({"messages": [HumanMessage(QUESTION)]}, config={"callbacks": [handler]})
    assert state["messages"][-1].content == FINAL
    originals = _tool_outputs(corpus_tools)
    _assert_provider_saw_compressed_session(server, originals)
    # a listening handler is told what each tool output weighed before and after
    summary = handler.summary()
    assert summary.tool_output_tokens_before > 2 * summary.tool_output_tokens_after > 0
    # wrap_tool_call compressed each result as it arrived: the state itself stays small, and reversible
    runs = next(m for m in state["messages"] if isinstance(m, ToolMessage) and m.tool_call_id == "call_runs")
    assert len(runs.content) < len(originals["call_runs"]) / 2
    assert retrieve(ccr_key(originals["call_runs"])) == originals["call_runs"]


def test_middleware_agent_runs_async(
    server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI], corpus_tools: list[BaseTool]
) -> None:
    _script_tool_loop(server)
    agent = create_agent(chat_openai(), corpus_tools, system_prompt=SYSTEM_PROMPT, middleware=[HeadroomMiddleware()])
    state = asyncio.run(agent.ainvoke({"messages": [HumanMessage(QUESTION)]}))
    assert state["messages"][-1].content == FINAL
    _assert_provider_saw_compressed_session(server, _tool_outputs(corpus_tools))


def test_middleware_answers_retrieve_calls_without_the_agent_seeing_them(
    server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI], corpus_tools: list[BaseTool]
) -> None:
    runs = corpus_tools[0].invoke({"repo": "x"})
    server.script(
        tool_call_reply("list_workflow_runs", {"repo": "ReDASers/PhishBench"}, call_id="call_runs"),
        tool_call_reply(RETRIEVE_TOOL_NAME, {"key": ccr_key(runs), "query": "scipy-fix"}, call_id="call_hr"),
        text_reply(FINAL),
    )
    handler = HeadroomCallbackHandler()
    agent = create_agent(chat_openai(), corpus_tools, system_prompt=SYSTEM_PROMPT, middleware=[HeadroomMiddleware()])
    state = agent.invoke({"messages": [HumanMessage(QUESTION)]}, config={"callbacks": [handler]})
    assert RETRIEVE_TOOL_NAME in tool_names_offered(server, 1)
    answered = sent_messages(server, 2)[-1]
    assert answered["role"] == "tool" and answered["tool_call_id"] == "call_hr" and "scipy-fix" in answered["content"]
    assert not any(c["name"] == RETRIEVE_TOOL_NAME for m in state["messages"] for c in getattr(m, "tool_calls", []))
    assert not any(isinstance(m, ToolMessage) and m.tool_call_id == "call_hr" for m in state["messages"])
    assert state["messages"][-1].response_metadata["headroom"]["retrieval_rounds"] == 1
    assert handler.summary().retrieval_rounds == 1
    assert handler.summary().tokens_saved > 0


def test_middleware_fails_open_when_compression_breaks(
    server: ScriptedServer,
    chat_openai: Callable[..., ChatOpenAI],
    corpus_tools: list[BaseTool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("store locked")

    monkeypatch.setattr(headroom, "compress", broken)
    before = metrics.snapshot().get("errors.langchain.compress", 0)
    server.script(tool_call_reply("public_events", {}, call_id="call_events"), text_reply(FINAL))
    agent = create_agent(
        chat_openai(),
        corpus_tools,
        system_prompt=SYSTEM_PROMPT,
        middleware=[HeadroomMiddleware(compress_tool_results=False)],
    )
    state = agent.invoke({"messages": [HumanMessage(QUESTION)]})
    assert state["messages"][-1].content == FINAL
    assert sent_messages(server)[-1]["content"] == corpus_tools[2].invoke({})  # the original went out
    assert metrics.snapshot()["errors.langchain.compress"] == before + 2


def test_provider_errors_propagate_through_the_middleware(
    server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI], corpus_tools: list[BaseTool]
) -> None:
    server.script(error_reply(400, "context_length_exceeded"))
    agent = create_agent(chat_openai(), corpus_tools, middleware=[HeadroomMiddleware()])
    with pytest.raises(openai.BadRequestError, match="context_length_exceeded"):
        agent.invoke({"messages": [HumanMessage(QUESTION)]})


def test_agent_can_own_the_retrieve_tool_and_its_results_stay_whole(
    server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI], corpus_tools: list[BaseTool]
) -> None:
    runs = corpus_tools[0].invoke({"repo": "x"})
    server.script(
        tool_call_reply("list_workflow_runs", {"repo": "ReDASers/PhishBench"}, call_id="call_runs"),
        tool_call_reply(RETRIEVE_TOOL_NAME, {"key": ccr_key(runs), "query": "scipy-fix"}, call_id="call_hr"),
        text_reply(FINAL),
    )
    model = HeadroomChatModel(chat_openai(), expose_retrieve_tool=True)
    agent = create_agent(model, [*corpus_tools, headroom_retrieve_tool()], system_prompt=SYSTEM_PROMPT)
    state = agent.invoke({"messages": [HumanMessage(QUESTION)]})
    retrieved = next(m for m in state["messages"] if isinstance(m, ToolMessage) and m.tool_call_id == "call_hr")
    assert "scipy-fix" in retrieved.content
    sent = next(m for m in sent_messages(server) if m.get("tool_call_id") == "call_hr")
    assert sent["content"] == retrieved.content  # not elided again on the next request
    assert state["messages"][-1].content == FINAL


class FailedRun(BaseModel):
    """The failed workflow run."""

    run_id: int
    workflow: str


@pytest.mark.parametrize("through", ["wrapper", "middleware"])
def test_structured_response_of_an_agent_works_with_the_retrieve_tool_offered(
    through: str, server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI], corpus_tools: list[BaseTool]
) -> None:
    server.script(
        tool_call_reply("list_workflow_runs", {"repo": "ReDASers/PhishBench"}, call_id="call_runs"),
        text_reply(json.dumps({"run_id": FAILED_RUN_ID, "workflow": "Lint"})),
    )
    if through == "wrapper":
        agent = create_agent(HeadroomChatModel(chat_openai()), corpus_tools, response_format=FailedRun)
    else:
        agent = create_agent(chat_openai(), corpus_tools, response_format=FailedRun, middleware=[HeadroomMiddleware()])
    state = agent.invoke({"messages": [HumanMessage(QUESTION)]})
    assert state["structured_response"] == FailedRun(run_id=FAILED_RUN_ID, workflow="Lint")
    offered = server.requests_to("/v1/chat/completions")[1].body["tools"]
    retrieve_tool = next(t for t in offered if t["function"]["name"] == RETRIEVE_TOOL_NAME)
    assert retrieve_tool["function"]["strict"] is True  # OpenAI parses structured output only with strict tools


# ---- the same long session under LangChain's built-in context strategies ------------------------------


def _run_strategy(
    name: str,
    server: ScriptedServer,
    chat_openai: Callable[..., ChatOpenAI],
    tools: list[BaseTool],
    summarizer_server: ScriptedServer,
) -> dict[str, Any]:
    _script_tool_loop(server)
    middleware: list[Any] = {
        "none": [],
        "context_editing": [ContextEditingMiddleware(edits=[ClearToolUsesEdit(trigger=20_000, keep=1)])],
        "summarization": [
            SummarizationMiddleware(
                ChatOpenAI(model="gpt-4o-mini", base_url=summarizer_server.base_url, api_key="test", max_retries=0),
                trigger=("tokens", 20_000),
                keep=("messages", 2),
            )
        ],
        "headroom": [HeadroomMiddleware()],
    }[name]
    summarizer_server.script(text_reply("Summary: the workflow runs of ReDASers/PhishBench were listed."))
    agent = create_agent(chat_openai(), tools, system_prompt=SYSTEM_PROMPT, middleware=middleware)
    agent.invoke({"messages": [HumanMessage(QUESTION)]})
    requests = server.requests_to("/v1/chat/completions")
    extra = summarizer_server.requests_to("/v1/chat/completions")
    last = requests[-1].body["messages"]
    return {
        "prompt_tokens": sum(count_message_tokens(r.body["messages"]) for r in requests),
        "extra_calls": len(extra),
        "extra_tokens": sum(count_message_tokens(r.body["messages"]) for r in extra),
        "failed_run_visible": any(str(FAILED_RUN_ID) in json.dumps(m) for m in last),
        "runs_retrievable": any(ccr_key(tools[0].invoke({"repo": "x"})) in json.dumps(m) for m in last),
    }


def test_headroom_keeps_the_failed_run_visible_where_builtins_lose_it_and_costs_least(
    chat_openai: Callable[..., ChatOpenAI], corpus_tools: list[BaseTool]
) -> None:
    results: dict[str, dict[str, Any]] = {}
    for name in ("none", "context_editing", "summarization", "headroom"):
        with ScriptedServer() as server, ScriptedServer() as summarizer:

            def make(srv: ScriptedServer = server, **kw: Any) -> ChatOpenAI:
                return ChatOpenAI(model="gpt-4o", base_url=srv.base_url, api_key="test", max_retries=0, **kw)

            results[name] = _run_strategy(name, server, make, corpus_tools, summarizer)
    none, editing, summary, hr = (results[k] for k in ("none", "context_editing", "summarization", "headroom"))
    # what the model can still see at the final step
    assert none["failed_run_visible"] and hr["failed_run_visible"]
    assert not editing["failed_run_visible"]  # cleared to a placeholder
    assert not summary["failed_run_visible"]  # summarised away
    assert hr["runs_retrievable"] and not editing["runs_retrievable"] and not summary["runs_retrievable"]
    # what each costs: prompt tokens over the whole loop, plus the summariser's extra call
    assert summary["extra_calls"] >= 1 and editing["extra_calls"] == hr["extra_calls"] == 0
    assert hr["prompt_tokens"] < none["prompt_tokens"] / 3
    assert hr["prompt_tokens"] < editing["prompt_tokens"]
    assert hr["prompt_tokens"] < summary["prompt_tokens"] + summary["extra_tokens"]


def test_agent_message_stream_shows_each_token_once(
    server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI]
) -> None:
    server.script(text_reply("alpha beta gamma delta epsilon"))
    agent = create_agent(HeadroomChatModel(chat_openai()), [])
    pieces = [str(m.content) for m, _meta in agent.stream({"messages": [HumanMessage("hi")]}, stream_mode="messages")]
    assert [p for p in pieces if p] == ["alpha", " beta", " gamma", " delta", " epsilon"]  # inner run not re-streamed
