"""Conversation identity and bounded per-conversation memory.

Cache mode and the cache-hit estimate both compare a request with the previous request of the
same conversation. The caller may name the conversation (``session_id``); otherwise it is
derived from the messages that never change as a conversation grows: the system prompt and the
first user message.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any, Generic, TypeVar

__all__ = ["SessionMemory", "derive_session_id", "message_digest"]

T = TypeVar("T")


def message_digest(message: dict[str, Any], *, ignore_cache_control: bool = True) -> str:
    """A stable hash of one message's bytes as sent (key order normalised).

    ``cache_control`` markers are ignored by default: they are placement hints that move as a
    conversation grows, not part of the content a provider matches for its prefix cache.
    """
    data = _without_cache_control(message) if ignore_cache_control else message
    h = hashlib.blake2b(digest_size=16)
    content = data.get("content") if isinstance(data, dict) else None
    if isinstance(content, str):
        # A long text is hashed as it is, not JSON-escaped first (JSON text never holds a raw NUL,
        # so the separator cannot be forged by the other fields).
        rest = {k: v for k, v in data.items() if k != "content"}
        h.update(_canonical_json(rest).encode("utf-8", "surrogatepass"))
        h.update(b"\0content\0")
        h.update(content.encode("utf-8", "surrogatepass"))
    else:
        h.update(_canonical_json(data).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _canonical_json(value: Any) -> str:
    """``value`` as JSON with sorted keys; keys that are not strings are written as ``"<type>:<repr>"``.

    JSON cannot sort a dict whose keys mix types (``{1: "a", "b": 2}``), nor write a tuple key;
    such dicts are hashed through that spelling instead of failing.
    """
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    except TypeError:
        return json.dumps(_string_keys(value), sort_keys=True, ensure_ascii=False, default=str)


def _string_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {(k if isinstance(k, str) else f"<{type(k).__name__}>:{k!r}"): _string_keys(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_string_keys(v) for v in value]
    return value


def _without_cache_control(value: Any) -> Any:
    """``value`` without cache marks; a content list of one text block reads as its string (the same prompt)."""
    if isinstance(value, dict):
        out = {k: _without_cache_control(v) for k, v in value.items() if k != "cache_control"}
        content = out.get("content")
        if (
            isinstance(content, list)
            and len(content) == 1
            and isinstance(content[0], dict)
            and content[0].keys() == {"type", "text"}
            and content[0]["type"] == "text"
        ):
            out["content"] = content[0]["text"]
        return out
    if isinstance(value, list):
        return [_without_cache_control(v) for v in value]
    return value


def derive_session_id(messages: list[dict[str, Any]], session_id: str | None = None) -> str:
    """``session_id`` when given, else a hash of the leading system messages and the first user message.

    Two requests of one growing conversation share those messages, so they get the same id;
    two conversations that start with different questions get different ids.
    """
    if session_id:
        return str(session_id)
    h = hashlib.blake2b(digest_size=12)
    for m in messages:
        h.update(message_digest(m).encode())
        if m.get("role") == "user":
            break
    return "derived:" + h.hexdigest()


class SessionMemory(Generic[T]):
    """A thread-safe LRU of per-conversation state, forgetting the least recently used beyond ``max_sessions``."""

    def __init__(self, max_sessions: int) -> None:
        self._data: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()
        self.max_sessions = max_sessions

    def get(self, key: str) -> T | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: str, value: T, *, max_sessions: int | None = None) -> None:
        with self._lock:
            if max_sessions is not None:
                self.max_sessions = max_sessions
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_sessions:
                self._data.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._data
