"""Cache mode: what an earlier request of a conversation sent is sent again, byte for byte.

Provider prefix caches only hit when the start of a request is byte-identical to an earlier one.
Token mode re-compresses the whole history on every request (and may rewrite earlier turns as the
conversation grows); cache mode instead remembers, per conversation, which input messages
produced which sent messages, and on the next request replays the sent messages for the input
prefix it has seen, so only the new messages are compressed.

State per conversation (an LRU bounded by ``PrefixFreezeConfig.max_sessions``): the digests of
the caller's messages of the last request, the messages sent for them, and the boundaries
``(input messages, sent messages)`` at which the two correspond (one per earlier request whose
output is still a prefix of the latest one). A request that edits history freezes only up to
the last boundary before the edit.

Leading system messages are compared without their dynamic tail (see CacheAligner) and are
always taken from the current request, so a new timestamp in the system prompt does not unfreeze
the conversation after it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from headroom.config import PrefixFreezeConfig
from headroom.conversation.session import SessionMemory, message_digest

__all__ = ["FrozenPrefix", "forget_sessions", "input_digests", "lookup", "remember", "replay"]


@dataclass(frozen=True)
class FrozenPrefix:
    """The part of a request that an earlier request already sent."""

    input_count: int = 0
    """How many leading input messages are covered."""
    messages: list[dict[str, Any]] = field(default_factory=list)
    """What was sent for them (replayed as is)."""


@dataclass(frozen=True)
class _State:
    digests: tuple[str, ...]
    sent: list[dict[str, Any]]
    boundaries: tuple[tuple[int, int], ...]


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
    usable = [b for b in state.boundaries if b[0] <= common]
    if not usable:
        return FrozenPrefix()
    k_in, k_out = max(usable)
    if k_in < max(config.min_frozen_messages, 1):
        return FrozenPrefix()
    return FrozenPrefix(k_in, copy.deepcopy(state.sent[:k_out]))


def replay(work: list[dict[str, Any]], frozen: FrozenPrefix) -> list[dict[str, Any]]:
    """``work`` with its first ``frozen.input_count`` messages replaced by what was sent for them.

    Leading system messages stay those of ``work`` (fitting never removes or moves them, so they
    correspond one to one).
    """
    if not frozen.input_count:
        return work
    lead = min(_leading_system(work), _leading_system(frozen.messages))
    return work[:lead] + frozen.messages[lead:] + work[frozen.input_count :]


def _strip_cache_control(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_strip_cache_control(v) for v in value]
    return value


def remember(
    digests: tuple[str, ...],
    sent: list[dict[str, Any]],
    *,
    session_key: str,
    frozen: FrozenPrefix,
    config: PrefixFreezeConfig,
) -> bool:
    """Record that ``sent`` was sent for input messages with ``digests``; True when the frozen prefix held.

    When fitting had to cut into the frozen prefix, older boundaries no longer hold and are dropped.
    """
    state = _memory.get(session_key)
    kept_prefix = bool(frozen.input_count) and _same_after_system(sent, frozen.messages)
    boundaries: tuple[tuple[int, int], ...] = ()
    if state is not None and kept_prefix:
        boundaries = tuple(b for b in state.boundaries if b[0] <= frozen.input_count)
    boundaries += ((len(digests), len(sent)),)
    _memory.put(
        session_key,
        _State(digests, [_strip_cache_control(m) for m in sent], tuple(sorted(set(boundaries)))),
        max_sessions=config.max_sessions,
    )
    return kept_prefix or not frozen.input_count


def _same_after_system(sent: list[dict[str, Any]], frozen: list[dict[str, Any]]) -> bool:
    if len(sent) < len(frozen):
        return False
    lead = min(_leading_system(sent), _leading_system(frozen))
    head = [_strip_cache_control(m) for m in sent[lead : len(frozen)]]
    return head == [_strip_cache_control(m) for m in frozen[lead:]]
