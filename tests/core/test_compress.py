"""headroom.compress(): the public contract, the modes, and bad input that must never crash it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import headroom
import pytest
from headroom import HeadroomConfig, InvalidArgumentError, SmartCrusherConfig
from headroom.compressors.json_lossless import decode_tables
from headroom.compressors.router import result_cache

from tests.core.jsoncorpus import load_body, tool_call_messages

RUNS = load_body(
    Path(__file__).resolve().parents[2] / "core/headroom/samples/json/PullRequest2408.test_get_workflow_runs.85.json"
)
RUNS_TEXT = json.dumps(RUNS)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    result_cache.clear()


def _messages(output: str = RUNS_TEXT, question: str = "Which workflow run failed?") -> list[dict]:
    return tool_call_messages(question, output, tool="list_workflow_runs")


def test_result_carries_the_contract_fields() -> None:
    result = headroom.compress(_messages(), model="gpt-4o")
    assert result.tokens_after < result.tokens_before
    assert result.tokens_saved == result.tokens_before - result.tokens_after
    assert 0 < result.compression_ratio < 1
    assert result.transforms_applied == ("smart_crusher:lossy",)
    assert len(result.ccr_keys) == 1 and headroom.retrieve(result.ccr_keys[0]) == RUNS_TEXT
    assert result.cost_saved_usd and result.cost_saved_usd > 0


def test_input_list_is_never_mutated() -> None:
    messages = _messages()
    snapshot = copy.deepcopy(messages)
    headroom.compress(messages)
    assert messages == snapshot


def test_system_prompt_and_question_untouched() -> None:
    messages = _messages()
    out = headroom.compress(messages).messages
    assert out[0] == messages[0] and out[1] == messages[1] and out[2] == messages[2]


def test_audit_mode_sends_original_and_reports_potential_savings() -> None:
    result = headroom.compress(_messages(), mode="audit")
    assert result.messages == _messages() and result.tokens_saved == 0
    assert result.potential_tokens_saved > 0 and result.optimized_tokens < result.tokens_before


def test_simulate_mode_writes_nothing_to_the_store() -> None:
    result = headroom.compress(_messages(), mode="simulate")
    assert result.tokens_saved > 0 and result.ccr_keys
    with pytest.raises(headroom.RetrievalError):
        headroom.retrieve(result.ccr_keys[0])


def test_per_request_override_mode_and_profiles() -> None:
    audited = headroom.compress(_messages(), headroom_mode="audit")
    assert audited.mode == "audit"
    skipped = headroom.compress(_messages(), headroom_tool_profiles={"list_workflow_runs": {"skip_compression": True}})
    assert skipped.tokens_saved == 0 and any("skip_compression" in r for r in skipped.passthrough_reasons)


def test_query_argument_overrides_the_turn_question() -> None:
    target = RUNS["workflow_runs"][13]
    result = headroom.compress(_messages(question="summarise"), query=f"run {target['id']}")
    assert target in json.loads(result.messages[-1]["content"])["workflow_runs"]


def test_protected_tool_is_never_compressed_lossily(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_PROTECT_TOOL_RESULTS", "list_workflow_runs")
    result = headroom.compress(_messages(json.dumps(RUNS, indent=2)))
    assert not result.ccr_keys
    assert decode_tables(json.loads(result.messages[-1]["content"])) == RUNS


def test_ccr_disabled_means_lossless_only() -> None:
    cfg = HeadroomConfig(ccr={"enabled": False})
    result = headroom.compress(_messages(), config=cfg)
    assert not result.ccr_keys and "_headroom" not in result.messages[-1]["content"]


def test_diff_artifact_generated_when_asked() -> None:
    result = headroom.compress(_messages(), config=HeadroomConfig(generate_diff_artifact=True))
    assert result.diff_artifacts and result.diff_artifacts[0].startswith("--- content:before")


def test_content_given_as_list_of_parts_is_compressed() -> None:
    messages = _messages()
    messages[-1]["content"] = [{"type": "text", "text": RUNS_TEXT}]
    result = headroom.compress(messages)
    assert result.tokens_saved > 0 and isinstance(result.messages[-1]["content"], list)


def test_anthropic_tool_result_blocks_are_compressed() -> None:
    messages = [
        {"role": "user", "content": "Which run failed?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "tu1", "name": "runs", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu1", "content": RUNS_TEXT}]},
    ]
    result = headroom.compress(messages, model="claude-sonnet-4-5")
    assert result.tokens_saved > 0 and not result.exact_tokens


@pytest.mark.parametrize(
    ("label", "output"),
    [
        ("truncated JSON", RUNS_TEXT[: len(RUNS_TEXT) // 2]),
        ("malformed JSON", '{"a": [1, 2,, 3]' + " " * 2000),
        ("empty array", "[]"),
        ("empty string", ""),
        ("deep nesting", "[" * 10_000 + "]" * 10_000),
        ("lone surrogates", json.dumps([{"id": i, "t": "bad \ud800 x" * 20} for i in range(60)], ensure_ascii=False)),
        ("invalid utf-8 decoded with replacement", (b"\xff\xfe\xfa" * 3000).decode("utf-8", "replace")),
    ],
)
def test_bad_input_is_compressed_or_passed_through_with_reason(label: str, output: str) -> None:
    result = headroom.compress(_messages(output))
    content = result.messages[-1]["content"]
    if content == output:
        assert result.errors == 0 or result.passthrough_reasons, label
    else:
        assert result.ccr_keys and headroom.retrieve(result.ccr_keys[0]) == output


def test_deep_nesting_reason_is_recorded() -> None:
    deep = "[" * 10_000 + "]" * 10_000
    result = headroom.compress(_messages(deep))
    assert result.messages[-1]["content"] == deep and result.passthrough_reasons


def test_fifty_megabyte_tool_output_is_handled() -> None:
    big = json.dumps(
        [{"id": i, "status": "ok" if i % 997 else "failed", "host": f"web-{i % 7}"} for i in range(1_050_000)]
    )
    assert len(big) > 50_000_000
    result = headroom.compress(
        _messages(big, "which hosts failed?"),
        config=HeadroomConfig(smart_crusher=SmartCrusherConfig(max_items_after_crush=30)),
    )
    kept = json.loads(result.messages[-1]["content"])
    assert sum(1 for k in kept if isinstance(k, dict) and k.get("status") == "failed") == 1_050_000 // 997 + 1
    assert result.tokens_after < result.tokens_before / 50


def test_unknown_roles_pass_through_with_a_note() -> None:
    messages = [*_messages(), {"role": "critic", "content": "x" * 5000}]
    result = headroom.compress(messages)
    assert result.messages[-1] == messages[-1]
    assert any("unknown role 'critic'" in r for r in result.passthrough_reasons)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"messages": "hello"}, "list of OpenAI-format"),
        ({"messages": [{"content": "no role"}]}, "no string 'role'"),
        ({"messages": [], "model": ""}, "model must be"),
        ({"messages": [], "mode": "fast"}, "audit"),
        ({"messages": [], "query": 42}, "query must be a string"),
    ],
)
def test_invalid_arguments_raise_clear_errors(kwargs: dict, match: str) -> None:
    with pytest.raises((InvalidArgumentError, headroom.ConfigurationError), match=match):
        headroom.compress(**kwargs)


def test_compression_failure_fails_open_and_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    from headroom import metrics
    from headroom.compressors import smart_crusher

    def boom(self: object, text: str, ctx: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(smart_crusher.SmartCrusher, "compress", boom)
    before = metrics.snapshot().get("errors.smart_crusher", 0)
    result = headroom.compress(_messages())
    assert result.messages == _messages() and result.errors == 1
    assert metrics.snapshot()["errors.smart_crusher"] == before + 1


def test_agent_loop_does_not_recrush_seen_outputs() -> None:
    messages = _messages()
    headroom.compress(messages)
    hits = result_cache.hits
    headroom.compress(
        [*messages, {"role": "assistant", "content": "Run 7 failed."}, {"role": "user", "content": "why?"}]
    )
    assert result_cache.hits == hits + 1
