"""OpenAI-format chat messages: validation, and access to the text Headroom may compress.

Messages are plain dicts (``role``, ``content``, ``tool_calls``, ``tool_call_id``, ``name``).
Content may be a string or a list of parts (``{"type": "text", "text": ...}``); Anthropic-style
``tool_result`` parts inside user messages are understood too.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from headroom.errors import InvalidArgumentError

__all__ = [
    "KNOWN_ROLES",
    "MAX_NESTING",
    "TextSlot",
    "copy_messages",
    "iter_text_slots",
    "last_user_index",
    "message_text",
    "question_for",
    "tool_name_of",
    "tool_names_by_call_id",
    "validate_messages",
]

KNOWN_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def validate_messages(messages: object) -> list[str]:
    """Check the caller's argument; return pass-through notes for oddities that are not errors.

    Raises InvalidArgumentError when ``messages`` is not a list of dicts with a ``role``.
    Unknown roles are not errors: those messages pass through untouched, noted in the result.
    """
    if isinstance(messages, (str, bytes)) or not isinstance(messages, list):
        raise InvalidArgumentError(
            f"messages must be a list of OpenAI-format message dicts, got {type(messages).__name__}"
        )
    notes: list[str] = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise InvalidArgumentError(
                f"messages[{i}] must be a dict with 'role' and 'content', got {type(m).__name__}"
            )
        role = m.get("role")
        if not isinstance(role, str):
            raise InvalidArgumentError(f"messages[{i}] has no string 'role' (got {role!r})")
        if role not in KNOWN_ROLES:
            notes.append(f"messages[{i}]: unknown role {role!r} passed through unchanged")
    return notes


MAX_NESTING = 100
"""How deeply a message may nest dicts and lists. Chat messages nest a few levels (content parts,
tool calls, a tool's JSON input); far deeper data, or data that contains itself, cannot be sent
as JSON and is refused with InvalidArgumentError before any work (it would otherwise exhaust
Python's recursion limit inside the pipeline)."""


def copy_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A deep copy, so the caller's list is never mutated.

    Dicts and lists are copied; strings, numbers and other immutable leaves are shared. Anything
    else (an SDK object a caller left in a message) goes through ``copy.deepcopy``. A message
    nested deeper than :data:`MAX_NESTING` levels, or containing itself, raises
    :class:`InvalidArgumentError` naming it.
    """
    out = []
    for i, message in enumerate(messages):
        try:
            out.append(_copy(message, MAX_NESTING))
        except (_TooDeep, RecursionError):
            raise InvalidArgumentError(_nesting_problem(i, message)) from None
    return out


class _TooDeep(Exception):
    pass


_LEAVES = frozenset({str, int, float, bool, bytes, tuple, type(None)})


def _copy(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind in _LEAVES:
        return value
    if depth <= 0:
        raise _TooDeep
    if isinstance(value, dict):
        return {k: _copy(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v, depth - 1) for v in value]
    if value is None or isinstance(value, (str, int, float, bool, bytes, tuple)):
        return value
    return copy.deepcopy(value)


def _nesting_problem(index: int, message: Any) -> str:
    """Why ``messages[index]`` cannot be copied: where it contains itself, or that it nests too deeply."""
    where = _self_reference(message)
    if where is not None:
        return (
            f"messages[{index}] contains itself (at messages[{index}]{where}); "
            "messages must be JSON-like data (dicts, lists, strings, numbers)"
        )
    return (
        f"messages[{index}] is nested more than {MAX_NESTING} levels deep; "
        f"Headroom accepts messages nested at most {MAX_NESTING} levels"
    )


def _self_reference(value: Any) -> str | None:
    """The path of the first dict or list inside ``value`` that is its own ancestor, else None.

    An iterative depth-first walk (the data may be nested too deeply to recurse), visiting each
    container once.
    """
    on_path: set[int] = set()
    done: set[int] = set()
    # (entering?, value, step from the parent, the parent's stack entry) - a parent chain builds the path.
    stack: list[tuple[bool, Any, Any, Any]] = [(True, value, None, None)]
    while stack:
        entry = stack.pop()
        entering, node, _step, _parent = entry
        if not entering:
            on_path.discard(id(node))
            done.add(id(node))
            continue
        if id(node) in on_path:
            steps = []
            while entry is not None and entry[2] is not None:
                steps.append(f"[{entry[2]!r}]")
                entry = entry[3]
            return "".join(reversed(steps[:20])) + ("..." if len(steps) > 20 else "")
        if id(node) in done:
            continue
        on_path.add(id(node))
        stack.append((False, node, None, None))
        children = node.items() if isinstance(node, dict) else enumerate(node)
        for step, child in children:
            if isinstance(child, (dict, list)):
                stack.append((True, child, step, entry))
    return None


def message_text(message: dict[str, Any]) -> str:
    """The plain text of a message's content (text parts joined by newlines)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    texts.append(part["text"])
                elif part.get("type") == "tool_result":
                    inner = part.get("content")
                    if isinstance(inner, str):
                        texts.append(inner)
                    elif isinstance(inner, list):
                        texts.extend(p["text"] for p in inner if isinstance(p, dict) and isinstance(p.get("text"), str))
            elif isinstance(part, str):
                texts.append(part)
        return "\n".join(texts)
    return ""


@dataclass
class TextSlot:
    """One compressible string inside a message, with a setter that writes the replacement back."""

    message_index: int
    text: str
    tool_name: str | None
    path: tuple[Any, ...]
    """Where the string sits inside the message dict, e.g. ("content",) or ("content", 2, "text")."""

    def write(self, message: dict[str, Any], value: str) -> None:
        target: Any = message
        for step in self.path[:-1]:
            target = target[step]
        target[self.path[-1]] = value


def tool_names_by_call_id(messages: list[dict[str, Any]]) -> dict[str, str]:
    """Map tool_call id -> tool (function) name from assistant messages (OpenAI and Anthropic styles)."""
    names: dict[str, str] = {}
    for m in messages:
        for call in m.get("tool_calls") or []:
            if isinstance(call, dict):
                fn = call.get("function") or {}
                name = fn.get("name") if isinstance(fn, dict) else None
                if call.get("id") and name:
                    names[str(call["id"])] = str(name)
        content = m.get("content")
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "tool_use" and part.get("id"):
                    names[str(part["id"])] = str(part.get("name", ""))
    return names


def iter_text_slots(messages: list[dict[str, Any]], roles: frozenset[str]) -> Iterator[TextSlot]:
    """Every compressible string of the messages whose role is in ``roles``."""
    names = tool_names_by_call_id(messages)
    for i, m in enumerate(messages):
        role = m.get("role")
        if role not in roles:
            continue
        tool_name = tool_name_of(m, names) if role in ("tool", "function") else None
        content = m.get("content")
        if isinstance(content, str):
            yield TextSlot(i, content, tool_name, ("content",))
        elif isinstance(content, list):
            for j, part in enumerate(content):
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "text" and isinstance(part.get("text"), str):
                    yield TextSlot(i, part["text"], tool_name, ("content", j, "text"))
                elif part.get("type") == "tool_result":
                    result_tool = names.get(str(part.get("tool_use_id", "")))
                    inner = part.get("content")
                    if isinstance(inner, str):
                        yield TextSlot(i, inner, result_tool, ("content", j, "content"))
                    elif isinstance(inner, list):
                        for k, sub in enumerate(inner):
                            if isinstance(sub, dict) and isinstance(sub.get("text"), str):
                                yield TextSlot(i, sub["text"], result_tool, ("content", j, "content", k, "text"))


def tool_name_of(message: dict[str, Any], names: dict[str, str]) -> str | None:
    """The tool a tool/function message answers: by its call id, else its own ``name`` when that is a string.

    A ``name`` of another type names no tool (no profile applies); the message is still compressed.
    """
    by_call = names.get(str(message.get("tool_call_id", "")))
    if by_call:
        return by_call
    name = message.get("name")
    return name if isinstance(name, str) and name else None


def _is_tool_result_only(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return (
        isinstance(content, list)
        and bool(content)
        and all(isinstance(p, dict) and p.get("type") == "tool_result" for p in content)
    )


def last_user_index(messages: list[dict[str, Any]]) -> int | None:
    """Index of the last user message that asks something (not an Anthropic tool-result carrier)."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "user" and not _is_tool_result_only(messages[i]):
            return i
    return None


def question_for(messages: list[dict[str, Any]], index: int) -> str:
    """The user question that led to ``messages[index]``: the nearest earlier asking user message."""
    for i in range(index - 1, -1, -1):
        m = messages[i]
        if m.get("role") == "user" and not _is_tool_result_only(m):
            return message_text(m)
    return ""
