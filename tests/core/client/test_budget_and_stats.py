"""Metrics in the store, get_stats(), the daily budget, configuration precedence and failing open."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from headroom import HeadroomClient, HeadroomConfig, OpenAIProvider, metrics
from headroom.ccr.store import get_store
from headroom.config import HeadroomMode
from headroom.errors import BudgetExceededError
from headroom.tokens import count_message_tokens

from tests.support.scripted_server import ScriptedServer, Usage, text_reply

# gpt-4o: $2.50 input, $10 output per million tokens: 100k input + 10k output cost $0.35.
EXPENSIVE = Usage(input_tokens=100_000, output_tokens=10_000)


def test_each_call_is_recorded_in_the_store_with_usage_cost_and_savings(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]]
) -> None:
    srv.script(text_reply("a", usage=Usage(20_000, 100, cached_tokens=1024)), text_reply("b"))
    client = HeadroomClient(oai, OpenAIProvider(), default_mode="optimize", store_url=store_url)
    client.chat.completions.create(model="gpt-4o", messages=openai_messages)
    client.chat.completions.create(model="gpt-4o", messages=openai_messages, headroom_mode="audit")
    audit_row, optimize_row = client.store.metrics(source="client")
    assert (optimize_row["mode"], audit_row["mode"]) == ("optimize", "audit")
    assert optimize_row["tokens_after"] < optimize_row["tokens_before"]
    assert optimize_row["cached_tokens"] == 1024
    assert optimize_row["data"]["usage"]["input_tokens"] == 20_000
    assert optimize_row["data"]["cost_usd"] == pytest.approx((18_976 * 2.5 + 1024 * 1.25 + 100 * 10.0) / 1e6)
    assert optimize_row["cost_after"] < optimize_row["cost_before"]
    assert audit_row["tokens_after"] == audit_row["tokens_before"]
    assert audit_row["data"]["potential_tokens_saved"] == optimize_row["tokens_before"] - optimize_row["tokens_after"]


def test_get_stats_sums_the_session_and_what_the_store_holds(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]]
) -> None:
    first = HeadroomClient(oai, OpenAIProvider(), default_mode="optimize", store_url=store_url)
    first.chat.completions.create(model="gpt-4o", messages=openai_messages)
    second = HeadroomClient(oai, OpenAIProvider(), default_mode="audit", store_url=store_url)
    second.chat.completions.create(model="gpt-4o", messages=openai_messages)
    stats = second.get_stats()
    assert stats["session"]["requests"] == 1
    assert stats["persisted"]["requests"] == 2
    assert stats["persisted"]["by_mode"] == {"optimize": 1, "audit": 1}
    assert stats["persisted"]["tokens_saved"] == first.get_stats()["session"]["tokens_saved"] > 0
    assert stats["persisted"]["potential_tokens_saved"] == 2 * stats["persisted"]["tokens_saved"]
    assert stats["store"]["requests"] == 2  # what `headroom stats` prints
    assert [r["mode"] for r in stats["recent"]] == ["audit", "optimize"]


def test_budget_stops_requests_once_todays_cost_reaches_it(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADROOM_BUDGET", "0.30")
    srv.script(text_reply("expensive", usage=EXPENSIVE))
    client = HeadroomClient(oai, OpenAIProvider(), store_url=store_url)
    question = [{"role": "user", "content": "Which runs failed?"}]
    client.chat.completions.create(model="gpt-4o", messages=question)
    assert client.spent_today_usd() == pytest.approx(0.35)
    with pytest.raises(BudgetExceededError, match=r"\$0\.30"):
        client.chat.completions.create(model="gpt-4o", messages=question)
    assert len(srv.requests) == 1
    plan = client.chat.completions.create(model="gpt-4o", messages=question, headroom_mode="simulate")
    assert plan.tokens_before > 0  # simulate sends nothing and is not limited


def test_budget_allows_requests_below_it(srv: ScriptedServer, oai: openai.OpenAI, store_url: str) -> None:
    srv.script(text_reply("cheap", usage=Usage(1000, 10)), text_reply("again"))
    client = HeadroomClient(oai, OpenAIProvider(), store_url=store_url, config=HeadroomConfig(budget_usd=0.30))
    question = [{"role": "user", "content": "Which runs failed?"}]
    client.chat.completions.create(model="gpt-4o", messages=question)
    client.chat.completions.create(model="gpt-4o", messages=question)
    assert len(srv.requests) == 2


def test_budget_is_shared_by_clients_of_the_same_store(srv: ScriptedServer, oai: openai.OpenAI, store_url: str) -> None:
    srv.script(text_reply("expensive", usage=EXPENSIVE))
    question = [{"role": "user", "content": "Which runs failed?"}]
    HeadroomClient(oai, OpenAIProvider(), store_url=store_url).chat.completions.create(
        model="gpt-4o", messages=question
    )
    limited = HeadroomClient(oai, OpenAIProvider(), store_url=store_url, config=HeadroomConfig(budget_usd=0.1))
    with pytest.raises(BudgetExceededError):
        limited.chat.completions.create(model="gpt-4o", messages=question)


def test_constructor_arguments_override_config_and_environment(
    oai: openai.OpenAI, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADROOM_DEFAULT_MODE", "simulate")
    assert HeadroomClient(oai, OpenAIProvider(), store_url=store_url).config.default_mode is HeadroomMode.SIMULATE
    client = HeadroomClient(
        oai, OpenAIProvider(), default_mode="optimize", store_url=store_url, enable_cache_optimizer=False,
        model_context_limits={"gpt-4o": 16_000}, config=HeadroomConfig(model_context_limits={"gpt-4o-mini": 8_000}),
    )  # fmt: skip
    assert client.config.default_mode is HeadroomMode.OPTIMIZE
    assert client.config.cache_optimizer.enabled is False
    assert client.config.model_context_limits == {"gpt-4o-mini": 8_000, "gpt-4o": 16_000}
    assert client.store is get_store(client.config)


def test_default_mode_is_audit(oai: openai.OpenAI, store_url: str) -> None:
    assert HeadroomClient(oai, OpenAIProvider(), store_url=store_url).config.default_mode is HeadroomMode.AUDIT


def test_model_context_limit_makes_a_long_history_fit(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]]
) -> None:
    client = HeadroomClient(oai, OpenAIProvider(), default_mode="optimize", store_url=store_url,
                            model_context_limits={"gpt-4o": 40_000})  # fmt: skip
    history = []
    for turn in range(6):  # six agent turns over the same real tool output, each with its own call id
        call = {**openai_messages[2]["tool_calls"][0], "id": f"call_{turn}"}
        history += [openai_messages[1], {**openai_messages[2], "tool_calls": [call]},
                    {**openai_messages[3], "tool_call_id": f"call_{turn}"}]  # fmt: skip
    messages = [openai_messages[0], *history]
    client.chat.completions.create(model="gpt-4o", messages=messages, headroom_output_buffer_tokens=2000,
                                   headroom_keep_turns=1)  # fmt: skip
    assert count_message_tokens(messages, "gpt-4o") > 100_000
    assert count_message_tokens(srv.last_request.body["messages"], "gpt-4o") <= 38_000


def test_internal_failure_fails_open_and_sends_the_original(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("compressor bug")

    monkeypatch.setattr("headroom.providers.request_compression.run_pipeline", broken)
    before = metrics.snapshot().get("errors.client.pipeline", 0)
    client = HeadroomClient(oai, OpenAIProvider(), default_mode="optimize", store_url=store_url)
    response = client.chat.completions.create(model="gpt-4o", messages=openai_messages)
    assert response.choices[0].message.content == "ok"
    assert srv.last_request.body["messages"] == openai_messages
    assert metrics.snapshot()["errors.client.pipeline"] == before + 1


def test_bookkeeping_failure_never_costs_the_caller_the_response(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = HeadroomClient(oai, OpenAIProvider(), default_mode="optimize", store_url=store_url)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(client.store, "record_metrics", broken)
    before = metrics.snapshot()
    question = [{"role": "user", "content": "Which runs failed?"}]
    assert client.chat.completions.create(model="gpt-4o", messages=question).choices[0].message.content == "ok"
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=question, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "ok"
    after = metrics.snapshot()
    assert after.get("errors.client.metrics", 0) == before.get("errors.client.metrics", 0) + 1
    assert after.get("errors.client.stream_metrics", 0) == before.get("errors.client.stream_metrics", 0) + 1


def test_failed_conversion_sends_the_original_and_records_no_saving(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    client = HeadroomClient(oai, OpenAIProvider(), default_mode="optimize", store_url=store_url)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("unexpected shape")

    monkeypatch.setattr(client.provider, "with_core_messages", broken)
    client.chat.completions.create(model="gpt-4o", messages=openai_messages)
    assert srv.last_request.body["messages"] == openai_messages
    record = client.last_record
    assert record is not None and record.tokens_after == record.tokens_before
    assert record.potential_tokens_saved > 0
