"""CompressResult.summary(): one line that says what happened, on real tool outputs and a real README."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import headroom
import pytest
from headroom import HeadroomConfig
from headroom.display import percent
from hypothesis import given
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "core" / "headroom" / "samples"
RUNS = json.loads((SAMPLES / "json" / "PullRequest2408.test_get_workflow_runs.85.json").read_text())["body"]
SSH_LOG = (SAMPLES / "logs" / "OpenSSH_2k.log").read_text()


def _tool_call(i: int, name: str, output: str) -> list[dict[str, object]]:
    call = {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": "{}"}}
    return [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": f"call_{i}", "content": output},
    ]


def _agent_session() -> list[dict[str, object]]:
    """A question, then the workflow runs and the sshd log read twice each, with a user turn between reads."""
    messages: list[dict[str, object]] = [
        {"role": "user", "content": "Which workflow run failed, and was build-01 attacked?"}
    ]
    for i, (name, output) in enumerate([("list_runs", json.dumps(RUNS)), ("read_log", SSH_LOG)] * 2):
        messages += _tool_call(i, name, output)
        messages += [{"role": "assistant", "content": f"Read {name}."}, {"role": "user", "content": "Go on."}]
    return messages


def _long_chat() -> list[dict[str, object]]:
    """45 turns walking through this repository's README: prose that compression leaves alone."""
    paragraphs = [p for p in (REPO / "README.md").read_text().split("\n\n") if len(p) > 300]
    messages: list[dict[str, object]] = [{"role": "user", "content": "Walk me through the README, section by section."}]
    for i in range(45):
        messages += [
            {"role": "assistant", "content": paragraphs[i % len(paragraphs)]},
            {"role": "user", "content": f"Next section please ({i})."},
        ]
    return messages


def test_compression_summary_names_the_compressors_and_counts() -> None:
    result = headroom.compress(_agent_session()[:7], "gpt-4o")
    assert re.fullmatch(
        r"[\d,]+ -> [\d,]+ tokens \(\d+% fewer, \$\d\.\d{4} saved\): compressed 2 tool outputs "
        r"\(1 log_compressor, 1 smart_crusher\)",
        result.summary(),
    )


def test_dropped_turns_are_named_with_the_window_instead_of_a_bare_percentage() -> None:
    config = HeadroomConfig(model_context_limits={"gpt-4o": 6000})
    result = headroom.compress(_long_chat(), "gpt-4o", config=config)
    assert result.dropped_messages > 0
    assert result.summary() == (
        f"{result.tokens_before:,} -> {result.tokens_after:,} tokens ({percent(result.tokens_saved, result.tokens_before)} "
        f"fewer, ${result.cost_saved_usd:.4f} saved): dropped {result.dropped_messages} messages to fit the "
        "6,000-token window"
    )


def test_outputs_shrunk_to_fit_are_named_after_what_compression_did() -> None:
    config = HeadroomConfig(model_context_limits={"gpt-4o": 16_000})
    summary = headroom.compress(_agent_session(), "gpt-4o", config=config).summary()
    assert re.search(
        r"\(2 log_compressor, 2 smart_crusher\); (compressed \d tool outputs? harder, )?digested \d tool outputs?"
        r"( and elided \d tool outputs?)? to fit the 16k window$",
        summary,
    )


def test_audit_summary_says_what_optimize_would_save() -> None:
    result = headroom.compress(_agent_session()[:7], "gpt-4o", mode="audit")
    summary = result.summary()
    assert summary.startswith(f"audit: sent unchanged, {result.tokens_before:,} tokens; optimize would send ")
    assert (
        f"{result.optimized_tokens:,} ({percent(result.potential_tokens_saved, result.tokens_before)} fewer" in summary
    )
    assert "0% fewer" not in summary


def test_audit_reports_the_cost_optimize_would_save() -> None:
    result = headroom.compress(_agent_session()[:7], "gpt-4o", mode="audit")
    assert result.potential_cost_saved_usd is not None and result.potential_cost_saved_usd > 0
    assert f"${result.potential_cost_saved_usd:.4f} saved" in result.summary()


def test_simulate_summary_says_nothing_was_sent() -> None:
    summary = headroom.compress(_agent_session()[:7], "gpt-4o", mode="simulate").summary()
    assert summary.startswith("simulate (nothing sent or stored): ")


def test_nothing_to_compress_is_said_plainly() -> None:
    summary = headroom.compress([{"role": "user", "content": "hello"}], "gpt-4o").summary()
    assert re.fullmatch(r"\d+ -> \d+ tokens \(0% fewer\): nothing needed compressing", summary)


def test_unknown_model_summary_says_what_was_assumed() -> None:
    summary = headroom.compress(_agent_session()[:3], "gpt-9").summary()
    assert "estimated tokens" in summary
    assert summary.endswith(
        "; unknown model 'gpt-9': assumed the default 128,000-token window and no price, so costs are not "
        "computed; add it with HEADROOM_MODEL_LIMITS or models.json in the config dir"
    )


def test_model_inferred_from_its_name_states_the_prices_assumed() -> None:
    summary = headroom.compress(_agent_session()[:3], "claude-opus-9").summary()
    assert (
        "unknown model 'claude-opus-9': assumed Claude Opus facts from its name: a 200,000-token window and "
        "$15/$75 per million input/output tokens" in summary
    )


def test_unknown_model_is_logged_once_per_process(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="headroom.models"):
        headroom.compress([{"role": "user", "content": "hi"}], "my-local-model-7b")
        headroom.compress([{"role": "user", "content": "hi again"}], "my-local-model-7b")
    said = [r for r in caplog.records if "my-local-model-7b" in r.getMessage()]
    assert len(said) == 1 and said[0].headroom_unknown_model == "my-local-model-7b"  # type: ignore[attr-defined]


def test_known_model_summary_has_no_assumption() -> None:
    assert "unknown model" not in headroom.compress(_agent_session()[:3], "gpt-4o-2024-08-06").summary()


def test_savings_by_transform_add_up_to_what_optimize_saves() -> None:
    config = HeadroomConfig(model_context_limits={"gpt-4o": 16_000})
    result = headroom.compress(_agent_session(), "gpt-4o", config=config)
    by = result.savings_by_transform()
    assert set(by) == {"smart_crusher", "log_compressor", "fitting"}
    assert sum(by.values()) == result.potential_tokens_saved


@given(whole=st.integers(min_value=2, max_value=10**9), data=st.data())
def test_percent_is_never_rounded_to_nothing_or_everything(whole: int, data: st.DataObject) -> None:
    part = data.draw(st.integers(min_value=1, max_value=whole - 1))
    assert percent(part, whole) not in ("0%", "100%", "0.0%", "100.0%", "0.00%", "100.00%")


def test_a_window_smaller_than_the_answer_buffer_is_said_plainly() -> None:
    config = HeadroomConfig(model_context_limits={"gpt-4o": 3000})
    summary = headroom.compress(_agent_session()[:7], "gpt-4o", config=config).summary()
    assert summary.endswith(
        "to fit the 3,000-token window (still over it: the window is smaller than the answer buffer)"
    )
