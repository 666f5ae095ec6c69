"""Server-sent events are cut the same way however the bytes arrive."""

from __future__ import annotations

import json

from headroom.proxy.sse import SSEParser, encode_event
from hypothesis import given
from hypothesis import strategies as st

from tests.support.scripted_server import Reply, ToolCall, _Renderer

OPENAI_EVENTS = list(
    _Renderer(
        Reply(text="The failed run is 42 on main.", tool_calls=(ToolCall("search", {"q": "ci"}),)),
        {"model": "gpt-4o", "stream_options": {"include_usage": True}},
        1,
    ).openai_sse()
)
ANTHROPIC_EVENTS = list(
    _Renderer(
        Reply(text="Checking the runs.", tool_calls=(ToolCall("search", {"q": "ci"}),)), {"model": "c"}, 1
    ).anthropic_sse()
)


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return pieces


@given(st.lists(st.integers(min_value=0, max_value=4000), max_size=30), st.booleans())
def test_events_do_not_depend_on_where_the_stream_is_cut(cuts: list[int], anthropic: bool) -> None:
    events = ANTHROPIC_EVENTS if anthropic else OPENAI_EVENTS
    data = b"".join(events)
    parser = SSEParser()
    got = [e.raw for piece in _cut(data, cuts) for e in parser.feed(piece)] + [e.raw for e in parser.close()]
    assert got == events


def test_fields_are_read() -> None:
    event = SSEParser().feed(b'event: message_stop\ndata: {"type": "message_stop"}\n\n')[0]
    assert (event.name, event.json()) == ("message_stop", {"type": "message_stop"})
    done = SSEParser().feed(b"data: [DONE]\r\n\r\n")[0]
    assert done.data == "[DONE]" and done.json() is None


def test_comments_and_multiline_data() -> None:
    event = SSEParser().feed(b': keep-alive\ndata: {"a":\ndata: 1}\n\n')[0]
    assert event.json() == {"a": 1}


def test_a_last_event_without_its_blank_line_is_not_lost() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: [DONE]") == []
    assert [e.data for e in parser.close()] == ["[DONE]"]


def test_encoded_events_parse_back() -> None:
    raw = encode_event({"type": "ping", "text": "é\nx"}, "ping")
    event = SSEParser().feed(raw)[0]
    assert event.name == "ping" and event.json() == {"type": "ping", "text": "é\nx"}
    assert json.loads(event.data)["text"] == "é\nx"
