"""Fixtures of the proxy tests: a scripted upstream, the real proxy in front of it, real tool outputs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from headroom.proxy.settings import ProxySettings

from tests.support.ci_runs import anthropic_turn
from tests.support.proxy_server import RunningProxy, running_proxy
from tests.support.scripted_server import ScriptedServer


@pytest.fixture
def srv() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'proxy-store.db'}"


@pytest.fixture
def settings_for(srv: ScriptedServer, store_url: str) -> Callable[..., ProxySettings]:
    """ProxySettings pointing both upstreams at the scripted server, with this test's own store."""

    def make(**overrides: Any) -> ProxySettings:
        upstream = srv.anthropic_base_url  # http://127.0.0.1:PORT, no /v1
        data: dict[str, Any] = {"openai_upstream": upstream, "anthropic_upstream": upstream, "store_url": store_url}
        data.update(overrides)
        return ProxySettings(**data)

    return make


@pytest.fixture
def start_proxy(settings_for: Callable[..., ProxySettings]) -> Callable[..., AbstractContextManager[RunningProxy]]:
    """``with start_proxy(budget_usd=1.0) as proxy:`` the real proxy (uvicorn in a thread) with these settings."""

    def start(**overrides: Any) -> AbstractContextManager[RunningProxy]:
        return running_proxy(settings_for(**overrides))

    return start


@pytest.fixture
def proxy(start_proxy: Callable[..., AbstractContextManager[RunningProxy]]) -> Iterator[RunningProxy]:
    with start_proxy() as running:
        yield running


@pytest.fixture
def anthropic_messages(workflow_runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same agent turn in the Messages API format."""
    return anthropic_turn(workflow_runs)
