"""Every GitHub API response of the corpus, as a tool output, through both providers in optimize mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from headroom import AnthropicProvider, HeadroomClient, OpenAIProvider

from tests.support.scripted_server import ScriptedServer

pytestmark = pytest.mark.corpus


def _responses(corpus_dir: Path) -> list[tuple[str, str]]:
    """(question, tool output) for every corpus JSON file: the question names the API call."""
    out = []
    for path in sorted((corpus_dir / "json").glob("*.json")):
        data = json.loads(path.read_text())
        call = data["source"].split(") ", 1)[-1]
        out.append((f"What does {call} return?", json.dumps(data["body"])))
    return out


def test_openai_requests_over_the_corpus_are_accepted_and_never_grow(
    corpus_dir: Path, srv: ScriptedServer, oai: openai.OpenAI, store_url: str
) -> None:
    client = HeadroomClient(oai, OpenAIProvider(), default_mode="optimize", store_url=store_url)
    for question, output in _responses(corpus_dir):
        call = {"id": "call_1", "type": "function", "function": {"name": "github_api", "arguments": "{}"}}
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": question},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": output},
        ]
        client.chat.completions.create(model="gpt-4o", messages=messages)  # the server rejects broken requests
        record = client.last_record
        assert record is not None and record.tokens_after <= record.tokens_before, question
    totals = client.get_stats()["session"]
    assert totals["requests"] == len(_responses(corpus_dir))
    assert totals["tokens_after"] < 0.5 * totals["tokens_before"]


def test_anthropic_requests_over_the_corpus_are_accepted_and_never_grow(
    corpus_dir: Path, srv: ScriptedServer, claude: anthropic.Anthropic, store_url: str
) -> None:
    client = HeadroomClient(claude, AnthropicProvider(), default_mode="optimize", store_url=store_url)
    for question, output in _responses(corpus_dir):
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": question},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "github_api", "input": {}}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": output}]},
        ]
        client.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=messages)
        record = client.last_record
        assert record is not None and record.tokens_after <= record.tokens_before, question
        assert srv.last_request.body["messages"][:2] == messages[:2]
    totals = client.get_stats()["session"]
    assert totals["tokens_after"] < 0.5 * totals["tokens_before"]
