"""Helpers of the long-session tests: what a request shows of the records its questions named, and retrievability."""

from __future__ import annotations

import json
import re
from typing import Any

from headroom.ccr.store import CCRStore
from headroom.session_bench import SessionTurn

_KEY = re.compile(r"hr_[0-9a-f]{16}")


def tool_text(messages: list[dict[str, Any]]) -> str:
    """Everything the tool messages of a request hold (outputs, compressed forms, digests, markers)."""
    return "\n".join(m["content"] for m in messages if m.get("role") == "tool" and isinstance(m.get("content"), str))


def visible_needles(session: list[SessionTurn], messages: list[dict[str, Any]]) -> dict[int, list[bool]]:
    """Per turn: is each record its question named still shown by a tool message of the request?"""
    text = tool_text(messages)
    return {t: [needle in text for needle in turn.needles] for t, turn in enumerate(session)}


def _restores(store: CCRStore, keys: list[str], original: str) -> bool:
    contents = []
    for key in keys:
        try:
            contents.append(store.get(key, record_retrieval=False))
        except Exception:
            contents.append(None)
    if original in contents:
        return True
    return None not in contents and "".join(c for c in contents if c is not None) == original


def unretrievable_outputs(request: list[dict[str, Any]], sent: list[dict[str, Any]], store: CCRStore) -> list[str]:
    """Tool outputs of ``request`` that ``sent`` neither holds verbatim nor names a key that gives them back."""
    by_call = {m["tool_call_id"]: m["content"] for m in sent if m.get("role") == "tool"}
    dropped: dict[str, str] = {}
    for m in sent:
        content = m.get("content")
        if m.get("role") == "assistant" and isinstance(content, str) and "earlier messages" in content:
            for key in _KEY.findall(content):
                for old in json.loads(store.get(key, record_retrieval=False)):
                    if old.get("role") == "tool":
                        dropped[old["tool_call_id"]] = old["content"]
    missing = []
    for m in request:
        if m.get("role") != "tool":
            continue
        call, original = m["tool_call_id"], m["content"]
        if call in by_call:
            shown = by_call[call]
            if shown == original or _restores(store, _KEY.findall(shown), original):
                continue
        elif dropped.get(call) == original:
            continue
        missing.append(call)
    return missing
