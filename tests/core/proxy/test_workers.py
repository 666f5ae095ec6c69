"""``headroom proxy --workers 2``: two processes, one store, one set of keys, counters and budget."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support.proxy_server import RunningProxy, proxy_process
from tests.support.scripted_server import ScriptedServer, Usage, text_reply


@contextmanager
def _two_workers(upstream: ScriptedServer, store: Path, *options: str) -> Iterator[RunningProxy]:
    base = upstream.anthropic_base_url
    with proxy_process(
        "--workers", "2", "--store-url", f"sqlite:///{store}", "--openai-upstream", base, "--anthropic-upstream", base,
        *options,
    ) as proxy:  # fmt: skip
        yield proxy


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture(scope="module")
def two_workers(upstream: ScriptedServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    """One proxy with two workers for this module (starting processes is what takes time here)."""
    with _two_workers(upstream, tmp_path_factory.mktemp("workers") / "shared.db") as proxy:
        yield proxy


def _client_on_worker(proxy: RunningProxy, avoid: int | None) -> tuple[httpx.Client, int]:
    """A keep-alive connection (so every request on it reaches the same worker) and that worker's pid."""
    for _ in range(400):
        client = httpx.Client(base_url=proxy.base_url, timeout=30)
        pid = client.get("/livez").json()["pid"]
        if pid != avoid:
            return client, pid
        client.close()
    raise AssertionError("the kernel never handed a connection to the second worker")


def _until(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_a_key_created_through_one_worker_is_retrieved_through_the_other(
    two_workers: RunningProxy, openai_messages: list[dict[str, Any]]
) -> None:
    first, pid_a = _client_on_worker(two_workers, None)
    second, pid_b = _client_on_worker(two_workers, pid_a)
    assert pid_a != pid_b
    keys = first.post("/v1/compress", json={"messages": openai_messages}).json()["ccr_keys"]
    response = second.get("/v1/retrieve", params={"key": keys[0]})
    assert response.status_code == 200
    assert response.json()["content"] == openai_messages[-1]["content"]


def test_both_workers_report_the_same_totals(two_workers: RunningProxy, openai_messages: list[dict[str, Any]]) -> None:
    first, pid_a = _client_on_worker(two_workers, None)
    second, _ = _client_on_worker(two_workers, pid_a)
    first.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": openai_messages})
    second.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": openai_messages})

    def both_counted() -> Any:
        a, b = first.get("/stats").json(), second.get("/stats").json()
        return a["requests"]["by_endpoint"].get("chat", 0) >= 2 and a["tokens"] == b["tokens"] and a

    stats = _until(both_counted)
    assert stats, "the two workers' counters did not meet in the store"
    assert stats["tokens"]["after"] < stats["tokens"]["before"]


def test_the_budget_is_shared_by_the_workers(srv: ScriptedServer, tmp_path: Path) -> None:
    srv.script(*[text_reply("hi", Usage(40_000, 0)) for _ in range(20)])  # $0.10 a request at gpt-4o prices
    with _two_workers(srv, tmp_path / "budget.db", "--budget", "1") as proxy:
        statuses, spent = _spend_through_both_workers(proxy)
    assert statuses[:10] == [200] * 10
    assert set(statuses[10:]) == {429}
    assert spent == pytest.approx(1.0)


def _spend_through_both_workers(proxy: RunningProxy) -> tuple[list[int], float]:
    first, pid_a = _client_on_worker(proxy, None)
    second, _ = _client_on_worker(proxy, pid_a)
    statuses = []
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    for n in range(14):
        statuses.append((first if n % 2 else second).post("/v1/chat/completions", json=body).status_code)
    return statuses, second.get("/stats").json()["budget"]["spent_usd"]


def test_the_sdk_works_across_workers(two_workers: RunningProxy, upstream: ScriptedServer) -> None:
    upstream.script(text_reply("from the shared proxy"))
    client = openai.OpenAI(base_url=two_workers.openai_base_url, api_key="k", max_retries=0)
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "from the shared proxy"
