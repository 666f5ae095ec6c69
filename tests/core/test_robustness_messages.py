"""Odd messages get a clear InvalidArgumentError or a documented pass-through, never a crash (issue 12, item 5)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import headroom
import pytest
from headroom.conversation.session import derive_session_id, message_digest
from headroom.errors import InvalidArgumentError
from headroom.messages import MAX_NESTING, copy_messages, iter_text_slots

RUNS = "PullRequest2408.test_get_workflow_runs.85.json"


@pytest.fixture(scope="module")
def runs_text(samples_dir: Path) -> str:
    return json.dumps(json.loads((samples_dir / "json" / RUNS).read_text())["body"])


def _tool_call(runs_text: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "Which workflow run failed?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "list_runs", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": runs_text},
    ]


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": "x"}
    for _ in range(depth):
        value = {"x": value}
    return value


def test_a_message_nested_ten_thousand_deep_is_refused_by_name(runs_text: str) -> None:
    messages = _tool_call(runs_text)
    messages[0]["metadata"] = _nested(10_000)
    with pytest.raises(InvalidArgumentError, match=rf"messages\[0\] is nested more than {MAX_NESTING} levels"):
        headroom.compress(messages)


def test_a_message_that_contains_itself_is_refused_with_where(runs_text: str) -> None:
    messages = _tool_call(runs_text)
    messages[1]["tool_calls"][0]["self"] = messages[1]
    with pytest.raises(
        InvalidArgumentError, match=r"messages\[1\] contains itself \(at messages\[1\]\['tool_calls'\]\[0\]\['self'\]\)"
    ):
        headroom.compress(messages)


def test_shared_but_acyclic_parts_are_not_called_self_containing() -> None:
    shared = {"type": "text", "text": "same part twice"}
    deep = _nested(MAX_NESTING + 5)
    with pytest.raises(InvalidArgumentError, match="nested more than"):
        copy_messages([{"role": "user", "content": [shared, shared], "extra": deep}])


def test_nesting_within_the_limit_is_copied_not_shared() -> None:
    message = {"role": "user", "content": "hi", "metadata": _nested(MAX_NESTING - 2)}
    copied = copy_messages([message])[0]
    assert copied == message and copied["metadata"] is not message["metadata"]


def test_a_non_string_dict_key_is_hashed_not_raised(runs_text: str) -> None:
    messages = _tool_call(runs_text)
    messages[0][1] = "an int key beside string keys"
    messages[0]["extra"] = {("a", 1): "tuple key", 2.5: "float key", "b": 1}
    before = copy.deepcopy(messages)
    result = headroom.compress(messages)
    assert result.transforms_applied == ("smart_crusher:lossy",)
    assert messages == before


def test_digests_with_non_string_keys_are_stable_and_tell_messages_apart() -> None:
    a = {"role": "user", "content": "hi", 1: "x"}
    b = {"role": "user", "content": "hi", 1: "y"}
    assert message_digest(a) == message_digest(dict(reversed(list(a.items()))))
    assert message_digest(a) != message_digest(b)
    assert derive_session_id([a]) != derive_session_id([b])


@pytest.mark.parametrize("name", [5, ["list_runs"], {"tool": "list_runs"}, None])
def test_a_non_string_name_does_not_turn_off_compression(runs_text: str, name: Any) -> None:
    messages = _tool_call(runs_text)
    messages[2]["tool_call_id"] = "unmatched"  # the name is all there is to go by
    messages[2]["name"] = name
    result = headroom.compress(messages)
    assert result.transforms_applied == ("smart_crusher:lossy",)
    assert not any("stage skipped" in r for r in result.passthrough_reasons)


def test_a_non_string_name_names_no_tool() -> None:
    messages = [{"role": "tool", "tool_call_id": "x", "name": 7, "content": "output"}]
    assert [s.tool_name for s in iter_text_slots(messages, frozenset({"tool"}))] == [None]
