"""Provider cache hints: Anthropic cache_control breakpoints, OpenAI prefix estimate, cached-input cost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import headroom
import pytest
from headroom.config import CacheOptimizerConfig, HeadroomConfig
from headroom.conversation.cache_hints import apply_cache_hints
from headroom.conversation.session import derive_session_id
from headroom.models import ModelRegistry
from headroom.tokens import REPLY_PRIMING, get_counter

CLAUDE = "claude-sonnet-4-5"


def _marks(messages: list[dict[str, Any]]) -> list[int]:
    return [
        i
        for i, m in enumerate(messages)
        if isinstance(m.get("content"), list) and any("cache_control" in p for p in m["content"])
    ]


@pytest.fixture(scope="module")
def reference_prompt(samples_dir: Path) -> str:
    """A system prompt carrying stable reference data (real HDFS log lines), well above 1024 tokens."""
    lines = (samples_dir / "logs" / "HDFS_2k.log").read_text(encoding="utf-8").splitlines()[:60]
    return "You triage HDFS incidents. Known-good reference lines:\n" + "\n".join(lines)


@pytest.fixture(scope="module")
def chunks(samples_dir: Path) -> list[str]:
    lines = (samples_dir / "logs" / "HDFS_2k.log").read_text(encoding="utf-8").splitlines()
    return ["\n".join(lines[100 + 15 * k : 115 + 15 * k]) for k in range(6)]


def _conversation(prompt: str, chunks: list[str], turns: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": prompt}]
    for k in range(turns):
        call = {
            "id": f"c{k}",
            "type": "function",
            "function": {"name": "read_log", "arguments": json.dumps({"part": k})},
        }
        messages += [
            {"role": "user", "content": f"What does part {k} of the HDFS log show?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"c{k}", "content": chunks[k]},
        ]
        if k < turns - 1:
            messages.append({"role": "assistant", "content": f"Part {k}: blocks were served and replicated normally."})
    return messages


def _config(**optimizer: Any) -> HeadroomConfig:
    return HeadroomConfig(cache_optimizer=CacheOptimizerConfig(**optimizer))


def test_anthropic_marks_the_end_of_the_system_prompt(reference_prompt: str, chunks: list[str]) -> None:
    result = headroom.compress(_conversation(reference_prompt, chunks, 2), CLAUDE, config=_config())
    system = result.messages[0]["content"]
    assert system == [{"type": "text", "text": reference_prompt, "cache_control": {"type": "ephemeral"}}]


def test_anthropic_marks_the_last_message_for_the_next_request(reference_prompt: str, chunks: list[str]) -> None:
    result = headroom.compress(_conversation(reference_prompt, chunks, 2), CLAUDE, config=_config())
    assert len(result.messages) - 1 in _marks(result.messages)


def test_anthropic_marks_the_previous_request_end_so_this_one_reads_it(
    reference_prompt: str, chunks: list[str]
) -> None:
    config = _config()
    first = _conversation(reference_prompt, chunks, 2)
    headroom.compress(first, CLAUDE, config=config, session_id="s")
    second = _conversation(reference_prompt, chunks, 4)
    result = headroom.compress(second, CLAUDE, config=config, session_id="s")
    assert len(first) - 1 in _marks(result.messages)


def test_never_more_than_max_breakpoints(reference_prompt: str, chunks: list[str]) -> None:
    for limit in (1, 2, 4):
        config = _config(max_breakpoints=limit)
        headroom.compress(_conversation(reference_prompt, chunks, 2), CLAUDE, config=config, session_id=f"m{limit}")
        result = headroom.compress(
            _conversation(reference_prompt, chunks, 5), CLAUDE, config=config, session_id=f"m{limit}"
        )
        assert 1 <= len(_marks(result.messages)) <= limit


def test_max_breakpoints_zero_places_none(reference_prompt: str, chunks: list[str]) -> None:
    result = headroom.compress(_conversation(reference_prompt, chunks, 2), CLAUDE, config=_config(max_breakpoints=0))
    assert _marks(result.messages) == []


def test_prefixes_below_the_minimum_cacheable_size_get_no_mark(chunks: list[str]) -> None:
    short = _conversation("You triage HDFS incidents.", chunks[:1], 1)
    assert _marks(headroom.compress(short, CLAUDE, config=_config()).messages) == []
    assert _marks(headroom.compress(short, CLAUDE, config=_config(min_cacheable_tokens=0)).messages) != []


def test_a_mark_never_lands_on_a_message_without_text(reference_prompt: str) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "read_log", "arguments": "{}"}}
    messages = [
        {"role": "system", "content": reference_prompt},
        {"role": "user", "content": "Read the log."},
        {"role": "assistant", "content": None, "tool_calls": [call]},
    ]
    hinted = apply_cache_hints(
        [dict(m) for m in messages],
        provider="anthropic",
        config=CacheOptimizerConfig(),
        counter=get_counter(CLAUDE),
        session_key="t",
    )
    assert 2 not in hinted.breakpoints and hinted.messages[2] == messages[2]
    assert 1 in hinted.breakpoints


def test_marks_the_caller_placed_count_toward_the_limit(reference_prompt: str, chunks: list[str]) -> None:
    messages = _conversation(reference_prompt, chunks, 3)
    for i in (1, 4, 7):
        messages[i] = {
            **messages[i],
            "content": [{"type": "text", "text": messages[i]["content"], "cache_control": {"type": "ephemeral"}}],
        }
    result = headroom.compress(messages, CLAUDE, config=_config())
    assert len(_marks(result.messages)) == 4


def test_openai_requests_carry_no_cache_control(reference_prompt: str, chunks: list[str]) -> None:
    result = headroom.compress(_conversation(reference_prompt, chunks, 3), "gpt-4o", config=_config())
    assert "cache_control" not in json.dumps(result.messages)


def test_openai_expected_cached_tokens_follow_the_1024_and_128_rule(reference_prompt: str, chunks: list[str]) -> None:
    config = _config()
    first = _conversation(reference_prompt, chunks, 2)
    one = headroom.compress(first, "gpt-4o", config=config, session_id="o")
    two = headroom.compress(_conversation(reference_prompt, chunks, 4), "gpt-4o", config=config, session_id="o")
    prefix = get_counter("gpt-4o").count_messages(one.messages) - REPLY_PRIMING
    assert one.cached_tokens == 0
    assert prefix >= 1024
    assert two.cached_tokens == 1024 + (prefix - 1024) // 128 * 128


def test_openai_prefixes_under_1024_tokens_are_not_cached(chunks: list[str]) -> None:
    config = _config()
    headroom.compress(_conversation("Be brief.", chunks, 1)[:3], "gpt-4o", config=config, session_id="short")
    second = headroom.compress(_conversation("Be brief.", chunks, 1), "gpt-4o", config=config, session_id="short")
    assert second.cached_tokens == 0


def test_anthropic_second_request_reads_where_the_first_wrote(reference_prompt: str, chunks: list[str]) -> None:
    config = _config()
    one = headroom.compress(_conversation(reference_prompt, chunks, 2), CLAUDE, config=config, session_id="a")
    two = headroom.compress(_conversation(reference_prompt, chunks, 4), CLAUDE, config=config, session_id="a")
    last_write = max(_marks(one.messages))
    assert two.cached_tokens == get_counter(CLAUDE).count_messages(one.messages[: last_write + 1]) - REPLY_PRIMING


def test_cost_after_uses_the_cached_input_price(reference_prompt: str, chunks: list[str]) -> None:
    config = _config()
    headroom.compress(_conversation(reference_prompt, chunks, 2), "gpt-4o", config=config, session_id="c")
    two = headroom.compress(_conversation(reference_prompt, chunks, 4), "gpt-4o", config=config, session_id="c")
    registry = ModelRegistry()
    assert two.cached_tokens > 0
    assert two.cost_after_usd == pytest.approx(
        registry.cost("gpt-4o", two.tokens_after, cached_input_tokens=two.cached_tokens)
    )
    assert two.cost_after_usd < registry.cost("gpt-4o", two.tokens_after)


def test_reports_cached_and_uncached_input_tokens(reference_prompt: str, chunks: list[str]) -> None:
    config = _config()
    headroom.compress(_conversation(reference_prompt, chunks, 2), "gpt-4o", config=config, session_id="r")
    two = headroom.compress(_conversation(reference_prompt, chunks, 4), "gpt-4o", config=config, session_id="r")
    cache = two.extras["cache"]
    assert cache["cached_tokens"] == two.cached_tokens
    assert cache["cached_tokens"] + cache["uncached_tokens"] == two.tokens_after


def test_other_conversations_do_not_count_as_cached(reference_prompt: str, chunks: list[str]) -> None:
    config = _config()
    headroom.compress(_conversation(reference_prompt, chunks, 2), "gpt-4o", config=config, session_id="x")
    other = headroom.compress(_conversation(reference_prompt, chunks, 4), "gpt-4o", config=config, session_id="y")
    assert other.cached_tokens == 0


def test_simulate_does_not_count_as_an_earlier_request(reference_prompt: str, chunks: list[str]) -> None:
    config = _config()
    headroom.compress(
        _conversation(reference_prompt, chunks, 2), "gpt-4o", config=config, mode="simulate", session_id="z"
    )
    two = headroom.compress(_conversation(reference_prompt, chunks, 4), "gpt-4o", config=config, session_id="z")
    assert two.cached_tokens == 0


def test_disabled_optimizer_places_nothing_and_estimates_nothing(reference_prompt: str, chunks: list[str]) -> None:
    config = _config(enabled=False)
    headroom.compress(_conversation(reference_prompt, chunks, 2), CLAUDE, config=config, session_id="d")
    two = headroom.compress(_conversation(reference_prompt, chunks, 4), CLAUDE, config=config, session_id="d")
    assert _marks(two.messages) == [] and two.cached_tokens == 0 and "cache" not in two.extras


def test_derived_session_id_stays_the_same_as_the_conversation_grows(reference_prompt: str, chunks: list[str]) -> None:
    a = derive_session_id(_conversation(reference_prompt, chunks, 2))
    b = derive_session_id(_conversation(reference_prompt, chunks, 5))
    other = _conversation(reference_prompt, chunks, 2)
    other[1] = {"role": "user", "content": "Which datanodes were added?"}
    assert a == b != derive_session_id(other)
    assert derive_session_id(other, "given") == "given"


def test_derived_sessions_estimate_without_an_explicit_id(reference_prompt: str, chunks: list[str]) -> None:
    config = _config()
    headroom.compress(_conversation(reference_prompt, chunks, 2), "gpt-4o", config=config)
    assert headroom.compress(_conversation(reference_prompt, chunks, 4), "gpt-4o", config=config).cached_tokens > 0
