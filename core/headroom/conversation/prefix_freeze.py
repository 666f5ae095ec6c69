"""Cache mode: the compressed form of a message, once sent, is sent again byte for byte.

Provider prefix caches only hit when the start of a request is byte-identical to an earlier one.
Content compression is deterministic, but a few things may still change the form of an earlier
message between two requests: a ``query`` override, a changed tool profile, retrieval feedback
gathered since. Cache mode therefore remembers, per conversation, the digests of the caller's
messages and the compressed form the content stage gave each of them, and on the next request
replays those forms for the leading messages that are unchanged; only the new messages are
compressed. Context fitting runs afterwards on the whole conversation and is itself deterministic
(see :mod:`headroom.conversation.fitting`), so between two compactions it rewrites nothing.

State per conversation lives in process memory (an LRU bounded by
``PrefixFreezeConfig.max_sessions``). Another process that shares the store computes the same
forms from the same content, so the bytes agree across processes as well.

Leading system messages are compared without their dynamic tail (see CacheAligner) and are always
taken from the current request, so a new timestamp in the system prompt does not unfreeze the
conversation after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from headroom.config import PrefixFreezeConfig
from headroom.conversation.session import SessionMemory, message_digest
from headroom.messages import copy_messages

__all__ = ["FrozenPrefix", "forget_sessions", "input_digests", "lookup", "remember", "replay"]


@dataclass(frozen=True)
class FrozenPrefix:
    """The leading input messages whose compressed form an earlier request fixed."""

    input_count: int = 0
    """How many leading input messages are covered."""
    messages: list[dict[str, Any]] = field(default_factory=list)
    """Their forms as the content stage gave them then (one per input message)."""


@dataclass(frozen=True)
class _State:
    digests: tuple[str, ...]
    forms: list[dict[str, Any]]


_memory: SessionMemory[_State] = SessionMemory(1024)


def forget_sessions() -> None:
    """Forget every conversation (a test or benchmark starting clean)."""
    _memory.clear()


def _leading_system(messages: list[dict[str, Any]]) -> int:
    n = 0
    for m in messages:
        if m.get("role") not in ("system", "developer"):
            break
        n += 1
    return n


def input_digests(
    messages: list[dict[str, Any]], system_head: Callable[[dict[str, Any]], dict[str, Any]] | None = None
) -> tuple[str, ...]:
    """Digests of the caller's messages; leading system messages through ``system_head`` when given."""
    lead = _leading_system(messages)
    return tuple(
        message_digest(system_head(m) if system_head is not None and i < lead else m) for i, m in enumerate(messages)
    )


def lookup(digests: tuple[str, ...], *, session_key: str, config: PrefixFreezeConfig) -> FrozenPrefix:
    """The frozen prefix of a request whose messages have these ``digests``."""
    state = _memory.get(session_key)
    if state is None:
        return FrozenPrefix()
    common = 0
    for a, b in zip(state.digests, digests):
        if a != b:
            break
        common += 1
    if common < max(config.min_frozen_messages, 1):
        return FrozenPrefix()
    return FrozenPrefix(common, copy_messages(state.forms[:common]))


def replay(work: list[dict[str, Any]], frozen: FrozenPrefix) -> list[dict[str, Any]]:
    """``work`` with its first ``frozen.input_count`` messages replaced by their remembered forms.

    Leading system messages stay those of ``work`` (their head is what was compared).
    """
    if not frozen.input_count:
        return work
    lead = min(_leading_system(work), frozen.input_count)
    return work[:lead] + frozen.messages[lead:] + work[frozen.input_count :]


def remember(
    digests: tuple[str, ...], forms: list[dict[str, Any]], *, session_key: str, config: PrefixFreezeConfig
) -> None:
    """Record the compressed ``forms`` of the input messages with these ``digests`` (one form per message)."""
    if len(forms) != len(digests):
        return  # an extension changed the number of messages: nothing corresponds one to one
    _memory.put(session_key, _State(digests, copy_messages(forms)), max_sessions=config.max_sessions)
