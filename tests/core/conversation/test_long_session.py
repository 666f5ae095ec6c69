"""Long agent sessions fit small windows by compressing harder, not by forgetting.

A session of real GitHub API outputs (the 24 largest listings of the corpus, or the bundled samples
when the corpus is absent): each turn's question names two records, the tool lists the resource,
the answer is short. The last request of the session is fitted to 8k, 16k and 32k windows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import headroom
import pytest
from headroom.ccr.store import CCRStore, get_store
from headroom.config import HeadroomConfig
from headroom.conversation.validity import anthropic_problems, openai_problems
from headroom.session_bench import SessionTurn, build_records_session, conversation_until, records_session_files
from headroom.tokens import get_counter

from tests.core.conversation.sessions import unretrievable_outputs, visible_needles

COUNTER = get_counter("gpt-4o")
WINDOWS = [8_000, 16_000, 32_000]
BUFFER = 2_000


@pytest.fixture(scope="module")
def corpus_session(corpus_dir: Path) -> list[SessionTurn]:
    return build_records_session(records_session_files(corpus_dir / "json"), 24)


@pytest.fixture(scope="module")
def samples_session(samples_dir: Path) -> list[SessionTurn]:
    return build_records_session(sorted((samples_dir / "json").glob("*.json")), 8)


@pytest.fixture(scope="module", params=["samples", "corpus"])
def session(request: pytest.FixtureRequest) -> list[SessionTurn]:
    return request.getfixturevalue(f"{request.param}_session")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('long-session') / 'store.db'}"


def _config(window: int, store_url: str) -> HeadroomConfig:
    return HeadroomConfig(store_url=store_url, model_context_limits={"gpt-4o": window}, output_buffer_tokens=BUFFER)


@pytest.fixture(scope="module")
def fitted(session: list[SessionTurn], store_url: str) -> dict[int, tuple[list[dict[str, Any]], Any]]:
    request = conversation_until(session, len(session) - 1)
    out = {}
    for window in WINDOWS:
        out[window] = (request, headroom.compress(request, "gpt-4o", config=_config(window, store_url)))
    return out


def _store(store_url: str) -> CCRStore:
    return get_store(HeadroomConfig(store_url=store_url))


@pytest.mark.parametrize("window", WINDOWS)
def test_the_request_fits_the_window(fitted: dict[int, Any], window: int) -> None:
    _, result = fitted[window]
    assert COUNTER.count_messages(result.messages) <= window - BUFFER


@pytest.mark.parametrize("window", WINDOWS)
def test_tool_calls_stay_paired_with_their_results(fitted: dict[int, Any], window: int) -> None:
    _, result = fitted[window]
    assert openai_problems(result.messages) == [] and anthropic_problems(result.messages) == []


@pytest.mark.parametrize("window", WINDOWS)
def test_the_system_prompt_and_the_last_question_are_intact(fitted: dict[int, Any], window: int) -> None:
    request, result = fitted[window]
    assert result.messages[0] == request[0]
    last_question = [m for m in request if m["role"] == "user"][-1]
    assert last_question in result.messages


@pytest.mark.parametrize("window", WINDOWS)
def test_the_records_the_last_three_questions_name_are_visible(
    session: list[SessionTurn], fitted: dict[int, Any], window: int
) -> None:
    _, result = fitted[window]
    seen = visible_needles(session, result.messages)
    assert all(all(seen[t]) for t in range(len(session) - 3, len(session)))


def test_half_of_all_named_records_are_visible_in_a_16k_window(
    session: list[SessionTurn], fitted: dict[int, Any]
) -> None:
    _, result = fitted[16_000]
    seen = [v for flags in visible_needles(session, result.messages).values() for v in flags]
    assert sum(seen) >= len(seen) / 2


@pytest.mark.parametrize("window", WINDOWS)
def test_every_dropped_or_digested_output_is_retrievable_exactly(
    fitted: dict[int, Any], window: int, store_url: str
) -> None:
    request, result = fitted[window]
    assert unretrievable_outputs(request, result.messages, _store(store_url)) == []


@pytest.mark.parametrize("window", WINDOWS)
def test_fitting_says_what_it_did(fitted: dict[int, Any], window: int) -> None:
    _, result = fitted[window]
    report = result.extras["fitting"]
    assert report["fitted"] and report["compactions"] >= 1 and not report["over_limit"]
    assert any(t.startswith("fitting:") for t in result.transforms_applied)


def test_older_outputs_become_digests_before_turns_are_dropped(fitted: dict[int, Any]) -> None:
    _, result = fitted[32_000]
    digests = [m for m in result.messages if m["role"] == "tool" and m["content"].startswith("[headroom digest")]
    assert digests and result.dropped_messages == 0


def test_a_digest_names_the_records_and_fields_its_question_asked_for(corpus_session: list[SessionTurn]) -> None:
    turn = corpus_session[5]  # "what are the name and language of the id 82733 and the id 12190067?"
    config = HeadroomConfig(stateless=True, model_context_limits={"gpt-4o": 8_000}, output_buffer_tokens=BUFFER)
    request = conversation_until(corpus_session, 6)
    sent = headroom.compress(request, "gpt-4o", config=config).messages
    digest = next(m["content"] for m in sent if m.get("tool_call_id") == turn.messages[2]["tool_call_id"])
    assert digest.startswith("[headroom digest")
    for needle in turn.needles:
        assert needle in digest
    assert '"language": "Python"' in digest.replace("language: ", '"language": ') and "headroom_retrieve" in digest


def test_a_request_within_the_window_is_left_as_compressed(samples_session: list[SessionTurn]) -> None:
    request = conversation_until(samples_session, 2)
    result = headroom.compress(request, "gpt-4o", config=HeadroomConfig(stateless=True))
    assert not result.extras["fitting"]["fitted"] and result.dropped_messages == 0


def test_dropped_turns_come_back_by_their_key(samples_session: list[SessionTurn], store_url: str) -> None:
    request = conversation_until(samples_session, len(samples_session) - 1)
    result = headroom.compress(request, "gpt-4o", config=_config(3_500, store_url))
    marker = next(m for m in result.messages if m["role"] == "assistant" and "earlier messages" in str(m["content"]))
    key = marker["content"].split('key="')[1].split('"')[0]
    dropped = json.loads(_store(store_url).get(key))
    assert result.dropped_messages == len(dropped) and dropped == request[2 : 2 + len(dropped)]
