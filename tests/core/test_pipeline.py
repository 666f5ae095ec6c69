"""run_pipeline: stages in order on a copy, fail open per stage, content stage judged per question."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import headroom
import pytest
from headroom import metrics
from headroom.ccr import CCRStore
from headroom.config import CacheAlignerConfig, HeadroomConfig, HeadroomMode
from headroom.conversation import cache_hints, prefix_freeze
from headroom.pipeline import STAGES, run_pipeline
from headroom.pipeline.stages import alignment, cache_observation
from headroom.pipeline.stages import fitting as fitting_stage


@pytest.fixture(autouse=True)
def _forget() -> None:
    prefix_freeze.forget_sessions()
    cache_hints.forget_sessions()


@pytest.fixture(scope="module")
def issues(samples_dir: Path) -> list[dict[str, Any]]:
    return json.loads((samples_dir / "json" / "Repository.testGetIssuesWithArguments.103.json").read_text())["body"]


def _request(issues: list[dict[str, Any]], question: str = "What is issue #16 about?") -> list[dict[str, Any]]:
    call = {"id": "c1", "type": "function", "function": {"name": "list_issues", "arguments": "{}"}}
    return [
        {"role": "system", "content": "Current date: 2024-06-03\nYou triage PyGithub issues."},
        {"role": "user", "content": question},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": json.dumps(issues, indent=1)},
    ]


def _run(messages: list[dict[str, Any]], config: HeadroomConfig, mode: HeadroomMode = HeadroomMode.OPTIMIZE):
    return run_pipeline(messages, model="gpt-4o", config=config, mode=mode, store=CCRStore("sqlite://"))


def test_the_input_is_never_mutated(issues: list[dict[str, Any]]) -> None:
    request = _request(issues)
    before = copy.deepcopy(request)
    _run(request, HeadroomConfig(cache_aligner=CacheAlignerConfig(enabled=True), model_context_limits={"gpt-4o": 6000}))
    assert request == before


def test_a_failing_fitting_stage_fails_open(issues: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(fitting_stage, "fit_to_window", broken)
    before = metrics.snapshot().get("errors.pipeline.fitting", 0)
    result = _run(_request(issues), HeadroomConfig())
    assert result.errors == 1 and any("fitting error" in n for n in result.passthrough_reasons)
    assert metrics.snapshot()["errors.pipeline.fitting"] == before + 1
    assert result.tokens_after < result.tokens_before  # the content stage's work is kept


def test_a_failing_aligner_leaves_the_system_prompt(
    issues: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("bad pattern")

    monkeypatch.setattr(alignment, "align_system_messages", broken)
    request = _request(issues)
    result = _run(request, HeadroomConfig(cache_aligner=CacheAlignerConfig(enabled=True)))
    assert result.messages[0] == request[0] and result.errors == 1


def test_a_failing_cache_estimate_reports_zero_cached_tokens(
    issues: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("state")

    monkeypatch.setattr(cache_observation, "observe_request", broken)
    result = _run(_request(issues), HeadroomConfig())
    assert result.cached_tokens == 0 and result.errors == 1


def test_the_stage_order_is_declared_in_one_place() -> None:
    assert [type(s).__name__ for s in STAGES] == [
        "FrozenPrefixLookup",
        "CacheAlignment",
        "ContentCompression",
        "Extensions",
        "FrozenPrefixReplay",
        "ContextFitting",
        "CacheHints",
        "CacheObservation",
    ]


def test_stages_run_in_order_and_are_reported(issues: list[dict[str, Any]]) -> None:
    config = HeadroomConfig(
        cache_aligner=CacheAlignerConfig(enabled=True),
        model_context_limits={"gpt-4o": 4_500},
        generate_diff_artifact=True,
    )
    result = _run(_request(issues), config)
    kinds = [t.split(":")[0] for t in result.transforms_applied]
    assert kinds.index("cache_aligner") < kinds.index("smart_crusher") < kinds.index("fitting")
    assert [d.splitlines()[0] for d in result.diff_artifacts] == [
        "--- cache_aligner:before",
        "--- content:before",
        "--- fitting:before",
    ]


def test_audit_reports_what_optimize_would_send(issues: list[dict[str, Any]]) -> None:
    request = _request(issues)
    audit = _run(request, HeadroomConfig(), HeadroomMode.AUDIT)
    optimize = _run(request, HeadroomConfig())
    assert audit.messages == request and audit.optimized_tokens == optimize.tokens_after


def test_each_tool_output_is_judged_against_its_own_question(issues: list[dict[str, Any]]) -> None:
    """The same output under two questions keeps what each question names."""
    first = _request(issues, "What is issue #16 about?")
    second = _request(issues, "What is issue #36 about?")
    call = {"id": "c2", "type": "function", "function": {"name": "list_issues", "arguments": "{}"}}
    messages = [
        *first,
        {"role": "assistant", "content": "Issue 16 is about ..."},
        second[1],
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c2", "content": second[3]["content"]},
    ]
    result = headroom.compress(messages, config=HeadroomConfig())
    numbers = [
        [item.get("number") for item in json.loads(m["content"]) if isinstance(item, dict)]
        for m in result.messages
        if m["role"] == "tool"
    ]
    assert 16 in numbers[0] and 36 in numbers[1]
    assert numbers[0] != numbers[1]


def test_an_explicit_query_overrides_the_per_turn_questions(issues: list[dict[str, Any]]) -> None:
    request = _request(issues, "What is issue #16 about?")
    result = headroom.compress(request, config=HeadroomConfig(), query="What is issue #36 about?")
    kept = [item.get("number") for item in json.loads(result.messages[-1]["content"]) if isinstance(item, dict)]
    assert 36 in kept
