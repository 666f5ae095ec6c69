"""Whole-session cost with prompt-cache prices, prefix rewrites, and byte-identical re-sends across processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import headroom
import pytest
from headroom.ccr.store import get_store
from headroom.config import HeadroomConfig
from headroom.models import ModelRegistry
from headroom.session_bench import SessionTurn, build_records_session, conversation_until, records_session_files
from headroom.session_cost import bill_requests, session_costs

REPO = Path(__file__).resolve().parents[2]
REGISTRY = ModelRegistry()


def _text(n: int) -> str:
    return " ".join(f"word{i}" for i in range(n))


def _request(turns: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "system", "content": _text(1500)}]
    for t in range(turns):
        out += [{"role": "user", "content": f"question {t}"}, {"role": "assistant", "content": _text(300)}]
    return out


def test_anthropic_bills_the_repeated_prefix_as_a_read_and_the_rest_as_a_write() -> None:
    first, second = _request(1), _request(2)
    bills = bill_requests([first, second], model="claude-sonnet-4-5", registry=REGISTRY)
    assert bills[0].cached_tokens == 0 and bills[0].written_tokens == bills[0].input_tokens
    assert bills[1].cached_tokens > 1024 and bills[1].cached_tokens + bills[1].written_tokens == bills[1].input_tokens
    expected = (bills[1].cached_tokens * 0.30 + bills[1].written_tokens * 3.75) / 1_000_000
    assert bills[1].usd == pytest.approx(expected) and not bills[1].rewrite


def test_openai_reads_in_128_token_steps_and_writes_at_the_input_price() -> None:
    bills = bill_requests([_request(1), _request(2)], model="gpt-4o", registry=REGISTRY)
    assert (bills[1].cached_tokens - 1024) % 128 == 0
    assert bills[1].usd == pytest.approx((bills[1].cached_tokens * 1.25 + bills[1].written_tokens * 2.5) / 1e6)


def test_a_changed_earlier_message_counts_as_a_prefix_rewrite() -> None:
    edited = _request(2)
    edited[1] = {"role": "user", "content": "question 0, edited"}
    bills = bill_requests([_request(1), edited], model="claude-sonnet-4-5", registry=REGISTRY)
    unedited = bill_requests([_request(1), _request(2)], model="claude-sonnet-4-5", registry=REGISTRY)
    assert bills[1].rewrite and not unedited[1].rewrite
    assert bills[1].cached_tokens < unedited[1].cached_tokens  # only the system prompt is read


def test_small_prefixes_are_not_cached() -> None:
    small = [{"role": "user", "content": "hi"}]
    bills = bill_requests(
        [small, [*small, {"role": "assistant", "content": "hello"}]], model="claude-sonnet-4-5", registry=REGISTRY
    )
    assert bills[1].cached_tokens == 0


@pytest.fixture(scope="module")
def corpus_records(corpus_dir: Path) -> list[SessionTurn]:
    return build_records_session(records_session_files(corpus_dir / "json"), 24)


@pytest.fixture(scope="module")
def costs(corpus_records: list[SessionTurn]) -> dict[str, Any]:
    return {c.label: c for c in session_costs(corpus_records, model="claude-sonnet-4-5", window=128_000)}


@pytest.mark.corpus
@pytest.mark.parametrize("mode", ["token", "cache"])
def test_a_24_turn_session_costs_at_most_a_quarter_of_sending_it_raw(costs: dict[str, Any], mode: str) -> None:
    assert costs[mode].usd <= 0.25 * costs["raw"].usd


@pytest.mark.corpus
@pytest.mark.parametrize("mode", ["token", "cache"])
def test_a_24_turn_session_rewrites_its_prefix_at_most_once_per_compaction(
    corpus_records: list[SessionTurn], mode: str
) -> None:
    config = HeadroomConfig(stateless=True, optimization_mode=mode, model_context_limits={"gpt-4o": 128_000})
    sent, compactions = [], set()
    for t in range(len(corpus_records)):
        result = headroom.compress(conversation_until(corpus_records, t), "gpt-4o", config=config, session_id=mode)
        sent.append(result.messages)
        compactions |= set(result.extras["fitting"].get("compaction_points", []))
    rewrites = bill_requests(sent, model="gpt-4o", registry=REGISTRY)
    assert 1 <= sum(b.rewrite for b in rewrites) <= len(compactions)


def _replay(json_dir: Path, turns: int, window: int, mode: str, store_url: str) -> list[str]:
    run = subprocess.run(
        [sys.executable, "-m", "tests.support.replay_session", str(json_dir), str(turns), str(window), mode, store_url],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return run.stdout.split()


def _retrieve_a_lot(store_url: str) -> None:
    """Record retrieval feedback for the session's tool, as a model fetching omitted items would."""
    store = get_store(HeadroomConfig(store_url=store_url))
    key = store.put("an original the model fetched again and again", tool_name="github_api")
    for _ in range(60):
        store.get(key)
    store.flush()


@pytest.mark.parametrize("mode", ["token", "cache"])
def test_two_processes_sharing_a_store_send_identical_bytes(samples_dir: Path, tmp_path: Path, mode: str) -> None:
    store_url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = _replay(samples_dir / "json", 8, 30_000, mode, store_url)
    _retrieve_a_lot(store_url)
    second = _replay(samples_dir / "json", 8, 30_000, mode, store_url)
    assert len(first) == 8 and first == second


@pytest.mark.corpus
def test_the_24_turn_replay_sends_identical_bytes_from_two_processes(corpus_dir: Path, tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = _replay(corpus_dir / "json", 24, 128_000, "token", store_url)
    _retrieve_a_lot(store_url)
    assert _replay(corpus_dir / "json", 24, 128_000, "token", store_url) == first
