"""Agent-loop caching: turn N of an agent loop does not re-crush the tool outputs it already saw."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import headroom
import pytest
from headroom.compressors.router import result_cache
from headroom.config import HeadroomConfig
from headroom.conversation import cache_hints, prefix_freeze


@pytest.fixture(autouse=True)
def _cold_start() -> None:
    result_cache.clear()
    prefix_freeze.forget_sessions()
    cache_hints.forget_sessions()


@pytest.fixture(scope="module")
def outputs(samples_dir: Path) -> list[tuple[str, str, str]]:
    """(tool, question, output) for each turn: real GitHub responses and log chunks."""

    def body(name: str) -> str:
        return json.dumps(json.loads((samples_dir / "json" / name).read_text())["body"], indent=1)

    def log(name: str, start: int) -> str:
        return "\n".join((samples_dir / "logs" / name).read_text(encoding="utf-8").splitlines()[start : start + 120])

    return [
        ("search_repos", "Which repositories wrap the GitHub API?", body("Search.testSearchRepos.118.json")),
        ("read_log", "Which blocks failed in this HDFS chunk?", log("HDFS_2k.log", 0)),
        ("list_issues", "Which issues are still open?", body("Repository.testGetIssuesWithArguments.103.json")),
        ("read_log", "Any failed sshd logins?", log("OpenSSH_2k.log", 400)),
        ("code_scanning", "Which alerts are still open?", body("CodeScanAlert.testMultipleAlerts.25.json")),
        ("read_log", "Any kernel alerts?", log("BGL_2k.log", 800)),
    ]


def _request(outputs: list[tuple[str, str, str]], turns: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are an SRE agent with GitHub and log tools."}]
    for k, (tool, question, output) in enumerate(outputs[:turns]):
        call = {"id": f"c{k}", "type": "function", "function": {"name": tool, "arguments": "{}"}}
        messages += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"c{k}", "content": output},
        ]
        if k < turns - 1:
            messages.append({"role": "assistant", "content": f"Answered: {question}"})
    return messages


def _tool_indices(messages: list[dict[str, Any]]) -> list[int]:
    return [i for i, m in enumerate(messages) if m["role"] == "tool"]


def test_turn_n_answers_every_earlier_tool_output_from_the_cache(outputs: list[tuple[str, str, str]]) -> None:
    config = HeadroomConfig()
    for turns in range(1, len(outputs) + 1):
        request = _request(outputs, turns)
        result = headroom.compress(request, config=config)
        timings = {t.message_index: t for t in result.extras["content_timings"]}
        earlier, newest = _tool_indices(request)[:-1], _tool_indices(request)[-1]
        assert all(timings[i].cache_hit for i in earlier)
        assert not timings[newest].cache_hit


def test_the_compressor_runs_once_per_distinct_output(outputs: list[tuple[str, str, str]]) -> None:
    config = HeadroomConfig()
    for turns in range(1, len(outputs) + 1):
        headroom.compress(_request(outputs, turns), config=config)
    assert result_cache.misses == len(outputs)
    assert result_cache.hits == sum(range(len(outputs)))


def test_earlier_outputs_compress_to_the_same_text_every_turn(outputs: list[tuple[str, str, str]]) -> None:
    config = HeadroomConfig()
    first = headroom.compress(_request(outputs, 2), config=config).messages
    later = headroom.compress(_request(outputs, len(outputs)), config=config).messages
    for i in _tool_indices(first):
        assert later[i]["content"] == first[i]["content"]


def test_different_settings_are_not_served_from_the_cache(outputs: list[tuple[str, str, str]]) -> None:
    request = _request(outputs, 1)
    headroom.compress(request, config=HeadroomConfig())
    result = headroom.compress(
        request, config=HeadroomConfig(), headroom_tool_profiles={"search_repos": {"max_items_after_crush": 4}}
    )
    assert not result.extras["content_timings"][0].cache_hit


def test_a_different_question_is_not_served_from_the_cache(outputs: list[tuple[str, str, str]]) -> None:
    request = _request(outputs, 1)
    headroom.compress(request, config=HeadroomConfig())
    asked_otherwise = [dict(m) for m in request]
    asked_otherwise[1]["content"] = "Which repositories are about Django?"
    result = headroom.compress(asked_otherwise, config=HeadroomConfig())
    assert not result.extras["content_timings"][0].cache_hit
