"""Context fitting: graded shrinking, compaction to a low-water mark, determinism, nothing lost, valid order."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from headroom.ccr.store import CCRStore, ccr_key
from headroom.conversation.fit_markers import MARKER_PREFIX, chunk_for_store, is_fitting_marker
from headroom.conversation.fitting import fit_to_window
from headroom.conversation.turns import request_points
from headroom.conversation.validity import anthropic_problems, openai_problems
from headroom.messages import last_user_index
from headroom.tokens import get_counter

Build = Callable[..., list[dict[str, Any]]]
COUNTER = get_counter("gpt-4o")


def _fit(messages: list[dict[str, Any]], limit: int, **kwargs: Any):
    return fit_to_window(messages, limit=limit, counter=COUNTER, **kwargs)


@pytest.fixture
def store() -> CCRStore:
    return CCRStore("sqlite://")


def _tokens(messages: list[dict[str, Any]]) -> int:
    return COUNTER.count_messages(messages)


def _questions(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in messages if m.get("role") == "user" and isinstance(m.get("content"), str)]


def _digests(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("role") == "tool" and m["content"].startswith("[headroom digest")]


def test_leaves_a_conversation_under_the_limit_unchanged(log_conversation: Build) -> None:
    messages = log_conversation(3)
    result = _fit(messages, 1_000_000)
    assert result.messages == messages and result.dropped_messages == 0 and not result.transforms


def test_shrinks_old_tool_outputs_into_digests_before_dropping_anything(
    log_conversation: Build, store: CCRStore
) -> None:
    messages = log_conversation(6, chunk=80)
    limit = int(_tokens(messages) * 0.6)
    result = _fit(messages, limit, store=store)
    assert _tokens(result.messages) <= limit
    assert _digests(result.messages) and result.dropped_messages == 0
    assert _questions(result.messages) == _questions(messages)


def test_the_newest_tool_results_stay_as_they_are_while_older_ones_can_shrink(
    log_conversation: Build, store: CCRStore
) -> None:
    messages = log_conversation(6, chunk=80)
    result = _fit(messages, int(_tokens(messages) * 0.6), store=store)
    assert result.messages[-1] == messages[-1]


def test_compaction_goes_down_to_the_low_water_mark(log_conversation: Build, store: CCRStore) -> None:
    messages = log_conversation(8, chunk=80)
    limit = _tokens(messages) - 50
    result = _fit(messages, limit, target=limit // 2, store=store)
    assert _tokens(result.messages) <= limit // 2
    assert result.report["compactions"] == 1 and result.report["compacted"]


def test_drops_whole_old_turns_when_even_digests_do_not_fit(log_conversation: Build, store: CCRStore) -> None:
    messages = log_conversation(24, chunk=40)
    last_turn = messages[[i for i, m in enumerate(messages) if m["role"] == "user"][-1] :]
    limit = _tokens(messages[:2] + last_turn) + 200
    result = _fit(messages, limit, store=store)
    assert _tokens(result.messages) <= limit
    assert result.dropped_messages > 0 and sum(1 for m in result.messages if is_fitting_marker(m)) == 1
    assert result.messages[-1] == messages[-1]  # dropping first left room for the newest output as it was


def test_never_drops_system_prompt_first_or_last_user_message(log_conversation: Build, store: CCRStore) -> None:
    messages = log_conversation(10, chunk=40)
    result = _fit(messages, 1_200, store=store)
    assert result.dropped_messages > 0
    assert result.messages[0] == messages[0] and result.messages[1] == messages[1]
    last = last_user_index(messages)
    assert last is not None and messages[last] in result.messages


@pytest.mark.parametrize("share", [0.2, 0.4, 0.7])
def test_keeps_every_tool_call_paired_with_its_results(log_conversation: Build, store: CCRStore, share: float) -> None:
    messages = log_conversation(8, parallel=True, chunk=60)
    result = _fit(messages, int(_tokens(messages) * share), store=store)
    assert openai_problems(result.messages) == [] and anthropic_problems(result.messages) == []


def test_anthropic_style_tool_results_shrink_and_stay_paired(samples_dir: Any, store: CCRStore) -> None:
    lines = (samples_dir / "logs" / "OpenSSH_2k.log").read_text(encoding="utf-8").splitlines()
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You read logs."}]
    for k in range(6):
        messages += [
            {"role": "user", "content": f"What happened in part {k} of the sshd log?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": f"tu{k}", "name": "read_log", "input": {}}]},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": f"tu{k}",
                        "content": "\n".join(lines[k * 100 : (k + 1) * 100]),
                    }
                ],
            },
            {"role": "assistant", "content": f"Part {k}: failed logins from several hosts."},
        ]
    limit = _tokens(messages) // 3
    result = _fit(messages[:-1], limit, store=store)
    assert _tokens(result.messages) <= limit and anthropic_problems(result.messages) == []
    shrunk = [m for m in result.messages if m["role"] == "user" and isinstance(m["content"], list)]
    assert any(p["content"].startswith("[headroom digest") for m in shrunk for p in m["content"])


def test_dropped_turns_are_retrievable_exactly(log_conversation: Build, store: CCRStore) -> None:
    messages = log_conversation(10, chunk=40)
    result = _fit(messages, 1_200, store=store)
    marker = next(m for m in result.messages if is_fitting_marker(m))
    key = next(k for k in result.ccr_keys if k in marker["content"])
    assert json.loads(store.get(key)) == messages[2 : 2 + result.dropped_messages]


def test_digested_outputs_are_retrievable_exactly(log_conversation: Build, store: CCRStore) -> None:
    messages = log_conversation(6, chunk=80)
    result = _fit(messages, int(_tokens(messages) * 0.6), store=store)
    by_call = {m["tool_call_id"]: m["content"] for m in messages if m["role"] == "tool"}
    digests = _digests(result.messages)
    assert digests
    for m in digests:
        key = next(k for k in result.ccr_keys if k in m["content"])
        assert store.get(key) == by_call[m["tool_call_id"]]


def test_simulate_names_keys_without_writing(log_conversation: Build, store: CCRStore) -> None:
    messages = log_conversation(10, chunk=40)
    result = _fit(messages, 1_200, store=store, persist=False)
    assert result.ccr_keys and all(k not in store for k in result.ccr_keys)
    marker = next(m for m in result.messages if is_fitting_marker(m))
    dropped = messages[2 : 2 + result.dropped_messages]
    assert ccr_key(json.dumps(dropped, ensure_ascii=False, default=str)) in marker["content"]


def test_without_ccr_every_marker_says_nothing_is_retrievable(log_conversation: Build) -> None:
    messages = log_conversation(10, chunk=40)
    result = _fit(messages, 1_200, store=None)
    marker = next(m for m in result.messages if is_fitting_marker(m))
    assert "not retrievable" in marker["content"] and not result.ccr_keys
    assert all("not retrievable" in m["content"] for m in _digests(result.messages))


def test_reports_over_limit_when_the_last_turn_alone_is_too_large(log_conversation: Build) -> None:
    result = _fit(log_conversation(3), 150, store=None)
    assert result.report["over_limit"] is True and openai_problems(result.messages) == []
    assert any("over the 150-token limit" in n for n in result.notes)


def test_an_output_larger_than_one_store_entry_is_stored_in_parts(samples_dir: Any) -> None:
    store = CCRStore("sqlite://")
    text = (samples_dir / "logs" / "HDFS_2k.log").read_text(encoding="utf-8")
    messages = [
        {"role": "user", "content": "What happened to block blk_-1608999687919862906?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "read_log", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": text},
    ]
    result = _fit(messages, 3_000, store=store, max_entry_bytes=100_000)
    sent = result.messages[-1]["content"]
    assert _tokens(result.messages) <= 3_000 and "parts" in sent
    keys = [k for k in result.ccr_keys if k in sent]
    assert len(keys) == len(chunk_for_store(text, 100_000)) > 1
    assert "".join(store.get(k) for k in keys) == text


def test_chunks_concatenate_to_the_original_and_respect_the_byte_limit() -> None:
    text = "naïve café ☕ " * 5_000 + "\udcff"
    pieces = chunk_for_store(text, 1_000)
    assert "".join(pieces) == text
    assert all(len(p.encode("utf-8", "surrogatepass")) <= 1_000 for p in pieces)


def _bytes(messages: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(m, ensure_ascii=False, sort_keys=True) for m in messages]


def test_each_request_repeats_the_previous_one_unless_a_compaction_happened_in_between(
    log_conversation: Build, store: CCRStore
) -> None:
    messages = log_conversation(12, chunk=60)
    limit = _tokens(messages) // 3
    previous: list[str] | None = None
    rewrites = compactions = 0
    last_points: list[int] = []
    for end in request_points(messages):
        result = _fit(messages[:end], limit, target=limit // 2, store=store)
        sent = _bytes(result.messages)
        points = result.report.get("compaction_points", [])
        new = [p for p in points if p not in last_points]
        if previous is not None and sent[: len(previous)] != previous:
            rewrites += 1
            assert new, "the prefix changed without a compaction"
        compactions += len(new)
        previous, last_points = sent, points
    assert rewrites >= 1 and rewrites <= compactions


def test_the_same_request_fits_to_the_same_bytes(log_conversation: Build) -> None:
    messages = log_conversation(10, chunk=60)
    runs = [_bytes(_fit(messages, 2_000, store=CCRStore("sqlite://")).messages) for _ in range(2)]
    assert runs[0] == runs[1]


def test_keep_turns_shrinks_kept_outputs_only_when_they_alone_do_not_fit(log_conversation: Build) -> None:
    messages = log_conversation(4, chunk=120)
    result = _fit(messages, _tokens(messages) // 3, keep_turns=3, store=CCRStore("sqlite://"))
    assert any("keep_turns=3" in n for n in result.notes)
    roomy = _fit(messages, _tokens(messages) - 10, keep_turns=3, store=CCRStore("sqlite://"))
    assert not any("keep_turns" in n for n in roomy.notes)
    assert all(
        m in roomy.messages for m in messages[messages.index(next(m for m in messages[4:] if m["role"] == "user")) :]
    )


def test_markers_say_what_they_stand_for(log_conversation: Build, store: CCRStore) -> None:
    messages = log_conversation(10, chunk=40)
    result = _fit(messages, 1_200, store=store)
    marker = next(m for m in result.messages if is_fitting_marker(m))
    assert marker["content"].startswith(MARKER_PREFIX) and "user turns" in marker["content"]
    assert all(
        "output of tool 'read_log'" in m["content"] and "headroom_retrieve" in m["content"]
        for m in _digests(result.messages)
    )


def test_request_points_are_where_the_model_speaks_next(log_conversation: Build) -> None:
    messages = log_conversation(3)
    points = request_points(messages)
    assert points[-1] == len(messages)
    for p, q in itertools.pairwise(points):
        assert messages[p].get("role") == "assistant" and p < q


def test_a_tool_output_larger_than_a_store_entry_no_longer_defeats_fitting(samples_dir: Any, tmp_path: Any) -> None:
    import headroom
    from headroom.config import CCRConfig, HeadroomConfig

    logs = "\n".join(p.read_text(encoding="utf-8") for p in sorted((samples_dir / "logs").glob("*.log")))
    config = HeadroomConfig(
        store_url=f"sqlite:///{tmp_path / 'small-entries.db'}",
        ccr=CCRConfig(max_entry_bytes=200_000),
        model_context_limits={"gpt-4o": 32_000},
    )
    call = {"id": "c1", "type": "function", "function": {"name": "read_logs", "arguments": "{}"}}
    request = [
        {"role": "user", "content": "Which node reported a FATAL error?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": logs},
    ]
    result = headroom.compress(request, "gpt-4o", config=config)
    assert result.tokens_after <= 32_000 - config.output_buffer_tokens
    sent = result.messages[-1]["content"]
    keys = [k for k in result.ccr_keys if k in sent]
    store = headroom.get_store(config)
    assert len(keys) > 1 and "".join(store.get(k) for k in keys) == logs
