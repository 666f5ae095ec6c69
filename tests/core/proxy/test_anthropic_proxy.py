"""The real anthropic SDK through the real proxy in front of the scripted upstream."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import anthropic
import httpx
import pytest
from headroom.ccr.retrieval import RETRIEVE_TOOL_NAME

from tests.support.proxy_server import RunningProxy
from tests.support.scripted_server import ScriptedServer, error_reply, text_reply

HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture
def claude(proxy: RunningProxy) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=proxy.anthropic_base_url, api_key="sk-ant-test", max_retries=0)


def _tool_result(messages: list[dict[str, Any]]) -> str:
    for message in messages:
        for block in message["content"] if isinstance(message["content"], list) else []:
            if block.get("type") == "tool_result":
                content = block["content"]
                return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
    raise AssertionError("no tool_result sent")


def test_compressed_request_arrives_upstream(
    srv: ScriptedServer,
    claude: anthropic.Anthropic,
    anthropic_messages: list[dict[str, Any]],
    failed_run: dict[str, Any],
) -> None:
    claude.messages.create(
        model="claude-haiku-4-5", max_tokens=200, system="Answer briefly.", messages=anthropic_messages
    )
    sent = srv.last_request.body
    original = _tool_result(anthropic_messages)
    assert len(_tool_result(sent["messages"])) < len(original) // 2
    assert str(failed_run["id"]) in _tool_result(sent["messages"])
    assert [t["name"] for t in sent["tools"]] == [RETRIEVE_TOOL_NAME]
    assert "system" in sent and sent["max_tokens"] == 200


def test_anthropic_headers_reach_the_upstream(srv: ScriptedServer, proxy: RunningProxy) -> None:
    headers = {"x-api-key": "sk-ant-live", "anthropic-version": "2023-06-01",
               "anthropic-beta": "prompt-caching-2024-07-31", "x-trace": "t-1"}  # fmt: skip
    body = {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": HELLO}
    assert httpx.post(f"{proxy.anthropic_base_url}/v1/messages", json=body, headers=headers).status_code == 200
    seen = srv.last_request.headers
    assert {k: seen[k] for k in headers} == headers


def test_the_sdks_own_headers_reach_the_upstream(srv: ScriptedServer, proxy: RunningProxy) -> None:
    import httpx2  # the HTTP client this SDK is built on

    sent: list[Any] = []
    http = httpx2.Client(event_hooks={"request": [sent.append]})
    client = anthropic.Anthropic(
        base_url=proxy.anthropic_base_url, api_key="sk-ant-live", max_retries=0, http_client=http
    )
    client.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=HELLO)  # type: ignore[arg-type]
    seen = srv.last_request.headers
    for name, value in sent[0].headers.items():
        if name not in ("host", "connection", "content-length"):
            assert seen[name] == value, name


def test_unchanged_request_is_forwarded_byte_for_byte(srv: ScriptedServer, proxy: RunningProxy) -> None:
    body = b'{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"metadata":{"user_id":"u"}}'
    response = httpx.post(f"{proxy.anthropic_base_url}/v1/messages", content=body,
                          headers={"x-api-key": "k", "anthropic-version": "2023-06-01"})  # fmt: skip
    assert response.status_code == 200
    assert srv.last_request.raw == body


def test_upstream_overload_comes_back_unchanged(srv: ScriptedServer, claude: anthropic.Anthropic) -> None:
    srv.script(error_reply(529, "Overloaded", headers={"retry-after": "3"}))
    with pytest.raises(anthropic.APIStatusError, match="Overloaded") as info:
        claude.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=HELLO)  # type: ignore[arg-type]
    assert info.value.status_code == 529
    assert info.value.response.headers["retry-after"] == "3"


def test_streams_arrive_event_by_event(
    start_proxy: Callable[..., AbstractContextManager[RunningProxy]], srv: ScriptedServer
) -> None:
    srv.stream_delay = 0.12
    srv.script(text_reply("alpha beta gamma delta"))
    with start_proxy() as running:
        client = anthropic.Anthropic(base_url=running.anthropic_base_url, api_key="k", max_retries=0)
        arrivals: list[float] = []
        started = time.monotonic()
        with client.messages.stream(model="claude-haiku-4-5", max_tokens=50, messages=HELLO) as stream:  # type: ignore[arg-type]
            for _event in stream:
                arrivals.append(time.monotonic() - started)
            final = stream.get_final_message()
    assert final.content[0].text == "alpha beta gamma delta"  # type: ignore[union-attr]
    assert arrivals[-1] - arrivals[0] > 0.8  # ten events, 0.12 s apart upstream


def test_count_tokens_counts_the_request_as_it_will_be_sent(
    srv: ScriptedServer, claude: anthropic.Anthropic, anthropic_messages: list[dict[str, Any]]
) -> None:
    counted = claude.messages.count_tokens(model="claude-haiku-4-5", messages=anthropic_messages)  # type: ignore[arg-type]
    sent = srv.last_request
    assert sent.path == "/v1/messages/count_tokens"
    assert len(json.dumps(sent.body)) < len(json.dumps(anthropic_messages)) // 2
    direct = httpx.post(f"{srv.anthropic_base_url}/v1/messages/count_tokens",
                        json={"model": "claude-haiku-4-5", "messages": anthropic_messages}).json()  # fmt: skip
    assert counted.input_tokens < direct["input_tokens"] // 2


def test_count_tokens_stores_nothing(
    claude: anthropic.Anthropic, proxy: RunningProxy, anthropic_messages: list[dict[str, Any]]
) -> None:
    claude.messages.count_tokens(model="claude-haiku-4-5", messages=anthropic_messages)  # type: ignore[arg-type]
    assert proxy.app.state.proxy.store.stats()["entries"] == 0
