"""The message-order rules of the OpenAI and Anthropic chat APIs, as checks.

Context fitting must never send a request a provider rejects. These functions list what would
be rejected (an empty list means valid); fitting checks its own output with them and falls back
to its input when it broke a rule the input kept.

OpenAI: every assistant ``tool_calls`` message is directly followed by one ``tool`` message per
call id, and every ``tool`` message answers a call of the assistant message right before its run.
Anthropic (OpenAI-format messages as adapters translate them: ``tool`` messages become a user
turn of ``tool_result`` blocks): system messages only at the start, the first turn is a user
turn, user and assistant turns alternate, and ``tool_use`` blocks are answered in the next turn.
"""

from __future__ import annotations

import itertools
from typing import Any

__all__ = ["anthropic_problems", "openai_problems"]

_SYSTEM = ("system", "developer")


def _call_ids(message: dict[str, Any]) -> list[str]:
    ids = [str(c.get("id")) for c in message.get("tool_calls") or [] if isinstance(c, dict)]
    content = message.get("content")
    if isinstance(content, list):
        ids += [str(p.get("id")) for p in content if isinstance(p, dict) and p.get("type") == "tool_use"]
    return ids


def _result_ids(message: dict[str, Any]) -> list[str]:
    if message.get("role") in ("tool", "function"):
        return [str(message.get("tool_call_id"))]
    content = message.get("content")
    if message.get("role") == "user" and isinstance(content, list):
        return [str(p.get("tool_use_id")) for p in content if isinstance(p, dict) and p.get("type") == "tool_result"]
    return []


def openai_problems(messages: list[dict[str, Any]]) -> list[str]:
    """Tool-call pairing problems under the OpenAI rules (empty when the list is valid)."""
    problems: list[str] = []
    i = 0
    while i < len(messages):
        m = messages[i]
        calls = [str(c.get("id")) for c in m.get("tool_calls") or [] if isinstance(c, dict)]
        if m.get("role") == "assistant" and calls:
            j = i + 1
            answered: list[str] = []
            while j < len(messages) and messages[j].get("role") in ("tool", "function"):
                answered.append(str(messages[j].get("tool_call_id")))
                j += 1
            missing = [c for c in calls if c not in answered]
            extra = [a for a in answered if a not in calls]
            if missing:
                problems.append(f"messages[{i}]: tool_calls {missing} have no tool message right after")
            if extra:
                problems.append(f"messages[{i + 1}..{j - 1}]: tool results {extra} answer no call of messages[{i}]")
            i = j
            continue
        if m.get("role") in ("tool", "function"):
            problems.append(f"messages[{i}]: tool result {m.get('tool_call_id')!r} does not follow its tool_calls")
        i += 1
    return problems


def anthropic_problems(messages: list[dict[str, Any]]) -> list[str]:
    """Problems under the Anthropic rules (empty when the list is valid); includes tool pairing."""
    problems: list[str] = []
    turns: list[tuple[str, int, bool]] = []  # (role, first index, carries tool results only)
    seen_conversation = False
    for i, m in enumerate(messages):
        role = m.get("role")
        if role in _SYSTEM:
            if seen_conversation:
                problems.append(f"messages[{i}]: system message after the conversation started")
            continue
        seen_conversation = True
        results = _result_ids(m)
        as_role = "user" if role in ("tool", "function") else str(role)
        if turns and turns[-1][0] == as_role and as_role == "user" and results and turns[-1][2]:
            continue  # consecutive tool results form one user turn
        turns.append((as_role, i, bool(results) and as_role == "user"))
    if turns and turns[0][0] != "user":
        problems.append(f"messages[{turns[0][1]}]: the first turn must be a user turn, got {turns[0][0]!r}")
    for (prev_role, _, _), (role, index, _) in itertools.pairwise(turns):
        if role == prev_role:
            problems.append(f"messages[{index}]: two {role} turns in a row")
    problems.extend(_tool_use_pairing(messages))
    return problems


def _tool_use_pairing(messages: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    pending: list[str] = []
    pending_at = -1
    for i, m in enumerate(messages):
        if m.get("role") in _SYSTEM:
            continue
        results = _result_ids(m)
        if pending:
            if results:
                pending = [p for p in pending if p not in results]
                if not pending:
                    pending_at = -1
                continue
            problems.append(f"messages[{pending_at}]: tool calls {pending} not answered before messages[{i}]")
            pending = []
        elif results:
            problems.append(f"messages[{i}]: tool results {results} follow no tool call")
        if m.get("role") == "assistant":
            pending = _call_ids(m)
            pending_at = i
    if pending:
        problems.append(f"messages[{pending_at}]: tool calls {pending} never answered")
    return problems
