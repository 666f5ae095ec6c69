"""Per-request overrides (headroom_mode, headroom_output_buffer_tokens, headroom_keep_turns,
headroom_tool_profiles, headroom_optimization_mode) take effect through compress()."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import headroom
import pytest
from headroom.ccr.store import get_store
from headroom.config import HeadroomConfig
from headroom.conversation import cache_hints, prefix_freeze
from headroom.conversation.fit_markers import MARKER_PREFIX
from headroom.errors import ConfigurationError
from headroom.tokens import get_counter

COUNTER = get_counter("gpt-4o")


@pytest.fixture(autouse=True)
def _forget_conversations() -> None:
    prefix_freeze.forget_sessions()
    cache_hints.forget_sessions()


@pytest.fixture(scope="module")
def repos(samples_dir: Path) -> str:
    """A real GitHub repository search response (30 repositories)."""
    return json.dumps(
        json.loads((samples_dir / "json" / "Search.testSearchRepos.118.json").read_text())["body"]["items"]
    )


@pytest.fixture(scope="module")
def log_lines(samples_dir: Path) -> list[str]:
    return (samples_dir / "logs" / "OpenSSH_2k.log").read_text(encoding="utf-8").splitlines()


def _tool_turn(k: int, tool: str, output: str, question: str) -> list[dict[str, Any]]:
    call = {"id": f"c{k}", "type": "function", "function": {"name": tool, "arguments": "{}"}}
    return [
        {"role": "user", "content": question},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": f"c{k}", "content": output},
    ]


def _repo_request(repos: str, tool: str = "search_repos") -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "You research Python projects on GitHub."},
        *_tool_turn(1, tool, repos, "Which of these repositories wrap the GitHub API?"),
    ]


def _log_conversation(log_lines: list[str], turns: int = 6, chunk: int = 25) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You read sshd logs."}]
    for k in range(turns):
        messages += _tool_turn(
            k, "read_log", "\n".join(log_lines[k * chunk : (k + 1) * chunk]), f"What happened in part {k}?"
        )
        if k < turns - 1:
            messages.append({"role": "assistant", "content": f"Part {k}: failed password attempts."})
    return messages


def _intact_outputs(messages: list[dict[str, Any]]) -> int:
    return sum(1 for m in messages if m["role"] == "tool" and not m["content"].startswith(MARKER_PREFIX))


def test_headroom_mode_audit_sends_the_original(repos: str) -> None:
    request = _repo_request(repos)
    result = headroom.compress(request, config=HeadroomConfig(), headroom_mode="audit")
    assert result.mode == "audit" and result.messages == request
    assert result.optimized_tokens is not None and result.optimized_tokens < result.tokens_before


def test_headroom_mode_simulate_writes_nothing(repos: str) -> None:
    config = HeadroomConfig()
    result = headroom.compress(_repo_request(repos), config=config, headroom_mode="simulate")
    assert result.mode == "simulate" and result.ccr_keys
    assert all(key not in get_store(config) for key in result.ccr_keys)


def test_headroom_output_buffer_tokens_sets_the_fitting_limit(log_lines: list[str]) -> None:
    request = _log_conversation(log_lines)
    size = COUNTER.count_messages(headroom.compress(request, config=HeadroomConfig()).messages)
    config = HeadroomConfig(model_context_limits={"gpt-4o": size + 2_000})
    default = headroom.compress(request, config=config)
    larger_room = headroom.compress(request, config=config, headroom_output_buffer_tokens=1_000)
    assert default.extras["fitting"]["limit"] == size + 2_000 - 4_000
    assert default.extras["fitting"]["fitted"] and default.tokens_after <= size - 2_000
    assert larger_room.extras["fitting"]["limit"] == size + 1_000
    assert not larger_room.extras["fitting"]["fitted"]


def _tool_outputs(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in messages if m["role"] == "tool"]


def test_headroom_keep_turns_sends_the_last_turns_uncompressed(log_lines: list[str]) -> None:
    request = _log_conversation(log_lines, turns=5, chunk=200)
    sent = _tool_outputs(headroom.compress(request, config=HeadroomConfig(), headroom_keep_turns=2).messages)
    given = _tool_outputs(request)
    assert sent[-2:] == given[-2:]
    assert all(len(a) < len(b) for a, b in zip(sent[:-2], given[:-2]))


def test_headroom_keep_turns_compresses_kept_turns_that_alone_cannot_fit(log_lines: list[str]) -> None:
    request = _log_conversation(log_lines, turns=5, chunk=200)
    kept_alone = COUNTER.count_messages(request[:1] + request[-10:])
    config = HeadroomConfig(model_context_limits={"gpt-4o": kept_alone + 4_000 - 400})
    result = headroom.compress(request, config=config, headroom_keep_turns=3)
    assert result.tokens_after <= kept_alone - 400
    assert any("keep_turns=3" in note and "compressed to fit" in note for note in result.passthrough_reasons)
    assert _tool_outputs(result.messages)[-3:] != _tool_outputs(request)[-3:]


def test_headroom_tool_profiles_skip_compression_for_one_tool(repos: str) -> None:
    skipped = headroom.compress(
        _repo_request(repos, "search_repos"),
        config=HeadroomConfig(),
        headroom_tool_profiles={"search_repos": {"skip_compression": True}},
    )
    other = headroom.compress(
        _repo_request(repos, "list_repos"),
        config=HeadroomConfig(),
        headroom_tool_profiles={"search_repos": {"skip_compression": True}},
    )
    assert skipped.messages[-1]["content"] == repos
    assert other.messages[-1]["content"] != repos


def test_headroom_tool_profiles_set_smart_crusher_fields_per_tool(repos: str) -> None:
    default = headroom.compress(_repo_request(repos), config=HeadroomConfig())
    tight = headroom.compress(
        _repo_request(repos),
        config=HeadroomConfig(),
        headroom_tool_profiles={"search_repos": {"max_items_after_crush": 3}},
    )
    assert tight.tokens_after < default.tokens_after


def test_headroom_optimization_mode_cache_freezes_the_conversation(log_lines: list[str]) -> None:
    request = _log_conversation(log_lines)
    headroom.compress(request[:8], config=HeadroomConfig(), session_id="o", headroom_optimization_mode="cache_mode")
    result = headroom.compress(
        request, config=HeadroomConfig(), session_id="o", headroom_optimization_mode="cache_mode"
    )
    assert result.extras["prefix_freeze"]["frozen_input_messages"] == 8


def test_an_unknown_override_is_rejected(repos: str) -> None:
    with pytest.raises(ConfigurationError, match="headroom_keep_turn"):
        headroom.compress(_repo_request(repos), headroom_keep_turn=3)
