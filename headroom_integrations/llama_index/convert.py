"""LlamaIndex ``ChatMessage`` lists to OpenAI-format dicts and back, losing nothing.

Only text is handed to the core: a message's text blocks are joined into ``content``, tool
calls (``ToolCallBlock`` or ``additional_kwargs["tool_calls"]``) and ``tool_call_id`` ride along
so the core knows which tool produced each result. On the way back a message whose text did
not change is the caller's own object; a changed one is a copy whose text blocks are replaced by
one block with the new text, every other block (images, tool calls, thinking) and
``additional_kwargs`` kept in place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from headroom.messages import message_text
from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock, ToolCallBlock

__all__ = ["INDEX_KEY", "from_openai_messages", "message_text_of", "to_openai_messages"]

INDEX_KEY = "_headroom_index"
"""Private key carrying each dict's position in the input, so results map back to the originals."""

_ROLE_ALIASES = {"chatbot": "assistant", "model": "assistant"}


def message_text_of(message: ChatMessage) -> str:
    """The text of a message: its text blocks joined by newlines (what ``ChatMessage.content`` returns)."""
    return "\n".join(b.text for b in message.blocks if isinstance(b, TextBlock))


def _tool_calls(message: ChatMessage) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    for block in message.blocks:
        if isinstance(block, ToolCallBlock):
            args = (
                block.tool_kwargs if isinstance(block.tool_kwargs, str) else json.dumps(block.tool_kwargs, default=str)
            )
            calls.append(
                {
                    "id": block.tool_call_id or "",
                    "type": "function",
                    "function": {"name": block.tool_name, "arguments": args},
                }
            )
    for call in message.additional_kwargs.get("tool_calls") or []:
        data = call if isinstance(call, dict) else getattr(call, "model_dump", lambda: None)()
        if isinstance(data, dict):
            fn = data.get("function") or {}
            calls.append(
                {
                    "id": str(data.get("id", "")),
                    "type": "function",
                    "function": {"name": str(fn.get("name", "")), "arguments": str(fn.get("arguments", ""))},
                }
            )
    return calls


def to_openai_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """OpenAI-format dicts for the core, each tagged with its input position under :data:`INDEX_KEY`."""
    out: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        role = _ROLE_ALIASES.get(m.role.value, m.role.value)
        has_text = any(isinstance(b, TextBlock) for b in m.blocks)
        entry: dict[str, Any] = {"role": role, "content": message_text_of(m) if has_text else None, INDEX_KEY: i}
        calls = _tool_calls(m)
        if calls:
            entry["tool_calls"] = calls
        if role == "tool" and m.additional_kwargs.get("tool_call_id"):
            entry["tool_call_id"] = str(m.additional_kwargs["tool_call_id"])
        if m.additional_kwargs.get("name"):
            entry["name"] = str(m.additional_kwargs["name"])
        out.append(entry)
    return out


def _with_text(message: ChatMessage, text: str) -> ChatMessage:
    blocks: list[Any] = []
    placed = False
    for block in message.blocks:
        if isinstance(block, TextBlock):
            if not placed:
                blocks.append(TextBlock(text=text))
                placed = True
            continue
        blocks.append(block)
    if not placed:
        blocks.insert(0, TextBlock(text=text))
    return message.model_copy(update={"blocks": blocks})


def from_openai_messages(result: Sequence[dict[str, Any]], originals: Sequence[ChatMessage]) -> list[ChatMessage]:
    """The ChatMessages to send for the core's ``result``: originals where unchanged, copies where not.

    A dict without :data:`INDEX_KEY` (a marker the core inserted for dropped turns) becomes a new
    message of its role. Raises ValueError when the result cannot be mapped back (then the
    caller sends the originals).
    """
    tagged = [d for d in result if isinstance(d.get(INDEX_KEY), int)]
    if not tagged and len(result) != len(originals):
        raise ValueError("compressed messages lost their positions and changed in number")
    out: list[ChatMessage] = []
    for pos, d in enumerate(result):
        idx = d.get(INDEX_KEY)
        if not isinstance(idx, int):
            idx = pos if not tagged else None
        text = message_text(d)
        if idx is None:
            role = d.get("role", "user")
            out.append(
                ChatMessage(
                    role=MessageRole(role) if role in MessageRole._value2member_map_ else MessageRole.USER, content=text
                )
            )
            continue
        if not 0 <= idx < len(originals):
            raise ValueError(f"compressed message refers to input position {idx} of {len(originals)}")
        original = originals[idx]
        had_text = any(isinstance(b, TextBlock) for b in original.blocks)
        if (not had_text and not text) or text == message_text_of(original):
            out.append(original)
        else:
            out.append(_with_text(original, text))
    return out
