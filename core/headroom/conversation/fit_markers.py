"""The texts context fitting leaves where it removed something: what was there and how to get it back.

Every marker names what it stands for (a tool's output, earlier turns) and the CCR key(s) that
return the original with ``headroom_retrieve``; when CCR is off it says the content is not
retrievable. An original larger than ``ccr.max_entry_bytes`` is stored in parts, each under its
own key, and the marker lists them in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from headroom.ccr.store import ccr_key
from headroom.conversation.turns import is_tool_result_carrier

__all__ = [
    "DROP_KEY_PLACEHOLDER",
    "MARKER_PREFIX",
    "chunk_for_store",
    "drop_marker",
    "dropped_counts",
    "elision_marker",
    "is_fitting_marker",
    "keys_for",
    "retrieval_sentence",
]

MARKER_PREFIX = "[headroom: "
DROP_KEY_PLACEHOLDER = "hr_0000000000000000"
"""A key of the same length as a real one, for sizing a drop marker before its key is known."""


def chunk_for_store(content: str, max_bytes: int | None) -> list[str]:
    """``content`` cut into pieces of at most ``max_bytes`` UTF-8 bytes (one piece when it fits or no limit).

    Pieces are cut at character boundaries, so each decodes on its own and they concatenate back
    to ``content`` exactly.
    """
    if max_bytes is None or len(content.encode("utf-8", "surrogatepass")) <= max_bytes:
        return [content]
    pieces: list[str] = []
    start = 0
    # A character is at most 4 bytes: max_bytes // 4 characters always fit; grow while they do.
    step = max(1, max_bytes // 4)
    while start < len(content):
        end = min(len(content), start + step)
        while end < len(content):
            wider = min(len(content), end + step)
            if len(content[start:wider].encode("utf-8", "surrogatepass")) > max_bytes:
                break
            end = wider
        pieces.append(content[start:end])
        start = end
    return pieces


def retrieval_sentence(keys: Sequence[str], *, them: bool = False) -> str:
    """How to get the original back: one key, several parts, or not at all (CCR off)."""
    it = "them" if them else "it"
    if not keys:
        return f"{it} {'are' if them else 'is'} not retrievable (CCR is disabled)."
    if len(keys) == 1:
        return f'retrieve {it} with headroom_retrieve(key="{keys[0]}") if needed.'
    listed = ", ".join(f'"{k}"' for k in keys)
    return (
        f"retrieve {it} in {len(keys)} parts with headroom_retrieve for each of the keys {listed} "
        "(in this order; the parts concatenate to the original)."
    )


def keys_for(content: str, max_bytes: int | None) -> list[str]:
    """The CCR keys ``content`` is stored under (several when it exceeds ``max_bytes``)."""
    return [ccr_key(piece) for piece in chunk_for_store(content, max_bytes)]


def elision_marker(what: str, tokens: int, keys: Sequence[str]) -> str:
    """The text that replaces a tool output removed whole."""
    return f"{MARKER_PREFIX}this {what} ({tokens:,} tokens) was removed to fit the context window; {retrieval_sentence(keys)}]"


def drop_marker(messages: int, turns: int, calls: int, keys: Sequence[str]) -> str:
    """The text of the assistant message that stands in for dropped turns."""
    detail = []
    if turns:
        detail.append(f"{turns} user turn{'s' if turns != 1 else ''}")
    if calls:
        detail.append(f"{calls} tool call{'s' if calls != 1 else ''} with their results")
    counted = f"{messages} earlier messages" + (f" ({', '.join(detail)})" if detail else "")
    return f"{MARKER_PREFIX}{counted} were removed to fit the context window; {retrieval_sentence(keys, them=True)}]"


def is_fitting_marker(message: dict[str, Any]) -> bool:
    """True for the marker message that stands in for dropped turns."""
    content = message.get("content")
    return (
        message.get("role") == "assistant"
        and isinstance(content, str)
        and content.startswith(MARKER_PREFIX)
        and "removed to fit the context window" in content
    )


def dropped_counts(message: dict[str, Any]) -> tuple[int, int]:
    """(user turns, tool calls) one dropped message contributes to a drop marker."""
    turns = int(message.get("role") == "user" and not is_tool_result_carrier(message))
    calls = len(message.get("tool_calls") or [])
    return turns, calls
