"""The stream filters pass a stream on unchanged unless they must hold back a headroom_retrieve call."""

from __future__ import annotations

import json
from typing import Any

from headroom.ccr.retrieval import RETRIEVE_TOOL_NAME
from headroom.proxy.anthropic_wire import AnthropicStreamFilter
from headroom.proxy.openai_wire import OpenAIStreamFilter
from headroom.proxy.sse import SSEParser

from tests.support.scripted_server import Reply, ToolCall, Usage, _Renderer

BODY = {"model": "gpt-4o", "stream_options": {"include_usage": True}}


def _events(raw: list[bytes]) -> list[Any]:
    parser = SSEParser()
    return [e for chunk in raw for e in parser.feed(chunk)]


def _run(stream_filter: Any, raw: list[bytes]) -> list[bytes]:
    out = [b for e in _events(raw) for b in stream_filter.feed(e)]
    return out + stream_filter.finish()


def _openai(reply: Reply) -> list[bytes]:
    return list(_Renderer(reply, BODY, 1).openai_sse())


def _anthropic(reply: Reply) -> list[bytes]:
    return list(_Renderer(reply, {"model": "claude-haiku-4-5"}, 1).anthropic_sse())


def test_openai_stream_without_retrieval_passes_byte_for_byte() -> None:
    raw = _openai(Reply(text="Run 42 failed.", tool_calls=(ToolCall("search", {"q": "x"}),), usage=Usage(10, 5)))
    assert _run(OpenAIStreamFilter(hold_retrieve=True), raw) == raw


def test_anthropic_stream_without_retrieval_passes_byte_for_byte() -> None:
    raw = _anthropic(Reply(text="Run 42 failed.", tool_calls=(ToolCall("search", {"q": "x"}),), usage=Usage(10, 5)))
    assert _run(AnthropicStreamFilter(hold_retrieve=True), raw) == raw


def test_openai_retrieve_call_is_held_and_read() -> None:
    raw = _openai(
        Reply(text="Looking.", tool_calls=(ToolCall(RETRIEVE_TOOL_NAME, {"key": "hr_1", "query": "fail"}, "c9"),))
    )
    stream_filter = OpenAIStreamFilter(hold_retrieve=True)
    passed = [b for e in _events(raw) for b in stream_filter.feed(e)]
    assert RETRIEVE_TOOL_NAME.encode() not in b"".join(passed)
    assert stream_filter.wants_retrieval()
    assert [(i, json.loads(a)) for i, a in stream_filter.retrieve_calls()] == [("c9", {"key": "hr_1", "query": "fail"})]
    turn = stream_filter.assistant_turn()
    assert turn["content"] == "Looking." and turn["tool_calls"][0]["id"] == "c9"


def test_openai_client_calls_after_a_retrieve_call_are_renumbered() -> None:
    calls = (ToolCall(RETRIEVE_TOOL_NAME, {"key": "hr_1"}), ToolCall("search", {"q": "x"}, "c2"))
    raw = _openai(Reply(tool_calls=calls))
    stream_filter = OpenAIStreamFilter(hold_retrieve=True)
    chunks = [json.loads(b[6:]) for b in _run(stream_filter, raw) if b.startswith(b"data: {")]
    entries = [tc for c in chunks for ch in c["choices"] for tc in ch["delta"].get("tool_calls", [])]
    assert {tc["index"] for tc in entries} == {0}
    assert entries[0]["id"] == "c2" and not stream_filter.wants_retrieval()


def test_anthropic_retrieve_block_is_held_and_later_blocks_keep_their_order() -> None:
    calls = (ToolCall(RETRIEVE_TOOL_NAME, {"key": "hr_1"}, "toolu_r"), ToolCall("search", {"q": "x"}, "toolu_s"))
    raw = _anthropic(Reply(text="Hm.", tool_calls=calls))
    stream_filter = AnthropicStreamFilter(hold_retrieve=True)
    events = [json.loads(b.split(b"data: ", 1)[1]) for b in _run(stream_filter, raw)]
    starts = [(e["index"], e["content_block"]["type"]) for e in events if e["type"] == "content_block_start"]
    assert starts == [(0, "text"), (1, "tool_use")]
    assert not stream_filter.wants_retrieval()  # the client's own call wins


def test_anthropic_retrieve_only_turn_holds_the_end_of_the_message() -> None:
    raw = _anthropic(
        Reply(text="Let me check.", tool_calls=(ToolCall(RETRIEVE_TOOL_NAME, {"key": "hr_1"}, "toolu_r"),))
    )
    stream_filter = AnthropicStreamFilter(hold_retrieve=True)
    passed = [json.loads(b.split(b"data: ", 1)[1])["type"] for e in _events(raw) for b in stream_filter.feed(e)]
    assert "message_delta" not in passed and "message_stop" not in passed
    assert stream_filter.wants_retrieval()
    assert stream_filter.assistant_turn()["content"] == [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_r", "name": RETRIEVE_TOOL_NAME, "input": {"key": "hr_1"}},
    ]
