"""HeadroomClient around the real anthropic SDK, against the scripted server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anthropic
import pytest
from headroom import AnthropicProvider, HeadroomClient
from headroom.client import SimulationResult

from tests.core.client.shared import QUESTION, TOOLS_ANTHROPIC
from tests.support.scripted_server import ScriptedServer, Usage, error_reply, text_reply, tool_calls_reply

MODEL = "claude-haiku-4-5"
SYSTEM = "You answer questions about CI runs. Use the tools."


def _client(claude: Any, store_url: str, **kwargs: Any) -> HeadroomClient:
    return HeadroomClient(original_client=claude, provider=AnthropicProvider(), store_url=store_url, **kwargs)


def _tool_result_text(body: dict[str, Any]) -> str:
    for message in body["messages"]:
        if isinstance(message["content"], list):
            for block in message["content"]:
                if block.get("type") == "tool_result":
                    content = block["content"]
                    return content if isinstance(content, str) else "".join(p["text"] for p in content)
    raise AssertionError("no tool_result in the request")


def test_optimize_sends_a_compressed_tool_result_with_valid_pairing(
    srv: ScriptedServer, claude: anthropic.Anthropic, store_url: str, anthropic_messages: list[dict[str, Any]],
    failed_run: dict[str, Any],
) -> None:  # fmt: skip
    client = _client(claude, store_url, default_mode="optimize")
    client.messages.create(
        model=MODEL, max_tokens=300, system=SYSTEM, messages=anthropic_messages, tools=TOOLS_ANTHROPIC
    )
    body = srv.last_request.body  # the server answers 400 on broken tool_use/tool_result pairing
    sent = _tool_result_text(body)
    original = anthropic_messages[2]["content"][0]["content"]
    assert len(sent) < 0.5 * len(original)
    assert str(failed_run["id"]) in sent
    assert body["messages"][0] == {"role": "user", "content": QUESTION}
    assert body["messages"][1] == anthropic_messages[1]
    system = body["system"]
    assert (system if isinstance(system, str) else "".join(b["text"] for b in system)) == SYSTEM
    assert body["tools"] == TOOLS_ANTHROPIC


def test_audit_sends_the_request_byte_for_byte(
    srv: ScriptedServer, claude: anthropic.Anthropic, store_url: str, anthropic_messages: list[dict[str, Any]]
) -> None:
    client = _client(claude, store_url, default_mode="audit")
    client.messages.create(model=MODEL, max_tokens=300, system=SYSTEM, messages=anthropic_messages)
    assert srv.last_request.body == {
        "model": MODEL,
        "max_tokens": 300,
        "system": SYSTEM,
        "messages": anthropic_messages,
    }
    assert client.last_record is not None and client.last_record.potential_tokens_saved > 0


def test_simulate_makes_no_call_and_shows_the_would_be_request(
    srv: ScriptedServer, claude: anthropic.Anthropic, store_url: str, anthropic_messages: list[dict[str, Any]]
) -> None:
    client = _client(claude, store_url)
    plan = client.messages.create(
        model=MODEL, max_tokens=300, system=SYSTEM, messages=anthropic_messages, headroom_mode="simulate"
    )
    assert isinstance(plan, SimulationResult)
    assert srv.requests == []
    assert plan.tokens_after < plan.tokens_before
    assert plan.request["max_tokens"] == 300 and "headroom_mode" not in plan.request
    assert len(_tool_result_text(plan.request)) < len(anthropic_messages[2]["content"][0]["content"])


def test_overrides_never_reach_anthropic(
    srv: ScriptedServer, claude: anthropic.Anthropic, store_url: str, anthropic_messages: list[dict[str, Any]]
) -> None:
    client = _client(claude, store_url)
    client.messages.create(
        model=MODEL, max_tokens=100, messages=anthropic_messages, headroom_mode="optimize",
        headroom_keep_turns=4, headroom_output_buffer_tokens=2000,
        headroom_tool_profiles={"list_workflow_runs": {"max_items_after_crush": 8}},
    )  # fmt: skip
    assert not [k for k in srv.last_request.body if k.startswith("headroom")]
    assert srv.unknown_params() == set()


def test_large_stable_prefix_gets_at_most_four_cache_breakpoints(
    srv: ScriptedServer, claude: anthropic.Anthropic, store_url: str, anthropic_messages: list[dict[str, Any]],
    workflow_runs: list[dict[str, Any]],
) -> None:  # fmt: skip
    # A long system prompt (real data: the runs' display titles as a glossary) is worth caching.
    glossary = "\n".join(f"{r['id']}: {r['display_title']} ({r['head_branch']})" for r in workflow_runs * 4)
    client = _client(claude, store_url, default_mode="optimize")
    client.messages.create(model=MODEL, max_tokens=100, system=SYSTEM + "\n" + glossary, messages=anthropic_messages,
                           tools=TOOLS_ANTHROPIC)  # fmt: skip
    body = srv.last_request.body
    marks = json.dumps(body).count('"cache_control"')
    assert 1 <= marks <= 4
    assert isinstance(body["system"], list) and body["system"][-1].get("cache_control") == {"type": "ephemeral"}


def test_no_cache_breakpoints_when_cache_optimizer_disabled(
    srv: ScriptedServer, claude: anthropic.Anthropic, store_url: str, anthropic_messages: list[dict[str, Any]],
    workflow_runs: list[dict[str, Any]],
) -> None:  # fmt: skip
    glossary = "\n".join(f"{r['id']}: {r['display_title']}" for r in workflow_runs * 4)
    client = _client(claude, store_url, default_mode="optimize", enable_cache_optimizer=False)
    client.messages.create(model=MODEL, max_tokens=100, system=glossary, messages=anthropic_messages)
    assert '"cache_control"' not in json.dumps(srv.last_request.body)


def test_usage_with_cache_reads_and_writes_is_recorded_and_priced(
    srv: ScriptedServer, claude: anthropic.Anthropic, store_url: str
) -> None:
    srv.script(text_reply("ok", usage=Usage(1000, 50, cached_tokens=4000, cache_creation_tokens=2000)))
    client = _client(claude, store_url, default_mode="optimize")
    client.messages.create(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "hi"}])
    record = client.last_record
    assert record is not None and record.usage is not None
    assert (record.usage.input_tokens, record.usage.cached_tokens, record.usage.cache_creation_tokens) == (
        7000,
        4000,
        2000,
    )
    # claude-haiku-4-5: $1 input, $0.10 cached input, $5 output per million; writes cost 1.25x input.
    expected = (1000 * 1.0 + 2000 * 1.0 + 4000 * 0.1 + 50 * 5.0 + 2000 * 1.0 * 0.25) / 1_000_000
    assert record.cost_usd == pytest.approx(expected)
    row = client.store.metrics(source="client", limit=1)[0]
    assert row["cached_tokens"] == 4000 and row["data"]["cost_usd"] == pytest.approx(expected)


def test_create_with_stream_true_passes_events_and_records_usage(
    srv: ScriptedServer, claude: anthropic.Anthropic, store_url: str, anthropic_messages: list[dict[str, Any]]
) -> None:
    srv.script(text_reply("Run 3519037359 failed.", usage=Usage(800, 6, cached_tokens=300)))
    client = _client(claude, store_url, default_mode="optimize")
    events = list(client.messages.create(model=MODEL, max_tokens=100, messages=anthropic_messages, stream=True))
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta")
    assert text == "Run 3519037359 failed."
    assert events[0].type == "message_start" and events[-1].type == "message_stop"
    record = client.last_record
    assert record is not None and record.usage is not None
    assert (record.usage.input_tokens, record.usage.output_tokens, record.usage.cached_tokens) == (1100, 6, 300)


def test_stream_helper_yields_the_final_message_and_records_usage(
    srv: ScriptedServer, claude: anthropic.Anthropic, store_url: str, anthropic_messages: list[dict[str, Any]]
) -> None:
    srv.script(tool_calls_reply(("list_workflow_runs", {"repo": "ReDASers/PhishBench"}), text="Checking.",
                                usage=Usage(700, 20)))  # fmt: skip
    client = _client(claude, store_url, default_mode="optimize")
    with client.messages.stream(model=MODEL, max_tokens=100, messages=anthropic_messages, headroom_keep_turns=2) as s:
        final = s.get_final_message()
    assert [b.type for b in final.content] == ["text", "tool_use"]
    assert "headroom_keep_turns" not in srv.last_request.body
    assert srv.last_request.body["stream"] is True
    record = client.last_record
    assert record is not None and record.usage is not None and record.usage.input_tokens == 700


def test_async_create_stream_and_stream_helper(
    srv: ScriptedServer, async_claude: anthropic.AsyncAnthropic, store_url: str,
    anthropic_messages: list[dict[str, Any]], failed_run: dict[str, Any],
) -> None:  # fmt: skip
    srv.script(text_reply("async answer"), text_reply("streamed"), text_reply("helper"))
    client = _client(async_claude, store_url, default_mode="optimize")

    async def run() -> tuple[str, str, str]:
        msg = await client.messages.create(model=MODEL, max_tokens=50, messages=anthropic_messages)
        stream = await client.messages.create(model=MODEL, max_tokens=50, messages=anthropic_messages, stream=True)
        streamed = "".join([e.delta.text async for e in stream if e.type == "content_block_delta"])
        async with client.messages.stream(model=MODEL, max_tokens=50, messages=anthropic_messages) as s:
            helper = await s.get_final_text()
        return msg.content[0].text, streamed, helper  # type: ignore[union-attr]

    assert asyncio.run(run()) == ("async answer", "streamed", "helper")
    assert len(srv.requests) == 3
    assert all(str(failed_run["id"]) in _tool_result_text(r.body) for r in srv.requests)
    assert client.get_stats()["session"]["requests"] == 3


@pytest.mark.parametrize(
    ("status", "exc"),
    [(400, anthropic.BadRequestError), (429, anthropic.RateLimitError), (529, anthropic.InternalServerError)],
)
def test_provider_errors_surface_as_anthropic_exceptions(
    srv: ScriptedServer, claude: anthropic.Anthropic, store_url: str, status: int, exc: type[Exception]
) -> None:
    srv.script(error_reply(status, "scripted failure"))
    client = _client(claude, store_url, default_mode="optimize")
    with pytest.raises(exc, match="scripted failure"):
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}])


def test_count_tokens_and_other_calls_pass_through(
    srv: ScriptedServer, claude: anthropic.Anthropic, store_url: str
) -> None:
    client = _client(claude, store_url)
    counted = client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "hello there"}])
    assert counted.input_tokens > 0
    assert client.api_key == "test-key"
    assert [r.path for r in srv.requests] == ["/v1/messages/count_tokens"]


def test_fitting_a_long_agent_history_keeps_anthropic_tool_pairing_valid(
    srv: ScriptedServer, claude: anthropic.Anthropic, store_url: str, anthropic_messages: list[dict[str, Any]]
) -> None:
    history: list[dict[str, Any]] = []
    for turn in range(6):  # six agent turns over the same real tool output, each with its own tool_use id
        use = {**anthropic_messages[1]["content"][1], "id": f"toolu_{turn}"}
        result = {**anthropic_messages[2]["content"][0], "tool_use_id": f"toolu_{turn}"}
        history += [{"role": "user", "content": f"{QUESTION} (attempt {turn})"},
                    {"role": "assistant", "content": [use]}, {"role": "user", "content": [result]}]  # fmt: skip
    client = _client(claude, store_url, default_mode="optimize", model_context_limits={MODEL: 60_000})
    client.messages.create(model=MODEL, max_tokens=1000, system=SYSTEM, messages=history, headroom_keep_turns=1,
                           headroom_output_buffer_tokens=4000)  # fmt: skip
    record = client.last_record
    assert record is not None and record.tokens_before > 400_000
    assert record.tokens_after <= 56_000
    sent = srv.last_request.body["messages"]  # accepted: every tool_use has its tool_result right after it
    assert sent[-3]["content"] == f"{QUESTION} (attempt 5)"


def test_stream_helper_refuses_simulate_mode_and_sends_nothing(
    srv: ScriptedServer, claude: anthropic.Anthropic, store_url: str, anthropic_messages: list[dict[str, Any]]
) -> None:
    from headroom.errors import InvalidArgumentError

    client = _client(claude, store_url, default_mode="simulate")
    with (
        pytest.raises(InvalidArgumentError, match="simulate"),
        client.messages.stream(model=MODEL, max_tokens=50, messages=anthropic_messages),
    ):
        pass
    assert srv.requests == []
