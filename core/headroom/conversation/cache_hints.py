"""Provider prompt-cache hints and the cached-token estimate.

Anthropic caches a prompt prefix up to a block marked ``cache_control`` (at most 4 marks per
request; a prefix shorter than the model's minimum is not cached). Since Headroom works on
OpenAI-format messages, a mark is written the way Anthropic-compatible adapters (LangChain's
ChatAnthropic, LiteLLM) accept it: the message content becomes a list of text parts and the
last part carries ``"cache_control": {"type": "ephemeral"}``. Marks go, in this priority, on
the end of the system prompt, the end of the previous request of the conversation (where the
last cache write happened, so this request reads it), the last stable turn (the message before
the newest user turn), and the last message (written for the next request).
Tool definitions are not part of ``messages``; an adapter that sends tools marks them itself.

OpenAI caches automatically: prompts of at least 1024 tokens, in 128-token increments, when
the prefix is byte-identical to a recent request. Nothing is added; Headroom only keeps the
prefix stable (it never reorders) and estimates the hit by comparing with the previous request
of the same conversation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from headroom.config import CacheOptimizerConfig
from headroom.conversation.session import SessionMemory, message_digest
from headroom.messages import last_user_index
from headroom.tokens import REPLY_PRIMING, TokenCounter

__all__ = [
    "CacheEstimate",
    "CacheObservation",
    "HintResult",
    "apply_cache_hints",
    "estimate_cached_tokens",
    "forget_sessions",
    "observe_request",
]

OPENAI_MIN_CACHED = 1024
OPENAI_CACHE_STEP = 128
ANTHROPIC_LOOKBACK_BLOCKS = 20
_EPHEMERAL = {"type": "ephemeral"}


@dataclass(frozen=True)
class HintResult:
    """Messages with cache marks, and where the marks are."""

    messages: list[dict[str, Any]]
    breakpoints: tuple[int, ...] = ()
    """Indices of the messages that carry ``cache_control``."""
    transforms: tuple[str, ...] = ()


@dataclass(frozen=True)
class CacheEstimate:
    """Input tokens expected to be read from the provider's cache for one request."""

    cached_tokens: int
    uncached_tokens: int
    provider: str
    common_prefix_messages: int
    """Leading messages identical to the previous request of the conversation."""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Sent:
    digests: tuple[str, ...]
    breakpoints: tuple[int, ...]


_memory: SessionMemory[_Sent] = SessionMemory(1024)


def forget_sessions() -> None:
    """Forget every conversation's previous request (tests and benchmarks start clean with it)."""
    _memory.clear()


def _has_text(message: dict[str, Any]) -> bool:
    content = message.get("content")
    if isinstance(content, str):
        return bool(content.strip())
    if isinstance(content, list):
        return any(isinstance(p, dict) and p.get("type") == "text" and str(p.get("text", "")).strip() for p in content)
    return False


def _marked(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, list) and any(isinstance(p, dict) and "cache_control" in p for p in content)


def _mark(message: dict[str, Any]) -> None:
    content = message.get("content")
    if isinstance(content, str):
        message["content"] = [{"type": "text", "text": content, "cache_control": dict(_EPHEMERAL)}]
        return
    if isinstance(content, list):
        for part in reversed(content):
            if isinstance(part, dict) and part.get("type") == "text" and str(part.get("text", "")).strip():
                part["cache_control"] = dict(_EPHEMERAL)
                return


def _cumulative(messages: list[dict[str, Any]], counter: TokenCounter) -> list[int]:
    """cum[k] = prompt tokens of messages[:k]."""
    cum = [0]
    for m in messages:
        cum.append(cum[-1] + counter.count_messages([m]) - REPLY_PRIMING)
    return cum


def _common_prefix(a: tuple[str, ...] | list[str], b: tuple[str, ...] | list[str]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def apply_cache_hints(
    messages: list[dict[str, Any]],
    *,
    provider: str,
    config: CacheOptimizerConfig,
    counter: TokenCounter,
    session_key: str,
) -> HintResult:
    """Place Anthropic ``cache_control`` marks (only for provider ``anthropic``; others unchanged).

    ``messages`` is modified in place and returned in the result.
    """
    if provider != "anthropic" or config.max_breakpoints == 0 or not messages:
        return HintResult(messages)
    existing = [i for i, m in enumerate(messages) if _marked(m)]
    budget = config.max_breakpoints - len(existing)
    if budget <= 0:
        return HintResult(messages, tuple(existing))
    cum = _cumulative(messages, counter)
    candidates: list[int] = []
    system_end = -1
    for i, m in enumerate(messages):
        if m.get("role") not in ("system", "developer"):
            break
        system_end = i
    candidates.append(system_end)
    previous = _memory.get(session_key)
    if previous is not None and previous.digests:
        digests = [message_digest(m) for m in messages]
        common = _common_prefix(previous.digests, digests)
        candidates.append(min(len(previous.digests), common) - 1)
    last_user = last_user_index(messages)
    if last_user is not None:
        candidates.append(last_user - 1)
    candidates.append(len(messages) - 1)
    chosen: list[int] = []
    for pos in candidates:
        while pos >= 0 and not _has_text(messages[pos]):
            pos -= 1  # an assistant tool_calls message has no text block to mark: use the nearest one before
        if pos < 0 or pos in chosen or pos in existing or cum[pos + 1] < config.min_cacheable_tokens:
            continue
        chosen.append(pos)
        if len(chosen) == budget:
            break
    for pos in chosen:
        _mark(messages[pos])
    marks = tuple(sorted(existing + chosen))
    return HintResult(messages, marks, (f"cache_hints:anthropic_breakpoints:{len(chosen)}",) if chosen else ())


@dataclass(frozen=True)
class CacheObservation:
    """How a request compares with the previous request of its conversation (no tokens counted yet)."""

    messages: list[dict[str, Any]]
    provider: str
    common: int
    marks: tuple[int, ...]
    previous_breakpoints: tuple[int, ...] | None
    """Breakpoints of the previous request, None when there was none."""

    def estimate(self, counter: TokenCounter) -> CacheEstimate:
        """Count the tokens: expected cached and uncached input of this request."""
        cum = _cumulative(self.messages, counter)
        total = counter.count_messages(self.messages)
        cached = 0
        details: dict[str, Any] = {"breakpoints": list(self.marks)}
        if self.provider == "openai" and self.common:
            prefix = cum[self.common]
            if prefix >= OPENAI_MIN_CACHED:
                cached = OPENAI_MIN_CACHED + (prefix - OPENAI_MIN_CACHED) // OPENAI_CACHE_STEP * OPENAI_CACHE_STEP
        elif self.provider == "anthropic" and self.previous_breakpoints is not None:
            # A read hits where the previous request wrote (one of its marks) inside the identical
            # prefix, when this request has a mark at or shortly after that point.
            for p in sorted(self.previous_breakpoints, reverse=True):
                if p < self.common and any(p <= q <= p + ANTHROPIC_LOOKBACK_BLOCKS for q in self.marks):
                    cached = cum[p + 1]
                    details["read_at"] = p
                    break
        cached = min(cached, total)
        return CacheEstimate(cached, total - cached, self.provider, self.common, details)


def observe_request(
    messages: list[dict[str, Any]],
    *,
    provider: str,
    session_key: str,
    record: bool,
    max_sessions: int = 1024,
) -> CacheObservation:
    """Compare ``messages`` with the session's previous request; with ``record`` remember them as the new previous.

    Cheap (digests only): the token counts come later, from :meth:`CacheObservation.estimate`.
    """
    digests = tuple(message_digest(m) for m in messages)
    previous = _memory.get(session_key)
    common = _common_prefix(previous.digests, digests) if previous else 0
    marks = tuple(i for i, m in enumerate(messages) if _marked(m))
    if record:
        _memory.put(session_key, _Sent(digests, marks), max_sessions=max_sessions)
    return CacheObservation(messages, provider, common, marks, previous.breakpoints if previous else None)


def estimate_cached_tokens(
    messages: list[dict[str, Any]],
    *,
    provider: str,
    counter: TokenCounter,
    session_key: str,
    record: bool,
    max_sessions: int = 1024,
) -> CacheEstimate:
    """Expected cached input tokens of sending ``messages``, from the previous request of the session.

    With ``record`` the request is remembered as the session's previous one.
    """
    observation = observe_request(
        messages, provider=provider, session_key=session_key, record=record, max_sessions=max_sessions
    )
    return observation.estimate(counter)
