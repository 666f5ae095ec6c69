"""LangChain messages to the core's OpenAI-format dicts and back, without losing what the core left alone.

The outgoing direction is ``langchain_core.messages.convert_to_openai_messages``. The way back
keeps every message the core did not change as the *same object* (ids, ``response_metadata``,
``usage_metadata``, provider-specific content blocks and tool calls untouched); a message whose
text the core rewrote is copied with only its content replaced; a message the core created
(for example a marker for dropped turns) is built with ``convert_to_messages``.

    >>> from langchain_core.messages import HumanMessage
    >>> msgs = [HumanMessage("hi", id="m1")]
    >>> dicts = to_openai_messages(msgs)
    >>> from_openai_messages(dicts, msgs)[0] is msgs[0]
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage, convert_to_messages, convert_to_openai_messages

__all__ = ["ORIGIN_KEY", "from_openai_messages", "strip_origin", "to_openai_messages"]

ORIGIN_KEY = "_headroom_origin"
"""Private key on each outgoing dict: (index of the LangChain message, part) it came from.

The core copies messages and rewrites only their text, so the key survives and tells the way
back which original a dict belongs to; the token counter ignores keys it does not know.
"""


def to_openai_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """OpenAI-format dicts of ``messages``, each tagged with the message it came from.

    One LangChain message may become several dicts (an Anthropic-style user message carrying
    ``tool_result`` blocks becomes OpenAI ``tool`` messages); all of them carry its index.
    """
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        converted = convert_to_openai_messages([message])
        for j, d in enumerate(converted):
            out.append({**d, ORIGIN_KEY: (i, j, len(converted))})
    return out


def strip_origin(message: dict[str, Any]) -> dict[str, Any]:
    """``message`` without the private origin key (what a provider would be sent)."""
    return {k: v for k, v in message.items() if k != ORIGIN_KEY}


def from_openai_messages(dicts: Sequence[dict[str, Any]], originals: Sequence[BaseMessage]) -> list[BaseMessage]:
    """LangChain messages for the core's output ``dicts``, reusing ``originals`` wherever possible."""
    reference = to_openai_messages(originals)
    by_origin: dict[int, list[dict[str, Any]]] = {}
    for d in reference:
        by_origin.setdefault(d[ORIGIN_KEY][0], []).append(d)

    result: list[BaseMessage] = []
    i = 0
    while i < len(dicts):
        d = dicts[i]
        origin: Any = d.get(ORIGIN_KEY)
        if not _valid_origin(origin, len(originals)):
            result.extend(convert_to_messages([strip_origin(d)]))
            i += 1
            continue
        index, _part, parts = origin
        group = [d]
        while len(group) < parts and i + len(group) < len(dicts):
            nxt: Any = dicts[i + len(group)].get(ORIGIN_KEY)
            if not _valid_origin(nxt, len(originals)) or nxt[0] != index:
                break
            group.append(dicts[i + len(group)])
        i += len(group)
        before = by_origin.get(index, [])
        if [strip_origin(g) for g in group] == [strip_origin(b) for b in before]:
            result.append(originals[index])
        elif len(group) == 1 and len(before) == 1:
            result.append(_with_new_content(originals[index], before[0], group[0]))
        else:
            result.extend(convert_to_messages([strip_origin(g) for g in group]))
    return result


def _valid_origin(origin: Any, count: int) -> bool:
    return (
        isinstance(origin, (tuple, list)) and len(origin) == 3 and isinstance(origin[0], int) and 0 <= origin[0] < count
    )


def _with_new_content(original: BaseMessage, before: dict[str, Any], after: dict[str, Any]) -> BaseMessage:
    """``original`` with the content the core wrote; unchanged content blocks keep their own format."""
    new = after.get("content")
    old = before.get("content")
    if new is None:
        new = ""
    if (
        isinstance(new, list)
        and isinstance(old, list)
        and isinstance(original.content, list)
        and (len(new) == len(old) == len(original.content))
    ):
        new = [orig if n == o else n for orig, n, o in zip(original.content, new, old)]
    return original.model_copy(update={"content": new})
