"""The real openai SDK through the real proxy (uvicorn, loopback) in front of the scripted upstream."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx
import openai
import pytest
from headroom.ccr.retrieval import RETRIEVE_TOOL_NAME
from headroom.tokens import count_message_tokens

from tests.support.proxy_server import RunningProxy
from tests.support.scripted_server import ScriptedServer, error_reply, text_reply

HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture
def oai(proxy: RunningProxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.openai_base_url, api_key="sk-test-key", max_retries=0)


def _tool_output(messages: list[dict[str, Any]]) -> str:
    return next(m["content"] for m in messages if m["role"] == "tool")


def _totals(proxy: RunningProxy) -> dict[str, float]:
    return proxy.app.state.proxy.stats.totals()


def test_compressed_request_arrives_upstream(
    srv: ScriptedServer, oai: openai.OpenAI, openai_messages: list[dict[str, Any]], failed_run: dict[str, Any]
) -> None:
    oai.chat.completions.create(model="gpt-4o", messages=openai_messages)
    sent = srv.last_request.body["messages"]
    assert count_message_tokens(sent, "gpt-4o") < 0.5 * count_message_tokens(openai_messages, "gpt-4o")
    assert str(failed_run["id"]) in _tool_output(sent)
    assert "headroom_retrieve" in _tool_output(sent)  # the omission marker names the tool and the key
    assert sent[:3] == openai_messages[:3]


def test_retrieve_tool_is_offered_upstream_only_when_something_was_omitted(
    srv: ScriptedServer, oai: openai.OpenAI, openai_messages: list[dict[str, Any]]
) -> None:
    oai.chat.completions.create(model="gpt-4o", messages=openai_messages)
    assert [t["function"]["name"] for t in srv.last_request.body["tools"]] == [RETRIEVE_TOOL_NAME]
    oai.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert "tools" not in srv.last_request.body


def test_unchanged_request_is_forwarded_byte_for_byte(srv: ScriptedServer, proxy: RunningProxy) -> None:
    body = b'{ "model" : "gpt-4o",\n  "messages": [{"role": "user", "content": "Say hello \\u00e9."}], "temperature": 0.2 }'
    response = httpx.post(f"{proxy.openai_base_url}/chat/completions", content=body,
                          headers={"content-type": "application/json", "authorization": "Bearer sk-x"})  # fmt: skip
    assert response.status_code == 200
    assert srv.last_request.raw == body


def test_client_headers_and_unknown_fields_reach_the_upstream(
    srv: ScriptedServer, proxy: RunningProxy, openai_messages: list[dict[str, Any]]
) -> None:
    client = openai.OpenAI(
        base_url=proxy.openai_base_url, api_key="sk-live-123", organization="org-7", max_retries=0,
        default_headers={"x-team": "search", "x-headroom-proxy-token": "never-forwarded"},
    )  # fmt: skip
    client.chat.completions.create(
        model="gpt-4o", messages=openai_messages, extra_body={"vendor_option": {"depth": 2}}, user="u-1"
    )
    seen = srv.last_request
    assert seen.headers["authorization"] == "Bearer sk-live-123"
    assert seen.headers["openai-organization"] == "org-7"
    assert seen.headers["x-team"] == "search"
    assert not any(h.startswith("x-headroom") for h in seen.headers)
    assert seen.body["vendor_option"] == {"depth": 2} and seen.body["user"] == "u-1"


def test_headroom_body_fields_are_applied_and_stripped(
    srv: ScriptedServer, oai: openai.OpenAI, openai_messages: list[dict[str, Any]]
) -> None:
    oai.chat.completions.create(model="gpt-4o", messages=openai_messages, extra_body={"headroom_mode": "audit"})
    assert srv.last_request.body == {"model": "gpt-4o", "messages": openai_messages}
    assert srv.unknown_params() == set()


def test_override_headers_choose_the_mode(
    srv: ScriptedServer, proxy: RunningProxy, openai_messages: list[dict[str, Any]]
) -> None:
    body = json.dumps({"model": "gpt-4o", "messages": openai_messages}).encode()
    httpx.post(f"{proxy.openai_base_url}/chat/completions", content=body, headers={"x-headroom-mode": "audit"})
    assert srv.last_request.raw == body


def test_simulate_answers_with_the_plan_and_calls_no_upstream(
    srv: ScriptedServer, proxy: RunningProxy, openai_messages: list[dict[str, Any]]
) -> None:
    response = httpx.post(f"{proxy.openai_base_url}/chat/completions", json={"model": "gpt-4o", "messages": openai_messages},
                          headers={"x-headroom-mode": "simulate"})  # fmt: skip
    plan = response.json()
    assert plan["object"] == "headroom.simulation"
    assert plan["tokens_after"] < plan["tokens_before"] and plan["ccr_keys"]
    assert srv.requests == []


def test_a_bad_override_header_is_a_400_in_the_openai_shape(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="x-headroom-keep-turns"):
        oai.chat.completions.create(model="gpt-4o", messages=HELLO, extra_headers={"x-headroom-keep-turns": "many"})


def test_session_id_header_reaches_the_pipeline(
    srv: ScriptedServer, oai: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    import headroom.proxy.outgoing as outgoing

    seen: list[Any] = []
    real = outgoing.compress_request

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("session_id"))
        return real(*args, **kwargs)

    monkeypatch.setattr(outgoing, "compress_request", spy)
    oai.chat.completions.create(model="gpt-4o", messages=HELLO, extra_headers={"x-headroom-session-id": "conv-42"})
    assert seen == ["conv-42"]


@pytest.mark.parametrize("status", [429, 500])
def test_upstream_errors_come_back_unchanged(srv: ScriptedServer, proxy: RunningProxy, status: int) -> None:
    srv.script(error_reply(status, "upstream says no", headers={"retry-after": "7", "x-request-id": "req_9"}))
    direct_body = {"error": {"message": "upstream says no"}}
    response = httpx.post(f"{proxy.openai_base_url}/chat/completions", json={"model": "gpt-4o", "messages": HELLO})
    assert response.status_code == status
    assert response.headers["retry-after"] == "7" and response.headers["x-request-id"] == "req_9"
    assert response.json()["error"]["message"] == direct_body["error"]["message"]


def test_upstream_rate_limit_reaches_the_sdk_as_its_own_error(srv: ScriptedServer, oai: openai.OpenAI) -> None:
    srv.script(error_reply(429, "Rate limit reached for gpt-4o", headers={"retry-after": "7"}))
    with pytest.raises(openai.RateLimitError, match="Rate limit reached") as info:
        oai.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert info.value.response.headers["retry-after"] == "7"


def test_error_body_bytes_are_the_upstreams(srv: ScriptedServer, proxy: RunningProxy) -> None:
    srv.script(error_reply(500, "boom"))
    through = httpx.post(f"{proxy.openai_base_url}/chat/completions", json={"model": "gpt-4o", "messages": HELLO})
    srv.script(error_reply(500, "boom"))
    direct = httpx.post(f"{srv.base_url}/chat/completions", json={"model": "gpt-4o", "messages": HELLO})
    assert through.content == direct.content


def test_streams_arrive_event_by_event(
    start_proxy: Callable[..., AbstractContextManager[RunningProxy]], srv: ScriptedServer
) -> None:
    srv.stream_delay = 0.15
    srv.script(text_reply("one two three four five six"))
    with start_proxy() as running:
        client = openai.OpenAI(base_url=running.openai_base_url, api_key="k", max_retries=0)
        arrivals: list[float] = []
        text = ""
        started = time.monotonic()
        for chunk in client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True):
            arrivals.append(time.monotonic() - started)
            text += chunk.choices[0].delta.content or ""
    assert text == "one two three four five six"
    assert len(arrivals) >= 8
    assert arrivals[-1] - arrivals[0] > 0.8  # 7 gaps of 0.15 s: the first event came long before the last


def test_streamed_usage_and_tool_calls_pass_through(srv: ScriptedServer, oai: openai.OpenAI) -> None:
    srv.script(text_reply("hi there"))
    with oai.chat.completions.stream(model="gpt-4o", messages=HELLO, stream_options={"include_usage": True}) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "hi there"
    assert final.usage is not None and final.usage.completion_tokens > 0


def test_added_milliseconds_header(oai: openai.OpenAI) -> None:
    raw = oai.chat.completions.with_raw_response.create(model="gpt-4o", messages=HELLO)
    assert float(raw.headers["x-headroom-added-ms"]) >= 0


def test_other_paths_pass_through_untouched(srv: ScriptedServer, oai: openai.OpenAI) -> None:
    assert [m.id for m in oai.models.list()] == ["gpt-4o-mini"]
    assert srv.last_request.path == "/v1/models"
    assert srv.last_request.headers["authorization"] == "Bearer sk-test-key"


def test_an_unreachable_upstream_is_a_502_in_the_openai_shape(
    start_proxy: Callable[..., AbstractContextManager[RunningProxy]],
) -> None:
    with start_proxy(openai_upstream="http://127.0.0.1:9") as running:
        client = openai.OpenAI(base_url=running.openai_base_url, api_key="k", max_retries=0)
        with pytest.raises(openai.InternalServerError, match="cannot reach the openai upstream") as info:
            client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert info.value.status_code == 502


def test_a_compression_error_sends_the_original_and_is_counted(
    srv: ScriptedServer, proxy: RunningProxy, openai_messages: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("compressor bug")

    monkeypatch.setattr("headroom.providers.request_compression.run_pipeline", broken)
    body = json.dumps({"model": "gpt-4o", "messages": openai_messages}).encode()
    assert httpx.post(f"{proxy.openai_base_url}/chat/completions", content=body).status_code == 200
    assert srv.last_request.raw == body
    assert _totals(proxy)['headroom_proxy_errors_total{kind="compression"}'] == 1


def test_a_compression_timeout_sends_the_original_and_is_counted(
    srv: ScriptedServer,
    start_proxy: Callable[..., AbstractContextManager[RunningProxy]],
    openai_messages: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import headroom.providers.request_compression as rc

    real = rc.run_pipeline

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(rc, "run_pipeline", slow)
    body = json.dumps({"model": "gpt-4o", "messages": openai_messages}).encode()
    with start_proxy(compress_timeout=0.1) as running:
        assert httpx.post(f"{running.openai_base_url}/chat/completions", content=body).status_code == 200
        totals = _totals(running)
    assert srv.last_request.raw == body
    assert totals['headroom_proxy_errors_total{kind="compress_timeout"}'] == 1


def test_a_body_that_is_not_a_chat_request_goes_as_it_came(srv: ScriptedServer, proxy: RunningProxy) -> None:
    response = httpx.post(f"{proxy.openai_base_url}/chat/completions", content=b"{not json")
    assert response.status_code == 400  # the upstream's own answer
    assert srv.last_request.raw == b"{not json"
