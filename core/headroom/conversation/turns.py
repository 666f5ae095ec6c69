"""The turn structure of a conversation: where turns start, which are recent, where requests were sent.

A turn starts at a user message that asks something (not an Anthropic-style message that only
carries tool results) and runs to the next one. An agent loop sends a request whenever the model
is to speak next: after a user message, or after the results of the model's tool calls.
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_tool_output", "is_tool_result_carrier", "kept_turns_start", "request_points", "turn_starts"]


def is_tool_result_carrier(message: dict[str, Any]) -> bool:
    """True for a user message that only carries ``tool_result`` parts (Anthropic's form of tool outputs)."""
    content = message.get("content")
    return (
        message.get("role") == "user"
        and isinstance(content, list)
        and bool(content)
        and all(isinstance(p, dict) and p.get("type") == "tool_result" for p in content)
    )


def is_tool_output(message: dict[str, Any]) -> bool:
    """True for a message holding tool results (OpenAI ``tool``/``function`` role or a tool-result carrier)."""
    return message.get("role") in ("tool", "function") or is_tool_result_carrier(message)


def turn_starts(messages: list[dict[str, Any]]) -> list[int]:
    """Indices of the user messages that ask something (each starts a turn)."""
    return [i for i, m in enumerate(messages) if m.get("role") == "user" and not is_tool_result_carrier(m)]


def kept_turns_start(messages: list[dict[str, Any]], keep_turns: int) -> int:
    """Index where the last ``keep_turns`` turns begin (``len(messages)`` when ``keep_turns`` is 0)."""
    if keep_turns <= 0:
        return len(messages)
    starts = turn_starts(messages)
    if not starts:
        return len(messages)
    return starts[-min(keep_turns, len(starts))]


def request_points(messages: list[dict[str, Any]]) -> list[int]:
    """Ends (exclusive) of the prefixes an agent loop sent as requests: where the model speaks next.

    A prefix ends at a user message or a tool result that the next message (an assistant reply)
    answers; the whole conversation is always the last point.
    """
    points = []
    n = len(messages)
    for i in range(n - 1):
        m = messages[i]
        if (m.get("role") == "user" or is_tool_output(m)) and messages[i + 1].get("role") == "assistant":
            points.append(i + 1)
    if n:
        points.append(n)
    return points
