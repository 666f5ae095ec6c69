"""Cache mode: what an earlier request of a conversation sent is sent again byte for byte."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import headroom
import pytest
from headroom.config import CacheAlignerConfig, HeadroomConfig, PrefixFreezeConfig
from headroom.session_bench import SessionTurn, conversation_until

Build = Callable[..., list[dict[str, Any]]]


def _bytes(messages: list[dict[str, Any]]) -> list[str]:
    """Each message as the JSON bytes a client sends (key order as given)."""
    return [json.dumps(m, ensure_ascii=False) for m in messages]


def _cache(**freeze: Any) -> HeadroomConfig:
    return HeadroomConfig(optimization_mode="cache", prefix_freeze=PrefixFreezeConfig(**freeze))


def _requests(log_conversation: Build, turns: int = 6) -> list[list[dict[str, Any]]]:
    """Each request of a growing conversation: the full conversation cut after each turn's tool results."""
    full = log_conversation(turns)
    ends = [i + 1 for i, m in enumerate(full) if m["role"] == "tool"]
    return [full[:end] for end in ends]


def _prefix_changes(sent: list[list[str]]) -> int:
    return sum(1 for a, b in itertools.pairwise(sent) if b[: len(a)] != a)


@pytest.mark.corpus
def test_cache_mode_never_changes_bytes_already_sent_over_twenty_turns(corpus_session: list[SessionTurn]) -> None:
    config = _cache()
    sent: list[list[str]] = []
    for t in range(len(corpus_session)):
        result = headroom.compress(conversation_until(corpus_session, t), "gpt-4o", config=config, session_id="s20")
        sent.append(_bytes(result.messages))
        for earlier in sent[:-1]:
            assert sent[-1][: len(earlier)] == earlier
    assert len(sent) == 20 and len(sent[-1]) > len(sent[0])


@pytest.mark.corpus
def test_cache_mode_compresses_only_new_messages(corpus_session: list[SessionTurn]) -> None:
    config = _cache()
    headroom.compress(conversation_until(corpus_session, 4), "gpt-4o", config=config, session_id="new")
    request = conversation_until(corpus_session, 5)
    result = headroom.compress(request, "gpt-4o", config=config, session_id="new")
    frozen = result.extras["prefix_freeze"]["frozen_input_messages"]
    assert frozen == len(conversation_until(corpus_session, 4))
    assert result.extras["content_timings"]
    assert all(t.message_index >= frozen for t in result.extras["content_timings"])


def _replay(session: list[SessionTurn], config: HeadroomConfig, session_id: str) -> tuple[int, int]:
    """(prefix rewrites, compactions) over the session's requests, each request compared with the previous one."""
    sent: list[list[str]] = []
    seen_points: set[int] = set()
    compactions = 0
    for t in range(len(session)):
        result = headroom.compress(conversation_until(session, t), "gpt-4o", config=config, session_id=session_id)
        sent.append(_bytes(result.messages))
        points = set(result.extras["fitting"].get("compaction_points", []))
        compactions += len(points - seen_points)
        seen_points |= points
    return _prefix_changes(sent), compactions


@pytest.mark.corpus
@pytest.mark.parametrize("mode", ["token", "cache"])
def test_a_small_window_rewrites_the_prefix_only_when_it_compacts(corpus_session: list[SessionTurn], mode: str) -> None:
    config = HeadroomConfig(optimization_mode=mode, model_context_limits={"gpt-4o": 32_000})
    rewrites, compactions = _replay(corpus_session, config, f"w-{mode}")
    assert 1 <= rewrites <= compactions


@pytest.mark.corpus
def test_a_lower_low_water_mark_spaces_out_the_compactions(corpus_session: list[SessionTurn]) -> None:
    def rewrites(low_water: float) -> int:
        config = HeadroomConfig(model_context_limits={"gpt-4o": 32_000}, compaction_low_water=low_water)
        return _replay(corpus_session, config, f"lw{low_water}")[0]

    assert rewrites(0.3) < rewrites(0.9)


def test_a_retried_request_is_sent_identically(log_conversation: Build) -> None:
    config = _cache()
    request = _requests(log_conversation)[-1]
    first = headroom.compress(request, config=config, session_id="retry")
    second = headroom.compress(request, config=config, session_id="retry")
    assert _bytes(second.messages) == _bytes(first.messages)
    assert second.extras["prefix_freeze"]["frozen_input_messages"] == len(request)


def test_edited_history_freezes_only_up_to_the_edit(log_conversation: Build) -> None:
    config = _cache()
    requests = _requests(log_conversation)
    headroom.compress(requests[2], config=config, session_id="edit")
    headroom.compress(requests[4], config=config, session_id="edit")
    edited = [dict(m) for m in requests[5]]
    edit_at = [i for i, m in enumerate(edited) if m["role"] == "user"][3]
    edited[edit_at]["content"] = "Turn 3: which blocks were deleted?"
    result = headroom.compress(edited, config=config, session_id="edit")
    frozen = result.extras["prefix_freeze"]["frozen_input_messages"]
    assert 0 < frozen <= edit_at
    assert result.messages[edit_at]["content"] == "Turn 3: which blocks were deleted?"


def test_min_frozen_messages_delays_freezing(log_conversation: Build) -> None:
    requests = _requests(log_conversation)
    config = _cache(min_frozen_messages=len(requests[1]) + 1)
    headroom.compress(requests[1], config=config, session_id="min")
    result = headroom.compress(requests[2], config=config, session_id="min")
    assert result.extras["prefix_freeze"]["frozen_input_messages"] == 0
    later = headroom.compress(requests[3], config=config, session_id="min")
    assert later.extras["prefix_freeze"]["frozen_input_messages"] == len(requests[2])


def test_max_sessions_forgets_the_least_recently_used(log_conversation: Build) -> None:
    config = _cache(max_sessions=2)
    requests = _requests(log_conversation)
    for session in ("a", "b", "c"):
        headroom.compress(requests[1], config=config, session_id=session)
    forgotten = headroom.compress(requests[2], config=config, session_id="a")
    remembered = headroom.compress(requests[2], config=config, session_id="c")
    assert forgotten.extras["prefix_freeze"]["frozen_input_messages"] == 0
    assert remembered.extras["prefix_freeze"]["frozen_input_messages"] == len(requests[1])


def test_disabled_prefix_freeze_behaves_like_token_mode(log_conversation: Build) -> None:
    config = _cache(enabled=False)
    requests = _requests(log_conversation)
    headroom.compress(requests[1], config=config, session_id="off")
    result = headroom.compress(requests[2], config=config, session_id="off")
    assert "prefix_freeze" not in result.extras


def test_token_mode_does_not_freeze(log_conversation: Build) -> None:
    config = HeadroomConfig()
    requests = _requests(log_conversation)
    headroom.compress(requests[1], config=config, session_id="tok")
    result = headroom.compress(requests[2], config=config, session_id="tok")
    assert config.optimization_mode == "token" and "prefix_freeze" not in result.extras


def test_simulate_and_audit_do_not_count_as_sent(log_conversation: Build) -> None:
    config = _cache()
    requests = _requests(log_conversation)
    headroom.compress(requests[1], config=config, mode="simulate", session_id="sim")
    headroom.compress(requests[1], config=config, mode="audit", session_id="sim")
    result = headroom.compress(requests[2], config=config, session_id="sim")
    assert result.extras["prefix_freeze"]["frozen_input_messages"] == 0


def test_without_session_id_the_conversation_is_recognised_by_its_start(log_conversation: Build) -> None:
    config = _cache()
    requests = _requests(log_conversation)
    headroom.compress(requests[1], config=config)
    result = headroom.compress(requests[2], config=config)
    assert result.extras["prefix_freeze"]["frozen_input_messages"] == len(requests[1])


def test_a_new_timestamp_in_the_system_prompt_keeps_the_history_frozen(log_conversation: Build) -> None:
    config = HeadroomConfig(optimization_mode="cache", cache_aligner=CacheAlignerConfig(enabled=True))
    requests = _requests(log_conversation)
    sent = []
    for k, request in enumerate(requests[:4]):
        stamped = [{"role": "system", "content": f"{request[0]['content']}\nCurrent time: 2024-06-03T10:{k:02d}:00Z"}]
        result = headroom.compress(stamped + request[1:], config=config)
        sent.append(_bytes(result.messages))
        if k:
            assert result.extras["prefix_freeze"]["frozen_input_messages"] > 1
    heads = {json.loads(s[0])["content"].split("---")[0] for s in sent}
    assert len(heads) == 1
    for a, b in itertools.pairwise(sent):
        assert b[1 : len(a)] == a[1:]


def test_headroom_mode_environment_variable_selects_cache_mode(
    monkeypatch: pytest.MonkeyPatch, log_conversation: Build
) -> None:
    monkeypatch.setenv("HEADROOM_MODE", "cost_savings")
    config = HeadroomConfig()
    assert config.optimization_mode == "cache"
    requests = _requests(log_conversation)
    headroom.compress(requests[1], config=config, session_id="env")
    result = headroom.compress(requests[2], config=config, session_id="env")
    assert result.extras["prefix_freeze"]["frozen_input_messages"] == len(requests[1])
