"""The scripted server speaks enough OpenAI and Anthropic for the real SDK clients."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import openai
import pytest

from tests.support.scripted_server import (
    ScriptedServer,
    ToolCall,
    Usage,
    error_reply,
    text_reply,
    tool_call_reply,
    tool_calls_reply,
)


@pytest.fixture
def srv() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def oai(srv: ScriptedServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.base_url, api_key="test", max_retries=0)


@pytest.fixture
def claude(srv: ScriptedServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=srv.anthropic_base_url, api_key="test", max_retries=0)


USER = [{"role": "user", "content": "List the open issues"}]


def test_openai_text_reply_with_usage_and_cached_tokens(srv: ScriptedServer, oai: openai.OpenAI) -> None:
    srv.script(text_reply("three issues are open", usage=Usage(120, 4, cached_tokens=64)))
    resp = oai.chat.completions.create(model="gpt-4o-mini", messages=USER)  # type: ignore[arg-type]
    assert resp.choices[0].message.content == "three issues are open"
    assert resp.model == "gpt-4o-mini"
    assert resp.usage is not None and resp.usage.prompt_tokens == 120
    assert resp.usage.prompt_tokens_details is not None and resp.usage.prompt_tokens_details.cached_tokens == 64
    assert srv.requests[0].body["messages"] == USER
    assert srv.requests[0].headers["authorization"] == "Bearer test"


def test_empty_script_answers_ok(srv: ScriptedServer, oai: openai.OpenAI) -> None:
    resp = oai.chat.completions.create(model="gpt-4o", messages=USER)  # type: ignore[arg-type]
    assert resp.choices[0].message.content == "ok"


def test_openai_several_tool_calls_in_one_reply(srv: ScriptedServer, oai: openai.OpenAI) -> None:
    srv.script(tool_calls_reply(("list_issues", {"state": "open"}), ToolCall("get_repo", {"name": "x"}, "call_B")))
    resp = oai.chat.completions.create(model="gpt-4o", messages=USER)  # type: ignore[arg-type]
    calls = resp.choices[0].message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [  # type: ignore[union-attr]
        ("list_issues", {"state": "open"}),
        ("get_repo", {"name": "x"}),
    ]
    assert calls[1].id == "call_B"
    assert resp.choices[0].finish_reason == "tool_calls"


def test_openai_stream_splits_words_and_tool_arguments(srv: ScriptedServer, oai: openai.OpenAI) -> None:
    srv.script(text_reply("the build failed twice"), tool_call_reply("get_logs", {"run_id": 42, "tail": 100}))
    chunks = list(
        oai.chat.completions.create(
            model="gpt-4o",
            messages=USER,
            stream=True,
            stream_options={"include_usage": True},  # type: ignore[arg-type]
        )
    )
    content = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert content == ["the", " build", " failed", " twice"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4

    stream = oai.chat.completions.create(model="gpt-4o", messages=USER, stream=True)  # type: ignore[arg-type]
    pieces = [
        tc.function.arguments
        for c in stream
        for tc in (c.choices[0].delta.tool_calls or [])
        if tc.function and tc.function.arguments
    ]
    assert len(pieces) > 1 and json.loads("".join(pieces)) == {"run_id": 42, "tail": 100}


def test_openai_rejects_tool_message_without_matching_call(srv: ScriptedServer, oai: openai.OpenAI) -> None:
    messages = [*USER, {"role": "tool", "tool_call_id": "call_x", "content": "[]"}]
    with pytest.raises(openai.BadRequestError, match="must be a response to a preceeding message"):
        oai.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]


def test_openai_rejects_unanswered_tool_calls(srv: ScriptedServer, oai: openai.OpenAI) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    messages = [*USER, {"role": "assistant", "content": None, "tool_calls": [call]}, {"role": "user", "content": "?"}]
    with pytest.raises(openai.BadRequestError, match="call_1"):
        oai.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]


def test_headroom_keys_are_recorded_and_rejected(srv: ScriptedServer, oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="headroom_mode"):
        oai.chat.completions.create(model="gpt-4o", messages=USER, extra_body={"headroom_mode": "audit"})  # type: ignore[arg-type]
    assert srv.requests[0].body["headroom_mode"] == "audit"
    assert srv.unknown_params() == {"headroom_mode"}


def test_scripted_errors_use_sdk_exceptions(
    srv: ScriptedServer, oai: openai.OpenAI, claude: anthropic.Anthropic
) -> None:
    srv.script(error_reply(429, "slow down"), error_reply(429, "slow down"), error_reply(400, "bad"))
    with pytest.raises(openai.RateLimitError, match="slow down"):
        oai.chat.completions.create(model="gpt-4o", messages=USER)  # type: ignore[arg-type]
    with pytest.raises(anthropic.RateLimitError) as info:
        claude.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=USER)  # type: ignore[arg-type]
    assert info.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=USER)  # type: ignore[arg-type]


def test_anthropic_message_with_tool_use_and_cache_usage(srv: ScriptedServer, claude: anthropic.Anthropic) -> None:
    srv.script(
        tool_calls_reply(
            ("search", {"q": "flaky"}),
            text="Searching.",
            usage=Usage(900, 12, cached_tokens=800, cache_creation_tokens=50),
        )
    )
    msg = claude.messages.create(model="claude-haiku-4-5", max_tokens=100, system="Be brief.", messages=USER)  # type: ignore[arg-type]
    assert [b.type for b in msg.content] == ["text", "tool_use"]
    assert msg.content[1].input == {"q": "flaky"}  # type: ignore[union-attr]
    assert msg.stop_reason == "tool_use"
    assert msg.usage.cache_read_input_tokens == 800 and msg.usage.cache_creation_input_tokens == 50
    assert srv.last_request.body["system"] == "Be brief."


def test_anthropic_stream_events(srv: ScriptedServer, claude: anthropic.Anthropic) -> None:
    srv.script(tool_calls_reply(("search", {"q": "flaky tests", "limit": 5}), text="Let me look."))
    with claude.messages.stream(model="claude-haiku-4-5", max_tokens=100, messages=USER) as stream:  # type: ignore[arg-type]
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert kinds.count("content_block_stop") == 2
    assert final.content[0].text == "Let me look."  # type: ignore[union-attr]
    assert final.content[1].input == {"q": "flaky tests", "limit": 5}  # type: ignore[union-attr]


def test_anthropic_rejects_broken_tool_pairing(srv: ScriptedServer, claude: anthropic.Anthropic) -> None:
    use = {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {}}
    orphan = [*USER, {"role": "assistant", "content": [use]}, {"role": "user", "content": "next"}]
    with pytest.raises(anthropic.BadRequestError, match="without `tool_result`"):
        claude.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=orphan)  # type: ignore[arg-type]
    stray = [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "x"}]}]
    with pytest.raises(anthropic.BadRequestError, match="unexpected `tool_use_id`"):
        claude.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=stray)  # type: ignore[arg-type]


async def _async_roundtrip(srv: ScriptedServer) -> tuple[str | None, str]:
    oai = openai.AsyncOpenAI(base_url=srv.base_url, api_key="test", max_retries=0)
    claude = anthropic.AsyncAnthropic(base_url=srv.anthropic_base_url, api_key="test", max_retries=0)
    srv.script(text_reply("async openai"), text_reply("async anthropic"))
    o = await oai.chat.completions.create(model="gpt-4o", messages=USER)  # type: ignore[arg-type]
    a = await claude.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=USER)  # type: ignore[arg-type]
    return o.choices[0].message.content, a.content[0].text  # type: ignore[union-attr]


def test_async_clients_work(srv: ScriptedServer) -> None:
    import asyncio

    assert asyncio.run(_async_roundtrip(srv)) == ("async openai", "async anthropic")


def test_anthropic_rejects_more_than_four_cache_breakpoints(srv: ScriptedServer, claude: anthropic.Anthropic) -> None:
    mark = {"type": "ephemeral"}
    system = [{"type": "text", "text": f"rule {i}", "cache_control": mark} for i in range(3)]
    result = {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": [{"type": "text", "text": "x", "cache_control": mark}],
    }
    use = {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {}}
    messages = [
        *USER,
        {"role": "assistant", "content": [use]},
        {"role": "user", "content": [result, {"type": "text", "text": "y", "cache_control": mark}]},
    ]
    with pytest.raises(anthropic.BadRequestError, match="maximum of 4 blocks"):
        claude.messages.create(model="claude-haiku-4-5", max_tokens=10, system=system, messages=messages)  # type: ignore[arg-type]


def test_anthropic_rejects_unknown_message_keys(srv: ScriptedServer, claude: anthropic.Anthropic) -> None:
    messages = [{"role": "user", "content": "hi", "name": "bob"}]
    with pytest.raises(anthropic.BadRequestError, match=r"messages\.0\.name: Extra inputs"):
        claude.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=messages)  # type: ignore[arg-type]
