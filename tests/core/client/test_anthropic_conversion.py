"""AnthropicProvider's conversion between the Messages API and the OpenAI-format dicts of the pipeline."""

from __future__ import annotations

import json
from typing import Any

import anthropic
from anthropic.types import Message
from headroom.config import HeadroomConfig
from headroom.providers import AnthropicProvider
from headroom.providers.base import ProviderUsage

from tests.core.client.shared import TOOLS_ANTHROPIC

PROVIDER = AnthropicProvider()
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
THINKING = {"type": "thinking", "thinking": "The runs list is long.", "signature": "sig-1"}


def _conversation(runs_json: str) -> dict[str, Any]:
    return {
        "model": "claude-haiku-4-5",
        "max_tokens": 500,
        "system": [{"type": "text", "text": "You answer questions about CI.", "cache_control": {"type": "ephemeral"}}],
        "tools": TOOLS_ANTHROPIC,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Why did this run fail?"}, IMAGE]},
            {"role": "assistant", "content": [
                THINKING,
                {"type": "text", "text": "Listing runs."},
                {"type": "tool_use", "id": "toolu_a", "name": "list_workflow_runs", "input": {"repo": "r"}},
                {"type": "tool_use", "id": "toolu_b", "name": "list_workflow_runs", "input": {"repo": "s"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": runs_json},
                {"type": "tool_result", "tool_use_id": "toolu_b", "content": "not found", "is_error": True},
                {"type": "text", "text": "Also check the other repo."},
            ]},
            {"role": "assistant", "content": "Run 3519037359 failed."},
            {"role": "user", "content": "Thanks, and which branch?"},
        ],
    }  # fmt: skip


def test_round_trip_of_an_unchanged_conversation_is_identity(workflow_runs: list[dict[str, Any]]) -> None:
    request = _conversation(json.dumps(workflow_runs[:3]))
    core = PROVIDER.to_core_messages(request)
    assert PROVIDER.with_core_messages(request, core) == request


def test_tool_use_and_tool_result_become_openai_tool_calls_and_tool_messages(
    workflow_runs: list[dict[str, Any]],
) -> None:
    core = PROVIDER.to_core_messages(_conversation(json.dumps(workflow_runs[:3])))
    assert [m["role"] for m in core] == ["system", "user", "assistant", "tool", "tool", "user", "assistant", "user"]
    assert [c["id"] for c in core[2]["tool_calls"]] == ["toolu_a", "toolu_b"]
    assert json.loads(core[2]["tool_calls"][1]["function"]["arguments"]) == {"repo": "s"}
    assert core[3]["tool_call_id"] == "toolu_a" and core[3]["content"] == json.dumps(workflow_runs[:3])
    assert core[4]["is_error"] is True
    assert core[5]["content"] == [{"type": "text", "text": "Also check the other repo."}]


def test_compressed_tool_result_is_written_back_into_its_block(workflow_runs: list[dict[str, Any]]) -> None:
    request = _conversation(json.dumps(workflow_runs))
    core = PROVIDER.to_core_messages(request)
    core[3]["content"] = json.dumps(workflow_runs[:2])  # what a compressor would do
    back = PROVIDER.with_core_messages(request, core)
    assert back["messages"][2]["content"][0] == {
        "type": "tool_result", "tool_use_id": "toolu_a", "content": json.dumps(workflow_runs[:2])
    }  # fmt: skip
    assert back["messages"][2]["content"][1:] == request["messages"][2]["content"][1:]


def test_sdk_response_objects_in_the_history_are_converted() -> None:
    reply = Message.model_validate({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
        "content": [{"type": "tool_use", "id": "toolu_z", "name": "list_workflow_runs", "input": {"repo": "r"}}],
        "stop_reason": "tool_use", "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 5},
    })  # fmt: skip
    request = {"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": "runs?"},
        {"role": "assistant", "content": reply.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_z", "content": "[]"}]},
    ]}  # fmt: skip
    core = PROVIDER.to_core_messages(request)
    assert core[1]["tool_calls"][0]["id"] == "toolu_z"
    back = PROVIDER.with_core_messages(request, core)
    assert back["messages"][1]["content"] == [
        {"type": "tool_use", "id": "toolu_z", "name": "list_workflow_runs", "input": {"repo": "r"}}
    ]


def test_message_level_cache_mark_moves_to_the_last_block() -> None:
    request = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hello"}]}
    core = PROVIDER.to_core_messages(request)
    core[0]["cache_control"] = {"type": "ephemeral"}
    back = PROVIDER.with_core_messages(request, core)
    assert back["messages"][0]["content"] == [{"type": "text", "text": "hello", "cache_control": {"type": "ephemeral"}}]


def _big_tools(workflow_runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Tool schemas whose properties are the real fields of a workflow run (about 1.5k tokens in all).
    fields = {
        k: {"type": "string", "description": f"{k} of the run, e.g. {str(v)[:60]}"} for k, v in workflow_runs[0].items()
    }
    return [{"name": f"filter_runs_{i}", "description": "Filter workflow runs by field.",
             "input_schema": {"type": "object", "properties": fields}} for i in range(3)]  # fmt: skip


def test_cache_hint_marks_the_prefix_when_tools_are_large(workflow_runs: list[dict[str, Any]]) -> None:
    request = {"model": "claude-haiku-4-5", "max_tokens": 5, "system": "Be brief.", "tools": _big_tools(workflow_runs),
               "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    hinted, hints = PROVIDER.apply_cache_hints(request, HeadroomConfig())
    assert hints == ["anthropic:cache_control:system"]
    assert hinted["system"] == [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    assert "cache_control" not in json.dumps(request)  # the caller's request is not mutated


def test_cache_hint_marks_the_last_tool_when_there_is_no_system(workflow_runs: list[dict[str, Any]]) -> None:
    tools = _big_tools(workflow_runs)
    request = {
        "model": "claude-haiku-4-5",
        "max_tokens": 5,
        "tools": tools,
        "messages": [{"role": "user", "content": "hi"}],
    }
    hinted, hints = PROVIDER.apply_cache_hints(request, HeadroomConfig())
    assert hints == ["anthropic:cache_control:tools"]
    assert hinted["tools"][-1]["cache_control"] == {"type": "ephemeral"} and hinted["tools"][:-1] == tools[:-1]


def test_no_cache_hint_for_a_small_prefix_or_without_spare_breakpoints(workflow_runs: list[dict[str, Any]]) -> None:
    small = {
        "model": "claude-haiku-4-5",
        "max_tokens": 5,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert PROVIDER.apply_cache_hints(small, HeadroomConfig()) == (small, [])
    mark = {"type": "ephemeral"}
    full = {**small, "tools": _big_tools(workflow_runs),
            "messages": [{"role": "user", "content": [{"type": "text", "text": str(i), "cache_control": mark}
                                                      for i in range(4)]}]}  # fmt: skip
    assert PROVIDER.apply_cache_hints(full, HeadroomConfig()) == (full, [])


def test_usage_counts_cache_reads_and_writes_as_input() -> None:
    usage = anthropic.types.Usage(
        input_tokens=10, output_tokens=3, cache_read_input_tokens=100, cache_creation_input_tokens=20
    )
    assert AnthropicProvider.usage_from(usage) == ProviderUsage(130, 3, cached_tokens=100, cache_creation_tokens=20)


def test_separate_user_turns_after_tool_results_stay_separate() -> None:
    use = {"type": "tool_use", "id": "toolu_1", "name": "list_workflow_runs", "input": {}}
    request = {"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": "runs?"},
        {"role": "assistant", "content": [use]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "[]"}]},
        {"role": "user", "content": [{"type": "text", "text": "and the failed one?"}]},
    ]}  # fmt: skip
    core = PROVIDER.to_core_messages(request)
    assert PROVIDER.with_core_messages(request, core) == request
    assert PROVIDER.with_core_messages(request, [dict(m) for m in core]) == request
