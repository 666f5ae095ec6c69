"""The model's headroom_retrieve calls are answered inside the proxy; the client sees one normal reply."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import headroom
import openai
import pytest
from headroom.ccr.retrieval import RETRIEVE_TOOL_NAME
from headroom.config import HeadroomConfig

from tests.support.proxy_server import RunningProxy
from tests.support.scripted_server import ScriptedServer, Usage, text_reply, tool_call_reply, tool_calls_reply

ANSWER = "Run 'CI' failed on branch main."


@pytest.fixture
def key(openai_messages: list[dict[str, Any]]) -> str:
    """The CCR key the proxy's marker names (a content hash: the same in every store)."""
    return headroom.compress(openai_messages, config=HeadroomConfig(stateless=True)).ccr_keys[0]


@pytest.fixture
def oai(proxy: RunningProxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.openai_base_url, api_key="k", max_retries=0)


@pytest.fixture
def claude(proxy: RunningProxy) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=proxy.anthropic_base_url, api_key="k", max_retries=0)


def _chat_requests(srv: ScriptedServer) -> list[dict[str, Any]]:
    return [r.body for r in srv.requests if r.path in ("/v1/chat/completions", "/v1/messages")]


def test_openai_retrieval_is_answered_inside_the_proxy(
    srv: ScriptedServer, oai: openai.OpenAI, openai_messages: list[dict[str, Any]], key: str
) -> None:
    srv.script(
        tool_call_reply(RETRIEVE_TOOL_NAME, {"key": key}, usage=Usage(900, 20)), text_reply(ANSWER, Usage(5000, 9))
    )
    reply = oai.chat.completions.create(model="gpt-4o", messages=openai_messages)
    assert reply.choices[0].message.content == ANSWER
    assert reply.choices[0].message.tool_calls is None
    assert reply.usage is not None and (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (5900, 29)
    first, second = _chat_requests(srv)
    assert second["messages"][: len(first["messages"])] == first["messages"]
    call, answer = second["messages"][-2:]
    assert call["tool_calls"][0]["function"]["name"] == RETRIEVE_TOOL_NAME
    assert answer == {
        "role": "tool",
        "tool_call_id": call["tool_calls"][0]["id"],
        "content": openai_messages[-1]["content"],
    }


def test_openai_retrieval_with_a_query_sends_the_matching_items(
    srv: ScriptedServer, oai: openai.OpenAI, openai_messages: list[dict[str, Any]], key: str, failed_run: dict[str, Any]
) -> None:
    srv.script(tool_call_reply(RETRIEVE_TOOL_NAME, {"key": key, "query": "failure"}), text_reply(ANSWER))
    oai.chat.completions.create(model="gpt-4o", messages=openai_messages)
    matches = json.loads(_chat_requests(srv)[1]["messages"][-1]["content"])
    assert failed_run["id"] in [m["id"] for m in matches]


def test_openai_stream_continues_after_the_retrieval(
    srv: ScriptedServer, oai: openai.OpenAI, openai_messages: list[dict[str, Any]], key: str
) -> None:
    srv.script(
        tool_calls_reply((RETRIEVE_TOOL_NAME, {"key": key}), text="Let me look. ", usage=Usage(900, 20)),
        text_reply(ANSWER, Usage(5000, 9)),
    )
    chunks = list(
        oai.chat.completions.create(
            model="gpt-4o", messages=openai_messages, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Let me look. " + ANSWER
    assert not any(c.choices and c.choices[0].delta.tool_calls for c in chunks)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    usage = chunks[-1].usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (5900, 29)
    assert len(_chat_requests(srv)) == 2


def test_openai_stream_helper_accumulates_one_message(
    srv: ScriptedServer, oai: openai.OpenAI, openai_messages: list[dict[str, Any]], key: str
) -> None:
    srv.script(tool_call_reply(RETRIEVE_TOOL_NAME, {"key": key}), text_reply(ANSWER))
    with oai.chat.completions.stream(model="gpt-4o", messages=openai_messages) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == ANSWER
    assert not final.choices[0].message.tool_calls


def test_client_tool_calls_win_over_a_retrieval_in_the_same_turn(
    srv: ScriptedServer, oai: openai.OpenAI, openai_messages: list[dict[str, Any]], key: str
) -> None:
    srv.script(tool_calls_reply((RETRIEVE_TOOL_NAME, {"key": key}), ("list_workflow_runs", {"repo": "x"})))
    reply = oai.chat.completions.create(model="gpt-4o", messages=openai_messages)
    calls = reply.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["list_workflow_runs"]  # type: ignore[union-attr]
    assert reply.choices[0].finish_reason == "tool_calls"
    assert len(_chat_requests(srv)) == 1


def test_client_tool_calls_win_in_a_stream_too(
    srv: ScriptedServer, oai: openai.OpenAI, openai_messages: list[dict[str, Any]], key: str
) -> None:
    srv.script(tool_calls_reply((RETRIEVE_TOOL_NAME, {"key": key}), ("list_workflow_runs", {"repo": "x"})))
    with oai.chat.completions.stream(model="gpt-4o", messages=openai_messages) as stream:
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [(c.index, c.function.name, c.function.arguments) for c in calls] == [  # type: ignore[union-attr]
        (0, "list_workflow_runs", '{"repo": "x"}')
    ]


def test_rounds_are_bounded_and_the_last_one_offers_no_retrieval(
    srv: ScriptedServer, oai: openai.OpenAI, openai_messages: list[dict[str, Any]], key: str
) -> None:
    srv.script(*[tool_call_reply(RETRIEVE_TOOL_NAME, {"key": key}) for _ in range(5)])
    reply = oai.chat.completions.create(model="gpt-4o", messages=openai_messages)
    sent = _chat_requests(srv)
    assert len(sent) == 4  # the first request and max_retrieval_rounds (3) continuations
    assert [RETRIEVE_TOOL_NAME in json.dumps(r.get("tools", [])) for r in sent] == [True, True, True, False]
    assert not reply.choices[0].message.tool_calls
    assert reply.choices[0].finish_reason == "stop"


def test_anthropic_retrieval_is_answered_inside_the_proxy(
    srv: ScriptedServer, claude: anthropic.Anthropic, anthropic_messages: list[dict[str, Any]], key: str
) -> None:
    srv.script(
        tool_calls_reply((RETRIEVE_TOOL_NAME, {"key": key}), text="Checking.", usage=Usage(900, 20)),
        text_reply(ANSWER, Usage(5000, 9)),
    )
    message = claude.messages.create(model="claude-haiku-4-5", max_tokens=300, messages=anthropic_messages)  # type: ignore[arg-type]
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == ANSWER  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (5900, 29)
    second = _chat_requests(srv)[1]["messages"]
    assert second[-2]["content"][0] == {"type": "text", "text": "Checking."}
    result = second[-1]["content"][0]
    assert result["type"] == "tool_result" and result["content"] == anthropic_messages[-1]["content"][0]["content"]


def test_anthropic_stream_continues_after_the_retrieval(
    srv: ScriptedServer, claude: anthropic.Anthropic, anthropic_messages: list[dict[str, Any]], key: str
) -> None:
    srv.script(
        tool_calls_reply((RETRIEVE_TOOL_NAME, {"key": key}), text="Checking.", usage=Usage(900, 20)),
        text_reply(ANSWER, Usage(5000, 9)),
    )
    with claude.messages.stream(model="claude-haiku-4-5", max_tokens=300, messages=anthropic_messages) as stream:  # type: ignore[arg-type]
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert [b.text for b in final.content] == ["Checking.", ANSWER]  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 29
    assert kinds.count("message_start") == 1 and kinds.count("message_stop") == 1
    assert len(_chat_requests(srv)) == 2


def test_anthropic_client_tool_calls_win_in_a_stream(
    srv: ScriptedServer, claude: anthropic.Anthropic, anthropic_messages: list[dict[str, Any]], key: str
) -> None:
    srv.script(tool_calls_reply((RETRIEVE_TOOL_NAME, {"key": key}), ("list_workflow_runs", {"repo": "x"}), text="Hm."))
    with claude.messages.stream(model="claude-haiku-4-5", max_tokens=300, messages=anthropic_messages) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    assert [(b.type, getattr(b, "name", None)) for b in final.content] == [
        ("text", None),
        ("tool_use", "list_workflow_runs"),
    ]
    assert final.stop_reason == "tool_use"
    assert len(_chat_requests(srv)) == 1
