"""The provider message-rule checks used to guard context fitting."""

from __future__ import annotations

from typing import Any

from headroom.conversation.validity import anthropic_problems, openai_problems

CALL = {"id": "c1", "type": "function", "function": {"name": "read_log", "arguments": "{}"}}


def _turn(result: bool = True) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"role": "user", "content": "Read the log."},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
    ]
    if result:
        out.append({"role": "tool", "tool_call_id": "c1", "content": "081109 203615 148 INFO dfs.DataNode"})
    return out


def test_a_paired_conversation_is_valid_for_both() -> None:
    messages = [{"role": "system", "content": "Be brief."}, *_turn(), {"role": "assistant", "content": "Done."}]
    assert openai_problems(messages) == [] and anthropic_problems(messages) == []


def test_tool_calls_without_results_are_flagged() -> None:
    messages = [*_turn(result=False), {"role": "user", "content": "Well?"}]
    assert openai_problems(messages) and anthropic_problems(messages)


def test_a_result_without_its_call_is_flagged() -> None:
    messages = [
        {"role": "user", "content": "Read the log."},
        {"role": "tool", "tool_call_id": "c1", "content": "lines"},
    ]
    assert openai_problems(messages)


def test_anthropic_needs_a_user_turn_first() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Hi."},
    ]
    assert openai_problems(messages) == [] and anthropic_problems(messages)


def test_anthropic_needs_alternation() -> None:
    messages = [
        {"role": "user", "content": "One."},
        {"role": "assistant", "content": "A."},
        {"role": "assistant", "content": "B."},
    ]
    assert anthropic_problems(messages)


def test_anthropic_rejects_system_messages_after_the_start() -> None:
    messages = [{"role": "user", "content": "One."}, {"role": "system", "content": "Late rule."}]
    assert anthropic_problems(messages)


def test_anthropic_tool_use_blocks_need_results_in_the_next_turn() -> None:
    use = {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "read_log", "input": {}}]}
    ok = [
        {"role": "user", "content": "Read."},
        use,
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "lines"}]},
    ]
    assert anthropic_problems(ok) == []
    assert anthropic_problems([{"role": "user", "content": "Read."}, use, {"role": "user", "content": "Well?"}])
