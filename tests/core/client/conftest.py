"""Fixtures of the HeadroomClient tests: the scripted server, real SDK clients, a real tool output."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.support.ci_runs import anthropic_turn
from tests.support.scripted_server import ScriptedServer


@pytest.fixture
def srv() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A store of this test's own (the client's metrics and cache tables live there)."""
    return f"sqlite:///{tmp_path / 'headroom.db'}"


@pytest.fixture
def oai(srv: ScriptedServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.base_url, api_key="test-key", max_retries=0)


@pytest.fixture
def async_oai(srv: ScriptedServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=srv.base_url, api_key="test-key", max_retries=0)


@pytest.fixture
def claude(srv: ScriptedServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=srv.anthropic_base_url, api_key="test-key", max_retries=0)


@pytest.fixture
def async_claude(srv: ScriptedServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=srv.anthropic_base_url, api_key="test-key", max_retries=0)


@pytest.fixture
def anthropic_messages(workflow_runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same agent turn in the Messages API format."""
    return anthropic_turn(workflow_runs, "Let me list the runs.")
