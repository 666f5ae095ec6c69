"""HeadroomClient around the real openai SDK, against the scripted server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest
from headroom import HeadroomClient, OpenAIProvider
from headroom.client import SimulationResult
from headroom.errors import ConfigurationError, InvalidArgumentError
from headroom.tokens import count_message_tokens

from tests.core.client.shared import TOOLS_OPENAI
from tests.support.scripted_server import ScriptedServer, Usage, error_reply, text_reply, tool_call_reply


def _client(oai: Any, store_url: str, **kwargs: Any) -> HeadroomClient:
    return HeadroomClient(original_client=oai, provider=OpenAIProvider(), store_url=store_url, **kwargs)


def _sent_tool_output(srv: ScriptedServer) -> str:
    messages = srv.last_request.body["messages"]
    tool = next(m for m in messages if m["role"] == "tool")
    content = tool["content"]
    return content if isinstance(content, str) else "".join(p["text"] for p in content)


def test_optimize_sends_compressed_tool_output_that_keeps_the_failed_run(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]],
    failed_run: dict[str, Any],
) -> None:  # fmt: skip
    client = _client(oai, store_url, default_mode="optimize")
    client.chat.completions.create(model="gpt-4o", messages=openai_messages, tools=TOOLS_OPENAI)
    sent = srv.last_request.body["messages"]
    assert count_message_tokens(sent, "gpt-4o") < 0.5 * count_message_tokens(openai_messages, "gpt-4o")
    assert str(failed_run["id"]) in _sent_tool_output(srv)
    assert sent[:3] == openai_messages[:3]
    assert srv.last_request.body["tools"] == TOOLS_OPENAI


def test_audit_sends_the_original_request_and_records_what_optimize_would_save(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]]
) -> None:
    client = _client(oai, store_url)  # audit is the default mode
    client.chat.completions.create(model="gpt-4o", messages=openai_messages, temperature=0)
    assert srv.last_request.body == {"model": "gpt-4o", "messages": openai_messages, "temperature": 0}
    record = client.last_record
    assert record is not None and record.mode == "audit"
    assert record.tokens_after == record.tokens_before
    assert record.potential_tokens_saved > record.tokens_before // 2


def test_simulate_returns_the_plan_without_calling_the_provider(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]]
) -> None:
    client = _client(oai, store_url, default_mode="simulate")
    plan = client.chat.completions.create(model="gpt-4o", messages=openai_messages)
    assert isinstance(plan, SimulationResult)
    assert srv.requests == []
    assert plan.tokens_after < plan.tokens_before
    assert any(t.startswith("smart_crusher") for t in plan.transforms)
    assert plan.estimated_cost_after_usd is not None and plan.estimated_cost_before_usd is not None
    assert plan.estimated_cost_after_usd < plan.estimated_cost_before_usd
    assert count_message_tokens(plan.messages, "gpt-4o") == plan.tokens_after
    assert client.get_stats()["persisted"]["requests"] == 0


def test_overrides_never_reach_the_provider(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]]
) -> None:
    client = _client(oai, store_url, default_mode="audit")
    client.chat.completions.create(
        model="gpt-4o",
        messages=openai_messages,
        headroom_mode="optimize",
        headroom_output_buffer_tokens=8000,
        headroom_keep_turns=3,
        headroom_tool_profiles={"list_workflow_runs": {"max_items_after_crush": 5}},
        extra_body={"headroom_session_id": "s-1", "seed": 7},
    )
    body = srv.last_request.body
    assert not [k for k in body if k.startswith("headroom")]
    assert body["seed"] == 7
    assert srv.unknown_params() == set()
    assert client.last_record is not None and client.last_record.mode == "optimize"


def test_tool_profile_override_changes_what_is_sent(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]]
) -> None:
    client = _client(oai, store_url, default_mode="optimize")
    client.chat.completions.create(
        model="gpt-4o", messages=openai_messages,
        headroom_tool_profiles={"list_workflow_runs": {"skip_compression": True}},
    )  # fmt: skip
    assert _sent_tool_output(srv) == openai_messages[3]["content"]


def test_unknown_override_is_a_configuration_error_and_nothing_is_sent(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]]
) -> None:
    client = _client(oai, store_url)
    with pytest.raises(ConfigurationError, match="headroom_moed"):
        client.chat.completions.create(model="gpt-4o", messages=openai_messages, headroom_moed="optimize")
    assert srv.requests == []


def test_streaming_passes_every_chunk_and_records_reported_usage(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]]
) -> None:
    srv.script(text_reply("Run 3519037359 failed on the dependabot branch.", usage=Usage(900, 9, cached_tokens=512)))
    client = _client(oai, store_url, default_mode="optimize")
    stream = client.chat.completions.create(
        model="gpt-4o", messages=openai_messages, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Run 3519037359 failed on the dependabot branch."
    assert len(chunks) > 5
    record = client.last_record
    assert record is not None and record.stream
    assert record.usage is not None and (record.usage.input_tokens, record.usage.cached_tokens) == (900, 512)
    assert srv.last_request.body["stream"] is True


def test_streamed_tool_call_arguments_arrive_intact(srv: ScriptedServer, oai: openai.OpenAI, store_url: str) -> None:
    srv.script(tool_call_reply("list_workflow_runs", {"repo": "ReDASers/PhishBench", "status": "failure"}))
    client = _client(oai, store_url, default_mode="optimize")
    with client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "failed runs?"}], tools=TOOLS_OPENAI, stream=True
    ) as stream:
        args = "".join(
            tc.function.arguments or ""
            for chunk in stream
            for tc in (chunk.choices[0].delta.tool_calls or [])
            if tc.function
        )
    assert json.loads(args) == {"repo": "ReDASers/PhishBench", "status": "failure"}
    assert client.last_record is not None and client.last_record.usage is not None
    assert client.last_record.usage.estimated  # no include_usage: Headroom counted the streamed output


def test_async_client_optimizes_and_streams(
    srv: ScriptedServer, async_oai: openai.AsyncOpenAI, store_url: str, openai_messages: list[dict[str, Any]],
    failed_run: dict[str, Any],
) -> None:  # fmt: skip
    client = _client(async_oai, store_url, default_mode="optimize")
    srv.script(text_reply("one run failed"), text_reply("streamed answer"))

    async def run() -> tuple[str | None, str]:
        resp = await client.chat.completions.create(model="gpt-4o", messages=openai_messages)
        stream = await client.chat.completions.create(model="gpt-4o", messages=openai_messages, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        return resp.choices[0].message.content, text

    assert asyncio.run(run()) == ("one run failed", "streamed answer")
    assert len(srv.requests) == 2
    assert str(failed_run["id"]) in _sent_tool_output(srv)
    assert client.get_stats()["session"]["requests"] == 2


@pytest.mark.parametrize(
    ("status", "exc"),
    [(400, openai.BadRequestError), (429, openai.RateLimitError), (500, openai.InternalServerError)],
)
def test_provider_errors_surface_as_openai_exceptions(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, status: int, exc: type[Exception]
) -> None:
    srv.script(error_reply(status, "scripted failure"))
    client = _client(oai, store_url, default_mode="optimize")
    with pytest.raises(exc, match="scripted failure"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


def test_async_provider_error_surfaces_as_openai_exception(
    srv: ScriptedServer, async_oai: openai.AsyncOpenAI, store_url: str
) -> None:
    srv.script(error_reply(429, "slow down"))
    client = _client(async_oai, store_url, default_mode="optimize")
    with pytest.raises(openai.RateLimitError):
        asyncio.run(client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}]))


def test_everything_else_passes_through_to_the_original_client(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str
) -> None:
    client = _client(oai, store_url)
    assert [m.id for m in client.models.list()] == ["gpt-4o-mini"]
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert raw.http_response.status_code == 200
    assert client.api_key == "test-key"
    assert [r.path for r in srv.requests] == ["/v1/models", "/v1/chat/completions"]


def test_prefix_caching_sends_a_stable_prompt_cache_key(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]]
) -> None:
    client = HeadroomClient(
        oai, OpenAIProvider(enable_prefix_caching=True), default_mode="optimize", store_url=store_url
    )
    client.chat.completions.create(model="gpt-4o", messages=openai_messages)
    client.chat.completions.create(model="gpt-4o", messages=[*openai_messages[:2], {"role": "user", "content": "and?"}])
    keys = [r.body.get("prompt_cache_key") for r in srv.requests]
    assert keys[0] is not None and keys[0] == keys[1]


def test_no_cache_hint_when_the_cache_optimizer_is_disabled(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]]
) -> None:
    client = HeadroomClient(
        oai, OpenAIProvider(enable_prefix_caching=True), default_mode="optimize", store_url=store_url,
        enable_cache_optimizer=False,
    )  # fmt: skip
    client.chat.completions.create(model="gpt-4o", messages=openai_messages)
    assert "prompt_cache_key" not in srv.last_request.body


def test_anthropic_client_with_openai_provider_is_rejected(claude: Any, store_url: str) -> None:
    with pytest.raises(InvalidArgumentError, match="AnthropicProvider"):
        HeadroomClient(claude, OpenAIProvider(), store_url=store_url)


def test_history_with_sdk_message_objects_is_accepted(srv: ScriptedServer, oai: openai.OpenAI, store_url: str) -> None:
    srv.script(tool_call_reply("list_workflow_runs", {"repo": "x"}, call_id="call_9"), text_reply("done"))
    client = _client(oai, store_url, default_mode="optimize")
    history: list[Any] = [{"role": "user", "content": "failed runs?"}]
    first = client.chat.completions.create(model="gpt-4o", messages=history, tools=TOOLS_OPENAI)
    history += [first.choices[0].message, {"role": "tool", "tool_call_id": "call_9", "content": "[]"}]
    second = client.chat.completions.create(model="gpt-4o", messages=history, tools=TOOLS_OPENAI)
    assert second.choices[0].message.content == "done"
    assert srv.last_request.body["messages"][1]["tool_calls"][0]["id"] == "call_9"


def test_stream_helper_yields_events_and_records_usage(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]]
) -> None:
    srv.script(text_reply("Run 3519037359 failed.", usage=Usage(640, 5)))
    client = _client(oai, store_url, default_mode="optimize")
    with client.chat.completions.stream(
        model="gpt-4o", messages=openai_messages, stream_options={"include_usage": True}, headroom_keep_turns=0
    ) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == final.choices[0].message.content == "Run 3519037359 failed."
    assert "headroom_keep_turns" not in srv.last_request.body
    assert len(_sent_tool_output(srv)) < len(openai_messages[3]["content"])
    record = client.last_record
    assert record is not None and record.usage is not None and record.usage.input_tokens == 640


def test_with_options_keeps_the_wrapper(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]]
) -> None:
    client = _client(oai, store_url, default_mode="optimize")
    tuned = client.with_options(timeout=5.0, default_headers={"x-team": "ci"})
    assert isinstance(tuned, HeadroomClient)
    tuned.chat.completions.create(model="gpt-4o", messages=openai_messages)
    assert srv.last_request.headers["x-team"] == "ci"
    assert len(_sent_tool_output(srv)) < len(openai_messages[3]["content"])
    assert tuned.store is client.store


def test_stream_proxy_supports_next_and_the_sdk_stream_attributes(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str
) -> None:
    srv.script(text_reply("two words"))
    client = _client(oai, store_url, default_mode="optimize")
    stream = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True)
    assert stream.response.status_code == 200
    first = next(stream)
    assert first.choices[0].delta.role == "assistant"
    stream.close()
    assert client.last_record is not None and client.last_record.stream


def test_concurrent_calls_from_threads_are_all_recorded(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    client = _client(oai, store_url, default_mode="optimize")
    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(
            pool.map(lambda _: client.chat.completions.create(model="gpt-4o", messages=openai_messages), range(8))
        )
    assert [r.choices[0].message.content for r in replies] == ["ok"] * 8
    assert client.get_stats()["persisted"]["requests"] == 8
    assert all(len(_sent_tool_output_of(r.body)) < len(openai_messages[3]["content"]) for r in srv.requests)


def _sent_tool_output_of(body: dict[str, Any]) -> str:
    tool = next(m for m in body["messages"] if m["role"] == "tool")
    content = tool["content"]
    return content if isinstance(content, str) else "".join(p["text"] for p in content)


def test_what_optimize_left_out_is_retrievable_from_the_clients_store(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]]
) -> None:
    import re

    import headroom

    client = _client(oai, store_url, default_mode="optimize")
    client.chat.completions.create(model="gpt-4o", messages=openai_messages)
    keys = set(re.findall(r"hr_[0-9a-f]{16}", _sent_tool_output(srv)))
    assert keys
    originals = [headroom.retrieve(key, store_url=store_url) for key in keys]
    assert any(json.loads(o) == json.loads(openai_messages[3]["content"]) for o in originals)
