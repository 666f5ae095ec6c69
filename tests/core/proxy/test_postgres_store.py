"""The proxy on a PostgreSQL store: what several machines sharing one ``store_url`` rely on.

Runs against the shared ``postgres_url`` fixture (HEADROOM_TEST_POSTGRES_URL, else a throw-away
cluster, else skipped), each test in a fresh schema.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx
import openai
import pytest

from tests.support.proxy_server import RunningProxy, proxy_process
from tests.support.scripted_server import ScriptedServer, Usage, text_reply, tool_call_reply


@pytest.fixture
def pg_url(postgres_schema_url: str) -> str:
    """A PostgreSQL store in a fresh schema of this test's own (the shared postgres_url fixture)."""
    return postgres_schema_url


def test_a_key_created_by_one_proxy_is_retrieved_by_another(
    pg_url: str,
    srv: ScriptedServer,
    start_proxy: Callable[..., AbstractContextManager[RunningProxy]],
    openai_messages: list[dict[str, Any]],
) -> None:
    base = srv.anthropic_base_url
    with (
        start_proxy(store_url=pg_url) as here,
        proxy_process("--store-url", pg_url, "--openai-upstream", base, "--anthropic-upstream", base) as there,
    ):
        keys = httpx.post(f"{here.base_url}/v1/compress", json={"messages": openai_messages}).json()["ccr_keys"]
        response = httpx.get(f"{there.base_url}/v1/retrieve", params={"key": keys[0]})
    assert response.json()["content"] == openai_messages[-1]["content"]


def test_retrieval_rounds_read_the_postgres_store(
    pg_url: str,
    srv: ScriptedServer,
    start_proxy: Callable[..., AbstractContextManager[RunningProxy]],
    openai_messages: list[dict[str, Any]],
) -> None:
    import headroom
    from headroom.config import HeadroomConfig

    key = headroom.compress(openai_messages, config=HeadroomConfig(stateless=True)).ccr_keys[0]
    srv.script(tool_call_reply("headroom_retrieve", {"key": key}), text_reply("done"))
    with start_proxy(store_url=pg_url) as proxy:
        client = openai.OpenAI(base_url=proxy.openai_base_url, api_key="k", max_retries=0)
        reply = client.chat.completions.create(model="gpt-4o", messages=openai_messages)
    assert reply.choices[0].message.content == "done"
    assert srv.requests[-1].body["messages"][-1]["content"] == openai_messages[-1]["content"]


def test_budget_and_counters_live_in_postgres(
    pg_url: str, srv: ScriptedServer, start_proxy: Callable[..., AbstractContextManager[RunningProxy]]
) -> None:
    srv.script(*[text_reply("hi", Usage(40_000, 0)) for _ in range(4)])  # $0.10 each at gpt-4o prices
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    with start_proxy(store_url=pg_url, budget_usd=0.25) as proxy:
        statuses = [httpx.post(f"{proxy.openai_base_url}/chat/completions", json=body).status_code for _ in range(4)]
        stats = httpx.get(f"{proxy.base_url}/stats").json()
    assert statuses == [200, 200, 200, 429]
    assert stats["budget"]["spent_usd"] == pytest.approx(0.3)
    assert stats["requests"]["by_endpoint"]["chat"] == 4
    assert stats["budget_rejections"] == 1
    assert stats["store"]["url"].startswith("postgresql")
