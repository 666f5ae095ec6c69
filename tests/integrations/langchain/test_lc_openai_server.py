"""HeadroomChatModel around ChatOpenAI, against the scripted OpenAI-compatible server: what the provider received."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import openai
import pytest
from headroom.ccr import RETRIEVE_TOOL_NAME, ccr_key
from headroom.config import CCRConfig, HeadroomConfig
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from headroom_integrations.langchain import HeadroomChatModel, compress_tool_output
from tests.integrations.langchain.lc_helpers import (
    FAILED_RUN_ID,
    SYSTEM_PROMPT,
    assert_tool_calls_paired,
    sent_messages,
    tool_names_offered,
)
from tests.support.scripted_server import ScriptedServer, error_reply, text_reply, tool_call_reply


@tool
def rerun_workflow(run_id: int) -> str:
    """Re-run a GitHub Actions workflow run by id."""
    return f"re-run of {run_id} queued"


class FailedRun(BaseModel):
    """The failed workflow run."""

    run_id: int = Field(description="id of the failed run")
    workflow: str = Field(description="name of its workflow")


def test_provider_receives_compressed_tool_output_with_system_prompt_and_pairing_intact(
    server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI], session_messages: list[BaseMessage]
) -> None:
    server.script(text_reply("Run 2802600146 (Lint) failed."))
    HeadroomChatModel(chat_openai()).invoke(session_messages)
    sent = sent_messages(server)
    assert sent[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert_tool_calls_paired(sent)
    assert len(sent[-1]["content"]) < len(session_messages[-1].content) / 2
    assert str(FAILED_RUN_ID) in sent[-1]["content"]
    assert server.unknown_params() == set()  # no headroom_* key leaked into the request


def test_provider_reported_usage_is_smaller_than_without_headroom(
    server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI], session_messages: list[BaseMessage]
) -> None:
    server.script(text_reply("a"), text_reply("b"))
    plain = chat_openai().invoke(session_messages)
    wrapped = HeadroomChatModel(chat_openai()).invoke(session_messages)
    assert wrapped.usage_metadata["input_tokens"] < plain.usage_metadata["input_tokens"] / 2
    assert wrapped.response_metadata["model_name"] == plain.response_metadata["model_name"]


def test_streaming_yields_several_chunks_before_the_end(
    server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI], session_messages: list[BaseMessage]
) -> None:
    answer = "Run 2802600146 of the Lint workflow failed on branch scipy-fix; every other run succeeded."
    server.script(text_reply(answer))
    chunks = list(HeadroomChatModel(chat_openai()).stream(session_messages))
    assert len([c for c in chunks if c.content]) >= 5
    assert "".join(c.content for c in chunks) == answer
    assert server.requests_to("/v1/chat/completions")[0].body["stream"] is True


def test_ainvoke_and_astream_reach_the_provider_compressed(
    server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI], session_messages: list[BaseMessage]
) -> None:
    server.script(text_reply("async answer"), text_reply("async streamed answer with several words"))
    model = HeadroomChatModel(chat_openai())

    async def run() -> tuple[str, list[str]]:
        out = await model.ainvoke(session_messages)
        return str(out.content), [str(c.content) async for c in model.astream(session_messages)]

    content, pieces = asyncio.run(run())
    assert content == "async answer"
    assert len([p for p in pieces if p]) >= 3
    for i in (0, 1):
        assert len(sent_messages(server, i)[-1]["content"]) < len(session_messages[-1].content) / 2


def test_bind_tools_reach_the_provider_and_tool_call_ids_come_back(
    server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI], session_messages: list[BaseMessage]
) -> None:
    server.script(tool_call_reply("rerun_workflow", {"run_id": FAILED_RUN_ID}, call_id="call_rerun_1"))
    model = HeadroomChatModel(chat_openai()).bind_tools([rerun_workflow], tool_choice="auto")
    out = model.invoke(session_messages)
    assert out.tool_calls == [
        {"name": "rerun_workflow", "args": {"run_id": FAILED_RUN_ID}, "id": "call_rerun_1", "type": "tool_call"}
    ]
    body = server.requests_to("/v1/chat/completions")[0].body
    assert "rerun_workflow" in tool_names_offered(server)
    assert body["tool_choice"] == "auto"
    assert len(body["messages"][-1]["content"]) < len(session_messages[-1].content) / 2


def test_with_structured_output_parses_the_providers_json(
    server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI], session_messages: list[BaseMessage]
) -> None:
    server.script(text_reply(json.dumps({"run_id": FAILED_RUN_ID, "workflow": "Lint"})))
    structured = HeadroomChatModel(chat_openai()).with_structured_output(FailedRun)
    assert structured.invoke(session_messages) == FailedRun(run_id=FAILED_RUN_ID, workflow="Lint")
    body = server.requests_to("/v1/chat/completions")[0].body
    assert body["response_format"]["type"] == "json_schema"
    assert len(body["messages"][-1]["content"]) < len(session_messages[-1].content) / 2


def test_retrieve_round_trip_is_answered_inside_the_wrapper(
    server: ScriptedServer,
    chat_openai: Callable[..., ChatOpenAI],
    session_messages: list[BaseMessage],
    workflow_runs: str,
) -> None:
    key = ccr_key(workflow_runs)
    server.script(
        tool_call_reply(
            RETRIEVE_TOOL_NAME,
            {"key": key, "query": "scipy-fix"},
            call_id="call_hr_1",
            usage={"input_tokens": 9000, "output_tokens": 20},
        ),
        text_reply(
            "The omitted runs on scipy-fix all succeeded except 2802600146.",
            usage={"input_tokens": 12000, "output_tokens": 15},
        ),
    )
    out = HeadroomChatModel(chat_openai()).invoke(session_messages)
    first, second = server.requests_to("/v1/chat/completions")
    assert RETRIEVE_TOOL_NAME in tool_names_offered(server, 0)
    assert key in first.body["messages"][-1]["content"]
    retrieved = second.body["messages"][-1]
    assert retrieved["role"] == "tool" and retrieved["tool_call_id"] == "call_hr_1"
    assert "scipy-fix" in retrieved["content"]
    assert_tool_calls_paired(second.body["messages"])
    assert out.tool_calls == []
    assert out.content.startswith("The omitted runs")
    assert out.response_metadata["headroom"]["retrieval_rounds"] == 1
    assert out.response_metadata["headroom"]["retrieved_keys"] == [key]
    assert out.usage_metadata["input_tokens"] == 21000  # both provider calls are paid for


def test_retrieval_rounds_are_bounded_and_never_reach_the_agent(
    server: ScriptedServer,
    chat_openai: Callable[..., ChatOpenAI],
    session_messages: list[BaseMessage],
    workflow_runs: str,
) -> None:
    key = ccr_key(workflow_runs)
    server.script(*[tool_call_reply(RETRIEVE_TOOL_NAME, {"key": key}, call_id=f"call_hr_{i}") for i in range(4)])
    config = HeadroomConfig(ccr=CCRConfig(max_retrieval_rounds=2))
    out = HeadroomChatModel(chat_openai(), config=config).invoke(session_messages)
    requests = server.requests_to("/v1/chat/completions")
    assert len(requests) == 3
    assert [RETRIEVE_TOOL_NAME in tool_names_offered(server, i) for i in range(3)] == [True, True, False]
    assert out.tool_calls == []


def test_streamed_retrieve_round_trip_shows_only_the_final_answer(
    server: ScriptedServer,
    chat_openai: Callable[..., ChatOpenAI],
    session_messages: list[BaseMessage],
    workflow_runs: str,
) -> None:
    server.script(
        tool_call_reply(RETRIEVE_TOOL_NAME, {"key": ccr_key(workflow_runs), "query": "Lint"}, call_id="call_hr_s"),
        text_reply("Only run 2802600146 of Lint failed."),
    )
    chunks = list(HeadroomChatModel(chat_openai()).stream(session_messages))
    merged = chunks[0]
    for c in chunks[1:]:
        merged = merged + c
    assert merged.content == "Only run 2802600146 of Lint failed."
    assert merged.tool_call_chunks == []
    assert merged.response_metadata["headroom"]["retrieval_rounds"] == 1
    assert merged.response_metadata["finish_reason"] == "stop"


def test_exposed_retrieve_calls_are_returned_to_the_agent(
    server: ScriptedServer,
    chat_openai: Callable[..., ChatOpenAI],
    session_messages: list[BaseMessage],
    workflow_runs: str,
) -> None:
    server.script(tool_call_reply(RETRIEVE_TOOL_NAME, {"key": ccr_key(workflow_runs)}, call_id="call_hr_x"))
    out = HeadroomChatModel(chat_openai(), expose_retrieve_tool=True).invoke(session_messages)
    assert [c["name"] for c in out.tool_calls] == [RETRIEVE_TOOL_NAME]
    assert len(server.requests_to("/v1/chat/completions")) == 1


def test_provider_errors_propagate_with_their_own_type(
    server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI], session_messages: list[BaseMessage]
) -> None:
    server.script(error_reply(503, "upstream overloaded"))
    with pytest.raises(openai.InternalServerError, match="upstream overloaded"):
        HeadroomChatModel(chat_openai()).invoke(session_messages)


def test_rate_limit_errors_propagate_on_streams_too(
    server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI], session_messages: list[BaseMessage]
) -> None:
    server.script(error_reply(429, "slow down"))
    with pytest.raises(openai.RateLimitError):
        list(HeadroomChatModel(chat_openai()).stream(session_messages))


def test_a_plain_question_passes_through_unchanged(
    server: ScriptedServer, chat_openai: Callable[..., ChatOpenAI]
) -> None:
    server.script(text_reply("hello"))
    out = HeadroomChatModel(chat_openai()).invoke([HumanMessage("hi there")])
    assert out.content == "hello"
    assert sent_messages(server) == [{"role": "user", "content": "hi there"}]
    assert tool_names_offered(server) == []


def test_async_streamed_retrieve_round_trip(
    server: ScriptedServer,
    chat_openai: Callable[..., ChatOpenAI],
    session_messages: list[BaseMessage],
    workflow_runs: str,
) -> None:
    server.script(
        tool_call_reply(RETRIEVE_TOOL_NAME, {"key": ccr_key(workflow_runs), "lines": "1-1"}, call_id="call_hr_a"),
        text_reply("All runs listed; 2802600146 failed."),
    )
    model = HeadroomChatModel(chat_openai())

    async def collect() -> list[Any]:
        return [c async for c in model.astream(session_messages)]

    chunks = asyncio.run(collect())
    assert "".join(str(c.content) for c in chunks) == "All runs listed; 2802600146 failed."
    assert not any(c.tool_call_chunks for c in chunks)
    assert sent_messages(server, 1)[-1]["tool_call_id"] == "call_hr_a"


def test_retrieve_tool_is_offered_for_markers_left_by_an_earlier_step(
    server: ScriptedServer,
    chat_openai: Callable[..., ChatOpenAI],
    session_messages: list[BaseMessage],
    workflow_runs: str,
) -> None:
    crushed, _ = compress_tool_output(workflow_runs, tool_name="list_workflow_runs", query="failed")
    messages = [*session_messages[:-1], session_messages[-1].model_copy(update={"content": crushed})]
    server.script(text_reply("ok"))
    out = HeadroomChatModel(chat_openai()).invoke(
        messages, headroom_tool_profiles={"list_workflow_runs": {"skip_compression": True}}
    )
    assert sent_messages(server)[-1]["content"] == crushed  # nothing new was omitted by this request
    assert out.response_metadata["headroom"]["ccr_keys"] == []
    assert RETRIEVE_TOOL_NAME in tool_names_offered(server)
