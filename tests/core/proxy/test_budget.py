"""HEADROOM_BUDGET in the proxy: a daily USD limit checked before sending, kept in the store."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path

import anthropic
import openai
import pytest
from headroom.proxy.budget import DailyBudget
from sqlalchemy import create_engine

from tests.support.proxy_server import RunningProxy
from tests.support.scripted_server import ScriptedServer, Usage, error_reply, text_reply

HELLO = [{"role": "user", "content": "Say hello."}]
ROUND = Usage(1000, 100)
ROUND_COST = 1000 * 2.5e-6 + 100 * 10e-6  # gpt-4o: $2.50 / $10 per million tokens


def _budget(proxy: RunningProxy) -> DailyBudget:
    budget = proxy.app.state.proxy.budget
    assert budget is not None
    return budget


def test_a_request_that_could_cost_more_than_the_budget_is_refused_before_sending(
    srv: ScriptedServer, start_proxy: Callable[..., AbstractContextManager[RunningProxy]]
) -> None:
    with start_proxy(budget_usd=0.0005) as proxy:
        client = openai.OpenAI(base_url=proxy.openai_base_url, api_key="k", max_retries=2)
        with pytest.raises(openai.RateLimitError, match=r"daily budget of \$0\.0005") as info:
            client.chat.completions.create(model="gpt-4o", messages=HELLO, max_tokens=100)  # type: ignore[arg-type]
        assert _budget(proxy).spent_today() == 0.0
    assert srv.requests == []  # not even the first request went out, and the SDK did not retry
    assert info.value.response.headers["x-should-retry"] == "false"
    assert int(info.value.response.headers["retry-after"]) > 0


def test_spend_is_the_reported_cost_and_the_limit_holds(
    srv: ScriptedServer, start_proxy: Callable[..., AbstractContextManager[RunningProxy]]
) -> None:
    srv.script(*[text_reply("hi", ROUND) for _ in range(5)])
    with start_proxy(budget_usd=0.01) as proxy:
        client = openai.OpenAI(base_url=proxy.openai_base_url, api_key="k", max_retries=0)
        for _ in range(3):
            client.chat.completions.create(model="gpt-4o", messages=HELLO, max_tokens=100)  # type: ignore[arg-type]
        spent = _budget(proxy).spent_today()
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="gpt-4o", messages=HELLO, max_tokens=100)  # type: ignore[arg-type]
    assert spent == pytest.approx(3 * ROUND_COST)
    assert len(srv.requests) == 3


def test_streamed_usage_is_what_is_booked(
    srv: ScriptedServer, start_proxy: Callable[..., AbstractContextManager[RunningProxy]]
) -> None:
    srv.script(text_reply("streamed answer", ROUND))
    with start_proxy(budget_usd=1.0) as proxy:
        client = openai.OpenAI(base_url=proxy.openai_base_url, api_key="k", max_retries=0)
        stream = client.chat.completions.create(
            model="gpt-4o",
            messages=HELLO,
            max_tokens=100,
            stream=True,
            stream_options={"include_usage": True},  # type: ignore[arg-type]
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "streamed answer"
        assert _budget(proxy).spent_today() == pytest.approx(ROUND_COST)


def test_anthropic_spend_counts_cache_reads_and_writes(
    srv: ScriptedServer, start_proxy: Callable[..., AbstractContextManager[RunningProxy]]
) -> None:
    srv.script(text_reply("hi", Usage(1000, 100, cached_tokens=4000, cache_creation_tokens=2000)))
    with start_proxy(budget_usd=1.0) as proxy:
        client = anthropic.Anthropic(base_url=proxy.anthropic_base_url, api_key="k", max_retries=0)
        client.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=HELLO)  # type: ignore[arg-type]
        spent = _budget(proxy).spent_today()
    # haiku 4.5: $1 input, $0.10 cached reads, $5 output per million; cache writes at 1.25x input
    assert spent == pytest.approx((1000 + 2000) * 1e-6 + 4000 * 0.1e-6 + 100 * 5e-6 + 2000 * 0.25e-6)


def test_a_refused_request_releases_its_reservation(
    srv: ScriptedServer, start_proxy: Callable[..., AbstractContextManager[RunningProxy]]
) -> None:
    srv.script(error_reply(500, "upstream down"))
    with start_proxy(budget_usd=1.0) as proxy:
        client = openai.OpenAI(base_url=proxy.openai_base_url, api_key="k", max_retries=0)
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="gpt-4o", messages=HELLO, max_tokens=100)  # type: ignore[arg-type]
        assert _budget(proxy).spent_today() == 0.0


def test_concurrent_reservations_never_pass_the_limit(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'budget.db'}", connect_args={"timeout": 30})
    budget = DailyBudget(engine, limit_usd=1.0)
    with ThreadPoolExecutor(8) as pool:
        granted = [r for r in pool.map(lambda _: budget.reserve(0.03), range(100)) if r is not None]
    assert len(granted) == 33
    assert budget.spent_today() == pytest.approx(0.99)


def test_settling_replaces_the_estimate_by_the_cost(tmp_path: Path) -> None:
    budget = DailyBudget(create_engine(f"sqlite:///{tmp_path / 'budget.db'}"), limit_usd=1.0)
    reservation = budget.reserve(0.2)
    assert reservation is not None
    budget.settle(reservation, 0.05)
    assert budget.spent_today() == pytest.approx(0.05)
    assert budget.status()["remaining_usd"] == pytest.approx(0.95)
