"""The semantic cache of HeadroomClient: exact by default, scoped by model, tools and parameters."""

from __future__ import annotations

import time
from typing import Any

import anthropic
import openai
import pytest
from headroom import AnthropicProvider, HeadroomClient, OpenAIProvider
from headroom.ccr.store import CCRStore
from headroom.errors import InvalidArgumentError
from headroom.semantic_cache import SemanticCache

from tests.core.client.shared import TOOLS_ANTHROPIC, TOOLS_OPENAI
from tests.support.scripted_server import ScriptedServer, text_reply


def _cached(oai: Any, store_url: str, **kwargs: Any) -> HeadroomClient:
    return HeadroomClient(oai, OpenAIProvider(), default_mode="optimize", enable_semantic_cache=True,
                          store_url=store_url, **kwargs)  # fmt: skip


def test_repeated_request_is_answered_from_the_cache_without_a_second_call(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]]
) -> None:
    srv.script(text_reply("Run 3519037359 failed on dependabot/pip/tensorflow-2.9.3."))
    client = _cached(oai, store_url)
    first = client.chat.completions.create(model="gpt-4o", messages=openai_messages, tools=TOOLS_OPENAI)
    second = client.chat.completions.create(model="gpt-4o", messages=openai_messages, tools=TOOLS_OPENAI)
    assert len(srv.requests) == 1
    assert type(second) is type(first)
    assert second.choices[0].message.content == first.choices[0].message.content
    assert second.id == first.id
    assert client.last_record is not None and client.last_record.cache_hit
    stats = client.get_stats()
    assert stats["persisted"]["cache_hits"] == 1 and stats["session"]["cache_hits"] == 1
    assert stats["semantic_cache"]["entries"] == 1 and stats["semantic_cache"]["hits"] == 1


def test_whitespace_and_key_order_do_not_defeat_the_cache(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str
) -> None:
    client = _cached(oai, store_url)
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Which runs failed?"}])
    client.chat.completions.create(messages=[{"content": "  Which runs failed?\n", "role": "user"}], model="gpt-4o")
    assert len(srv.requests) == 1


def test_never_crosses_models(srv: ScriptedServer, oai: openai.OpenAI, store_url: str) -> None:
    client = _cached(oai, store_url)
    srv.script(text_reply("from gpt-4o"), text_reply("from gpt-4o-mini"))
    question = [{"role": "user", "content": "Which runs failed?"}]
    client.chat.completions.create(model="gpt-4o", messages=question)
    other = client.chat.completions.create(model="gpt-4o-mini", messages=question)
    assert other.choices[0].message.content == "from gpt-4o-mini"
    assert len(srv.requests) == 2


def test_never_crosses_tool_sets(srv: ScriptedServer, oai: openai.OpenAI, store_url: str) -> None:
    client = _cached(oai, store_url)
    question = [{"role": "user", "content": "Which runs failed?"}]
    client.chat.completions.create(model="gpt-4o", messages=question, tools=TOOLS_OPENAI)
    client.chat.completions.create(model="gpt-4o", messages=question)
    renamed = [{**TOOLS_OPENAI[0], "function": {**TOOLS_OPENAI[0]["function"], "name": "get_runs"}}]
    client.chat.completions.create(model="gpt-4o", messages=question, tools=renamed)
    assert len(srv.requests) == 3


def test_different_generation_parameters_are_different_entries(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str
) -> None:
    client = _cached(oai, store_url)
    question = [{"role": "user", "content": "Which runs failed?"}]
    client.chat.completions.create(model="gpt-4o", messages=question, temperature=0)
    client.chat.completions.create(model="gpt-4o", messages=question, temperature=1)
    client.chat.completions.create(model="gpt-4o", messages=question, temperature=0, user="someone-else")
    assert len(srv.requests) == 2  # `user` does not change the answer; temperature does


def test_near_duplicates_match_only_with_an_explicit_threshold(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, tmp_path: Any
) -> None:
    exact = _cached(oai, store_url)
    exact.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Which workflow runs failed?"}])
    exact.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Which workflow runs failed ?"}]
    )
    assert len(srv.requests) == 2

    fuzzy = _cached(oai, f"sqlite:///{tmp_path / 'fuzzy.db'}", semantic_cache_similarity_threshold=0.9)
    fuzzy.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Which workflow runs failed?"}])
    fuzzy.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Which workflow runs failed ?"}]
    )
    fuzzy.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Who opened issue 1682?"}])
    fuzzy.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Which workflow runs failed ?"}]
    )
    assert len(srv.requests) == 2 + 3
    assert fuzzy.get_stats()["persisted"]["cache_hits"] == 1


def test_entries_expire_after_the_ttl(store_url: str) -> None:
    cache = SemanticCache(CCRStore(store_url).engine, ttl_seconds=0.2)
    key = cache.key_for("openai", "gpt-4o", [{"role": "user", "content": "hi"}], [], {})
    cache.put(key, {"id": "x"})
    assert cache.get(key) is not None
    time.sleep(0.3)
    assert cache.get(key) is None


def test_streaming_requests_bypass_the_cache(srv: ScriptedServer, oai: openai.OpenAI, store_url: str) -> None:
    client = _cached(oai, store_url)
    question = [{"role": "user", "content": "Which runs failed?"}]
    client.chat.completions.create(model="gpt-4o", messages=question)
    list(client.chat.completions.create(model="gpt-4o", messages=question, stream=True))
    assert len(srv.requests) == 2


def test_errors_are_not_cached(srv: ScriptedServer, oai: openai.OpenAI, store_url: str) -> None:
    from tests.support.scripted_server import error_reply

    srv.script(error_reply(500, "boom"), text_reply("recovered"))
    client = _cached(oai, store_url)
    question = [{"role": "user", "content": "Which runs failed?"}]
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o", messages=question)
    assert client.chat.completions.create(model="gpt-4o", messages=question).choices[0].message.content == "recovered"


def test_anthropic_responses_are_cached_and_rebuilt_as_messages(
    srv: ScriptedServer, claude: anthropic.Anthropic, store_url: str, anthropic_messages: list[dict[str, Any]]
) -> None:
    srv.script(text_reply("Run 3519037359 failed."))
    client = HeadroomClient(claude, AnthropicProvider(), enable_semantic_cache=True, store_url=store_url)
    kwargs: dict[str, Any] = {"model": "claude-haiku-4-5", "max_tokens": 100, "messages": anthropic_messages,
                              "tools": TOOLS_ANTHROPIC, "system": "Answer briefly."}  # fmt: skip
    first = client.messages.create(**kwargs)
    second = client.messages.create(**kwargs)
    other_system = client.messages.create(**{**kwargs, "system": "Answer in detail."})
    assert isinstance(second, anthropic.types.Message) and second.content == first.content
    assert other_system.content[0].text == "ok"  # type: ignore[union-attr]
    assert len(srv.requests) == 2


def test_invalid_threshold_is_rejected(store_url: str) -> None:
    with pytest.raises(InvalidArgumentError, match="similarity_threshold"):
        SemanticCache(CCRStore(store_url).engine, similarity_threshold=1.5)


def test_simulate_reports_a_would_be_hit_without_counting_it(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str
) -> None:
    client = _cached(oai, store_url)
    question = [{"role": "user", "content": "Which runs failed?"}]
    client.chat.completions.create(model="gpt-4o", messages=question)
    plan = client.chat.completions.create(model="gpt-4o", messages=question, headroom_mode="simulate")
    assert plan.semantic_cache_hit
    assert client.get_stats()["semantic_cache"]["hits"] == 0
    assert len(srv.requests) == 1


def test_near_duplicate_tool_outputs_match_and_different_ones_do_not(
    srv: ScriptedServer, oai: openai.OpenAI, store_url: str, openai_messages: list[dict[str, Any]],
    workflow_runs: list[dict[str, Any]],
) -> None:  # fmt: skip
    import json

    client = _cached(oai, store_url, semantic_cache_similarity_threshold=0.95)
    client.chat.completions.create(model="gpt-4o", messages=openai_messages)
    # The same listing fetched again a moment later: one run's updated_at moved.
    rerun = [dict(r) for r in workflow_runs]
    rerun[5] = {**rerun[5], "updated_at": "2022-12-07T10:00:00Z"}
    refetched = [*openai_messages[:3], {**openai_messages[3], "content": json.dumps(rerun)}]
    client.chat.completions.create(model="gpt-4o", messages=refetched)
    assert len(srv.requests) == 1
    # Half the runs: a different answer is needed.
    halved = [*openai_messages[:3], {**openai_messages[3], "content": json.dumps(workflow_runs[:15])}]
    client.chat.completions.create(model="gpt-4o", messages=halved)
    assert len(srv.requests) == 2


def test_text_similarity_bounds() -> None:
    from headroom.semantic_cache import text_similarity

    assert text_similarity("same", "same") == 1.0
    assert text_similarity("", "x") == 0.0
    assert text_similarity("a" * 10, "a" * 100, floor=0.5) == 0.0
    assert 0.9 < text_similarity("Which workflow runs failed?", "Which workflow runs failed ?") < 1.0


def test_oldest_entries_are_evicted_beyond_max_entries(store_url: str) -> None:
    cache = SemanticCache(CCRStore(store_url).engine, max_entries=3)
    keys = [cache.key_for("openai", "gpt-4o", [{"role": "user", "content": f"question {i}"}], [], {}) for i in range(5)]
    for i, key in enumerate(keys):
        cache.put(key, {"id": f"r{i}"})
        time.sleep(0.01)  # distinct creation times
    assert [cache.get(k) is not None for k in keys] == [False, False, True, True, True]
    assert cache.stats()["entries"] == 3
