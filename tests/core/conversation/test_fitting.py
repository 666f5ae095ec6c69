"""Context fitting: fits the window, keeps what must stay, loses nothing (CCR), valid for both providers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import headroom
import pytest
from headroom.ccr.store import CCRStore, ccr_key, get_store
from headroom.config import HeadroomConfig
from headroom.conversation.fitting import MARKER_PREFIX, fit_to_window, is_fitting_marker
from headroom.conversation.validity import anthropic_problems, openai_problems
from headroom.messages import last_user_index
from headroom.session_bench import SessionTurn, conversation_until
from headroom.tokens import get_counter

Build = Callable[..., list[dict[str, Any]]]
COUNTER = get_counter("gpt-4o")


def _fit(
    messages: list[dict[str, Any]],
    limit: int,
    *,
    keep_turns: int = 2,
    store: Any = None,
    persist: bool = True,
    target: int | None = None,
):
    return fit_to_window(
        messages, limit=limit, counter=COUNTER, keep_turns=keep_turns, store=store, persist=persist, target=target
    )


@pytest.fixture
def store() -> CCRStore:
    return CCRStore("sqlite://")


def _tight(messages: list[dict[str, Any]], keep_turns: int = 2, slack: int = 300) -> int:
    """A limit that only fits the system prompt, the first question and the protected turns (plus slack)."""
    start = [i for i, m in enumerate(messages) if m["role"] == "user"][-keep_turns]
    return COUNTER.count_messages(messages[:2] + messages[start:]) + slack


def _user_turn_texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in messages if m.get("role") == "user"]


def test_leaves_a_conversation_under_the_limit_unchanged(log_conversation: Build) -> None:
    messages = log_conversation(3)
    result = _fit(messages, 1_000_000)
    assert result.messages == messages and result.dropped_messages == 0 and not result.transforms


def test_fits_under_the_limit_by_eliding_old_tool_outputs_first(log_conversation: Build, store: CCRStore) -> None:
    messages = log_conversation(6)
    total = COUNTER.count_messages(messages)
    result = _fit(messages, int(total * 0.6), store=store)
    assert COUNTER.count_messages(result.messages) <= int(total * 0.6)
    assert result.elided_outputs > 0 and result.dropped_messages == 0
    assert _user_turn_texts(result.messages) == _user_turn_texts(messages)


def test_drops_whole_old_turns_when_eliding_is_not_enough(log_conversation: Build, store: CCRStore) -> None:
    messages = log_conversation(8)
    limit = _tight(messages)
    result = _fit(messages, limit, store=store)
    assert COUNTER.count_messages(result.messages) <= limit
    assert result.dropped_messages > 0
    assert sum(1 for m in result.messages if is_fitting_marker(m)) == 1


def test_never_drops_system_prompt_first_or_last_user_message(log_conversation: Build, store: CCRStore) -> None:
    messages = log_conversation(8)
    result = _fit(messages, _tight(messages), store=store)
    assert result.dropped_messages > 0
    assert result.messages[0] == messages[0]
    assert result.messages[1] == messages[1]
    last = last_user_index(messages)
    assert last is not None and messages[last] in result.messages


def test_keeps_the_last_keep_turns_turns_intact(log_conversation: Build, store: CCRStore) -> None:
    messages = log_conversation(8)
    result = _fit(messages, _tight(messages, 3), keep_turns=3, store=store)
    assert result.dropped_messages > 0
    third_last = [i for i, m in enumerate(messages) if m["role"] == "user"][-3]
    assert result.messages[-(len(messages) - third_last) :] == messages[third_last:]


def test_keep_turns_decides_how_much_history_survives(log_conversation: Build, store: CCRStore) -> None:
    messages = log_conversation(8)
    one = _fit(messages, _tight(messages, 3), keep_turns=1, store=store)
    three = _fit(messages, _tight(messages, 3), keep_turns=3, store=store)

    def intact(messages: list[dict[str, Any]]) -> int:
        return sum(1 for m in messages if m["role"] == "tool" and not m["content"].startswith(MARKER_PREFIX))

    assert intact(three.messages) >= 3 > intact(one.messages)


def test_keep_turns_zero_may_elide_older_outputs_of_the_last_turn_but_not_the_newest(
    samples_dir: Any, store: CCRStore
) -> None:
    lines = (samples_dir / "logs" / "HDFS_2k.log").read_text(encoding="utf-8").splitlines()
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You read logs."},
        {"role": "user", "content": "Read the HDFS log in three chunks."},
    ]
    for k in range(3):
        call = {
            "id": f"c{k}",
            "type": "function",
            "function": {"name": "read_log", "arguments": json.dumps({"part": k})},
        }
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"c{k}", "content": "\n".join(lines[k * 150 : (k + 1) * 150])},
        ]
    total = COUNTER.count_messages(messages)
    protected = _fit(messages, total // 2, keep_turns=1, store=store)
    zero = _fit(messages, total // 2, keep_turns=0, store=store)
    assert protected.elided_outputs == 2  # last resort inside the protected turn, never the newest result
    assert zero.elided_outputs == 2 and zero.messages[-1] == messages[-1]
    assert COUNTER.count_messages(zero.messages) <= total // 2


def test_keeps_every_tool_call_paired_with_its_results(log_conversation: Build, store: CCRStore) -> None:
    messages = log_conversation(8, parallel=True)
    for limit in (_tight(messages), _tight(messages, 3), COUNTER.count_messages(messages) // 2):
        result = _fit(messages, limit, store=store)
        assert openai_problems(result.messages) == []


def test_result_follows_the_anthropic_turn_rules(log_conversation: Build, store: CCRStore) -> None:
    messages = log_conversation(8, parallel=True)
    assert anthropic_problems(messages) == []
    for limit in (_tight(messages), _tight(messages, 3), COUNTER.count_messages(messages) // 2):
        assert anthropic_problems(_fit(messages, limit, store=store).messages) == []


def test_anthropic_style_tool_use_blocks_stay_paired(samples_dir: Any, store: CCRStore) -> None:
    lines = (samples_dir / "logs" / "OpenSSH_2k.log").read_text(encoding="utf-8").splitlines()
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You read logs."}]
    for k in range(6):
        messages += [
            {"role": "user", "content": f"What happened in part {k} of the sshd log?"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": f"tu{k}", "name": "read_log", "input": {"part": k}}],
            },
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
    limit = COUNTER.count_messages(messages) // 3
    result = _fit(messages[:-1], limit, store=store)
    assert result.dropped_messages > 0
    assert COUNTER.count_messages(result.messages) <= limit
    assert anthropic_problems(result.messages) == []


def test_dropped_turns_are_retrievable_exactly(log_conversation: Build, store: CCRStore) -> None:
    messages = log_conversation(8)
    result = _fit(messages, _tight(messages), store=store)
    marker = next(m for m in result.messages if is_fitting_marker(m))
    key = next(k for k in result.ccr_keys if k in marker["content"])
    dropped = json.loads(store.get(key))
    assert dropped == messages[2 : 2 + result.dropped_messages]  # everything after the first question


def test_elided_outputs_are_retrievable_exactly(log_conversation: Build, store: CCRStore) -> None:
    messages = log_conversation(6)
    result = _fit(messages, int(COUNTER.count_messages(messages) * 0.6), store=store)
    elided = [
        (i, m) for i, m in enumerate(result.messages) if m["role"] == "tool" and m["content"].startswith(MARKER_PREFIX)
    ]
    assert elided
    for i, m in elided:
        key = next(k for k in result.ccr_keys if k in m["content"])
        assert store.get(key) == messages[i]["content"]


def test_simulate_names_keys_without_writing(log_conversation: Build, store: CCRStore) -> None:
    messages = log_conversation(8)
    result = _fit(messages, _tight(messages), store=store, persist=False)
    assert result.ccr_keys
    assert all(k not in store for k in result.ccr_keys)
    marker = next(m for m in result.messages if is_fitting_marker(m))
    dropped = messages[2 : 2 + result.dropped_messages]
    assert ccr_key(json.dumps(dropped, ensure_ascii=False, default=str)) in marker["content"]


def test_without_ccr_the_marker_says_nothing_is_retrievable(log_conversation: Build) -> None:
    messages = log_conversation(8)
    result = _fit(messages, _tight(messages), store=None)
    marker = next(m for m in result.messages if is_fitting_marker(m))
    assert "not retrievable" in marker["content"] and not result.ccr_keys


def test_target_frees_more_than_the_limit_requires(log_conversation: Build, store: CCRStore) -> None:
    messages = log_conversation(8)
    limit = COUNTER.count_messages(messages) - 100
    result = _fit(messages, limit, target=_tight(messages), store=store)
    assert COUNTER.count_messages(result.messages) <= _tight(messages)


def test_reports_over_limit_when_the_protected_turns_alone_are_too_large(log_conversation: Build) -> None:
    result = _fit(log_conversation(3), 300, store=None)
    assert result.report["over_limit"] is True
    assert openai_problems(result.messages) == []


# --- the real long conversation of the corpus, through compress() -----------------------------------------


def _tool_outputs_by_turn(session: list[SessionTurn], messages: list[dict[str, Any]]) -> dict[int, list[str]]:
    turn_of = {m["tool_call_id"]: k for k, t in enumerate(session) for m in t.messages if m["role"] == "tool"}
    out: dict[int, list[str]] = {}
    for m in messages:
        if m.get("role") == "tool":
            out.setdefault(turn_of[m["tool_call_id"]], []).append(m["content"])
    return out


@pytest.fixture(scope="module")
def fitted(corpus_session: list[SessionTurn]) -> dict[int, Any]:
    """The last request of the 20-turn corpus session compressed for 8k, 16k and 32k windows."""
    messages = conversation_until(corpus_session, len(corpus_session) - 1)
    out = {}
    for window in (8_000, 16_000, 32_000):
        config = HeadroomConfig(model_context_limits={"gpt-4o": window})
        out[window] = (messages, config, headroom.compress(messages, "gpt-4o", config=config))
    return out


@pytest.mark.corpus
@pytest.mark.parametrize("window", [8_000, 16_000, 32_000])
def test_long_corpus_session_fits_the_window(fitted: dict[int, Any], window: int) -> None:
    _messages, config, result = fitted[window]
    assert COUNTER.count_messages(result.messages) <= window - config.output_buffer_tokens
    assert result.tokens_before > 8 * window


@pytest.mark.corpus
@pytest.mark.parametrize("window", [8_000, 16_000, 32_000])
def test_long_corpus_session_keeps_every_tool_call_paired(fitted: dict[int, Any], window: int) -> None:
    result = fitted[window][2]
    assert openai_problems(result.messages) == [] and anthropic_problems(result.messages) == []


@pytest.mark.corpus
@pytest.mark.parametrize("window", [8_000, 16_000, 32_000])
def test_long_corpus_session_keeps_system_prompt_and_last_question(fitted: dict[int, Any], window: int) -> None:
    messages, _config, result = fitted[window]
    last = last_user_index(messages)
    assert result.messages[0] == messages[0]
    assert last is not None and messages[last] in result.messages


@pytest.mark.corpus
@pytest.mark.parametrize("window", [8_000, 16_000, 32_000])
def test_long_corpus_session_dropped_content_is_retrievable(fitted: dict[int, Any], window: int) -> None:
    messages, config, result = fitted[window]
    store = get_store(config)
    fit_keys = result.extras["fitting"]["ccr_keys"]
    assert fit_keys
    recovered: set[str] = set()
    for key in fit_keys:
        original = store.get(key)
        try:
            recovered |= {m.get("tool_call_id") for m in json.loads(original) if isinstance(m, dict)}
        except (json.JSONDecodeError, AttributeError, TypeError):
            pass  # an elided single tool output
    kept = {m.get("tool_call_id") for m in result.messages if m.get("role") == "tool"}
    every = {m["tool_call_id"] for m in messages if m["role"] == "tool"}
    assert every <= kept | recovered


@pytest.mark.corpus
@pytest.mark.parametrize("window", [8_000, 16_000, 32_000])
def test_long_corpus_session_shows_what_the_last_questions_name(
    fitted: dict[int, Any], window: int, corpus_session: list[SessionTurn]
) -> None:
    result = fitted[window][2]
    outputs = _tool_outputs_by_turn(corpus_session, result.messages)
    for turn in (len(corpus_session) - 2, len(corpus_session) - 1):
        text = "\n".join(outputs[turn])
        assert all(needle in text for needle in corpus_session[turn].needles), corpus_session[turn].question


def test_newest_result_larger_than_the_window_is_elided_as_the_last_resort(samples_dir: Any, store: CCRStore) -> None:
    log = (samples_dir / "logs" / "BGL_2k.log").read_text(encoding="utf-8")
    call = {"id": "c1", "type": "function", "function": {"name": "read_log", "arguments": '{"file": "BGL_2k.log"}'}}
    messages = [
        {"role": "system", "content": "You read logs."},
        {"role": "user", "content": "Any alerts in BGL?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": log},
    ]
    result = _fit(messages, 4_000, store=store)
    assert COUNTER.count_messages(result.messages) <= 4_000
    assert result.report["steps"] == ["elide_newest"] and openai_problems(result.messages) == []
    key = next(k for k in result.ccr_keys if k in result.messages[-1]["content"])
    assert store.get(key) == log


@pytest.mark.corpus
@pytest.mark.parametrize("window", [8_000, 16_000, 32_000])
def test_every_kept_turn_shows_what_its_own_question_named(
    fitted: dict[int, Any], window: int, corpus_session: list[SessionTurn]
) -> None:
    result = fitted[window][2]
    outputs = _tool_outputs_by_turn(corpus_session, result.messages)
    kept = {k: texts for k, texts in outputs.items() if not any(t.startswith(MARKER_PREFIX) for t in texts)}
    assert len(kept) >= 2
    for turn, texts in kept.items():
        assert all(needle in "\n".join(texts) for needle in corpus_session[turn].needles), corpus_session[turn].question


@pytest.mark.corpus
def test_judging_every_output_by_the_last_question_would_lose_earlier_records(
    corpus_session: list[SessionTurn],
) -> None:
    messages = conversation_until(corpus_session, len(corpus_session) - 1)
    config = HeadroomConfig()
    per_turn = _tool_outputs_by_turn(corpus_session, headroom.compress(messages, config=config).messages)
    last_only = _tool_outputs_by_turn(
        corpus_session, headroom.compress(messages, config=config, query=corpus_session[-1].question).messages
    )

    def missing(outputs: dict[int, list[str]]) -> list[int]:
        return [k for k, t in enumerate(corpus_session) if not all(n in "\n".join(outputs[k]) for n in t.needles)]

    assert missing(per_turn) == []
    assert len(missing(last_only)) >= 5
