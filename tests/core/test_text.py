"""headroom.text: one standalone text compressed for a question and trimmed to a token budget."""

from __future__ import annotations

import json
from pathlib import Path

import headroom
import pytest
from headroom.config import CCRConfig, HeadroomConfig
from headroom.errors import InvalidArgumentError
from headroom.text import compress_text, fit_text
from headroom.tokens import count_tokens
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

WORKFLOW_RUNS = "PullRequest2408.test_get_workflow_runs.85.json"
FAILED_RUN = "2802600146"


@pytest.fixture
def runs_text(samples_dir: Path) -> str:
    return json.dumps(json.loads((samples_dir / "json" / WORKFLOW_RUNS).read_text())["body"], indent=2)


def test_short_text_is_returned_unchanged() -> None:
    result = compress_text("Deploy finished at 10:04.", query="deploy")

    assert result.text == "Deploy finished at 10:04." and not result.changed and result.ccr_keys == ()


def test_json_response_is_compressed_and_keeps_the_queried_run(runs_text: str) -> None:
    result = compress_text(runs_text, query=f"what happened in run {FAILED_RUN}?")

    assert result.tokens_after < result.tokens_before / 2
    assert FAILED_RUN in result.text


def test_max_tokens_is_met_and_the_queried_run_survives(runs_text: str) -> None:
    result = compress_text(runs_text, query=f"what happened in run {FAILED_RUN}?", max_tokens=1500)

    assert count_tokens(result.text) <= 1500
    assert FAILED_RUN in result.text


def test_one_key_restores_the_original_after_compression_and_trimming(runs_text: str) -> None:
    result = compress_text(runs_text, query="failed run", max_tokens=1500)

    assert "trim:json_items" in result.transforms
    assert result.ccr_keys[-1] in result.text
    assert headroom.retrieve(result.ccr_keys[-1]) == runs_text


def test_trimmed_json_stays_valid_json_before_the_marker(runs_text: str) -> None:
    result = fit_text(runs_text, 3000, query="lint workflow")

    body, _, marker = result.text.rpartition("\n")
    assert json.loads(body)["workflow_runs"]
    assert marker.startswith("[headroom:")


def test_log_lines_named_by_the_question_are_kept(samples_dir: Path) -> None:
    log = (samples_dir / "logs" / "BGL_2k.log").read_text()

    result = fit_text(log, 800, query="KERNDTLB data TLB error interrupt")

    assert result.tokens_after <= 800
    assert any(line.startswith("KERNDTLB") for line in result.text.splitlines())


def test_without_ccr_nothing_is_trimmed(samples_dir: Path) -> None:
    log = (samples_dir / "logs" / "HDFS_2k.log").read_text()

    result = fit_text(log, 500, config=HeadroomConfig(ccr=CCRConfig(enabled=False)))

    assert result.text == log and result.passthrough_reason.startswith("cannot trim")


def test_a_budget_too_small_for_any_line_leaves_the_text_whole(samples_dir: Path) -> None:
    log = (samples_dir / "logs" / "HDFS_2k.log").read_text()

    result = fit_text(log, 20)

    assert result.text == log and not result.changed and "no part" in result.passthrough_reason


def test_non_string_text_is_refused_with_a_clear_message() -> None:
    with pytest.raises(InvalidArgumentError, match="text must be a string"):
        compress_text(b"bytes")  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80), min_size=5, max_size=60),
    budget=st.integers(min_value=60, max_value=400),
)
def test_trimming_meets_the_budget_and_is_reversible(lines: list[str], budget: int) -> None:
    text = "\n".join(lines)
    result = fit_text(text, budget, query="error", config=HeadroomConfig(stateless=True))

    if result.changed:
        assert result.tokens_after <= budget
        assert headroom.get_store(HeadroomConfig(stateless=True)).get(result.ccr_keys[-1]) == text
    else:
        assert result.text == text


def test_compress_text_honours_skip_compression_profile() -> None:
    from headroom import HeadroomConfig, compress_text

    runs = (
        Path(__file__).resolve().parents[2]
        / "core/headroom/samples/json/PullRequest2408.test_get_workflow_runs.85.json"
    ).read_text()
    cfg = HeadroomConfig(tool_profiles={"ledger": {"skip_compression": True}})
    assert compress_text(runs, config=cfg, tool_name="ledger").text == runs
    assert compress_text(runs, config=cfg, tool_name="other").text != runs


def test_compressing_does_not_tokenize_until_the_counts_are_read(
    runs_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headroom.tokens import get_counter

    counter = get_counter("gpt-4o")
    tokenized: list[int] = []
    real = counter._count_uncached
    monkeypatch.setattr(counter, "_count_uncached", lambda text: tokenized.append(len(text)) or real(text))
    monkeypatch.setattr(counter, "_cache", type(counter._cache)())  # nothing counted before
    result = compress_text(runs_text, query=f"what happened to run {FAILED_RUN}?")
    assert result.changed and tokenized == []
    assert result.tokens_before == count_tokens(runs_text, "gpt-4o") > result.tokens_after == count_tokens(result.text)
    assert len(runs_text) in tokenized


def test_a_budget_is_met_for_claude_whose_counts_exceed_the_byte_count(samples_dir: Path) -> None:
    # Control characters are one o200k token per byte; Claude's estimate is 10% above that.
    text = "\n".join("".join(chr(1 + (i * 7 + j) % 5) for j in range(40)) for i in range(40))
    budget = len(text.encode())
    result = fit_text(text, budget, model="claude-sonnet-4-5")
    assert count_tokens(text, "claude-sonnet-4-5") > budget
    assert result.changed and result.tokens_after <= budget
