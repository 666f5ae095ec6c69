"""ChatMessage <-> OpenAI-format dict conversion: text goes to the core, every other part is kept."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, MessageRole, TextBlock, ToolCallBlock

from headroom_integrations.llama_index import from_openai_messages, to_openai_messages
from headroom_integrations.llama_index.convert import INDEX_KEY


def test_tool_calls_and_results_carry_ids_and_names() -> None:
    messages = [
        ChatMessage(role="user", content="Which run failed?"),
        ChatMessage(
            role="assistant", blocks=[ToolCallBlock(tool_call_id="c1", tool_name="runs", tool_kwargs={"n": 5})]
        ),
        ChatMessage(role="tool", content="[]", additional_kwargs={"tool_call_id": "c1", "name": "runs"}),
    ]

    dicts = to_openai_messages(messages)

    assert dicts[1]["tool_calls"] == [
        {"id": "c1", "type": "function", "function": {"name": "runs", "arguments": '{"n": 5}'}}
    ]
    assert dicts[1]["content"] is None
    assert dicts[2]["tool_call_id"] == "c1" and dicts[2]["name"] == "runs"
    assert [d[INDEX_KEY] for d in dicts] == [0, 1, 2]


def test_openai_style_tool_calls_in_additional_kwargs_are_understood() -> None:
    call = {"id": "c9", "type": "function", "function": {"name": "search", "arguments": "{}"}}
    message = ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": [call]})

    assert to_openai_messages([message])[0]["tool_calls"] == [call]


def test_unchanged_text_maps_back_to_the_same_objects() -> None:
    messages = [ChatMessage(role="user", content="a"), ChatMessage(role="assistant", content="b")]

    assert all(
        a is b for a, b in zip(from_openai_messages(to_openai_messages(messages), messages), messages, strict=True)
    )


def test_changed_text_replaces_the_text_blocks_and_keeps_the_rest() -> None:
    image = ImageBlock(url="https://example.invalid/x.png")
    original = ChatMessage(
        role=MessageRole.TOOL,
        blocks=[TextBlock(text="first"), image, TextBlock(text="second")],
        additional_kwargs={"tool_call_id": "c1"},
    )
    dicts = to_openai_messages([original])
    dicts[0]["content"] = "compressed"

    back = from_openai_messages(dicts, [original])[0]

    assert back is not original
    assert [type(b).__name__ for b in back.blocks] == ["TextBlock", "ImageBlock"]
    assert back.content == "compressed" and back.additional_kwargs == {"tool_call_id": "c1"}
    assert original.content == "first\nsecond"  # the caller's message is untouched


def test_markers_inserted_by_the_core_become_new_messages() -> None:
    messages = [ChatMessage(role="user", content="old"), ChatMessage(role="user", content="new")]
    dicts = to_openai_messages(messages)
    result = [{"role": "user", "content": "[headroom: 1 earlier turn dropped]"}, dicts[1]]

    back = from_openai_messages(result, messages)

    assert back[0].content == "[headroom: 1 earlier turn dropped]" and back[1] is messages[1]


def test_untagged_result_of_another_length_is_refused() -> None:
    messages = [ChatMessage(role="user", content="a"), ChatMessage(role="user", content="b")]

    with pytest.raises(ValueError, match="lost their positions"):
        from_openai_messages([{"role": "user", "content": "a"}], messages)
