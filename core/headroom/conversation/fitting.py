"""Context fitting: make a conversation fit the model's window, losing nothing.

Runs after content compression. When the messages still exceed the limit it works in four
steps, oldest first, stopping as soon as the request fits:

1. elide tool outputs of turns older than the protected ones (the output moves to CCR; a short
   marker naming its key stays, so the call and its result stay paired);
2. drop whole old turns: the messages after the first user message up to the first protected
   turn move to CCR as one JSON list, replaced by one assistant-role marker naming the key;
3. as a last resort, elide older tool outputs inside the protected turns too, and then, largest
   first, the newest tool results when they alone exceed the window;
4. report ``over_limit`` when even that does not fit (the request is still valid, just large).

Never touched: system messages, the first user message (the task statement), the last user
message, the last ``keep_turns`` turns (beyond step 3), and the newest tool results (those
after the last assistant message: the model is about to read them) unless they alone overflow. Turns are dropped whole,
so an assistant ``tool_calls`` message is never separated from its results, and the kept
sequence (system, first user, marker, user, ...) alternates as Anthropic requires.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any

from headroom import metrics
from headroom.ccr.store import ccr_key
from headroom.conversation.validity import anthropic_problems, openai_problems
from headroom.messages import message_text, tool_names_by_call_id
from headroom.tokens import MESSAGE_OVERHEAD, REPLY_PRIMING, TokenCounter, message_pieces

__all__ = ["MARKER_PREFIX", "FitResult", "fit_to_window", "is_fitting_marker"]

log = logging.getLogger("headroom.fitting")

MARKER_PREFIX = "[headroom: "


@dataclass(frozen=True)
class FitResult:
    """The fitted messages and what fitting did to get there."""

    messages: list[dict[str, Any]]
    dropped_messages: int = 0
    """Messages removed by turn dropping (replaced by one marker message)."""
    elided_outputs: int = 0
    """Tool outputs whose content was replaced by a marker."""
    transforms: tuple[str, ...] = ()
    ccr_keys: tuple[str, ...] = ()
    """Keys of the content fitting moved to CCR (each named by a marker in ``messages``)."""
    report: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Pending:
    key: str
    content: str
    kind: str
    tool_name: str | None


def is_fitting_marker(message: dict[str, Any]) -> bool:
    """True for the marker message that stands in for dropped turns."""
    content = message.get("content")
    return (
        message.get("role") == "assistant"
        and isinstance(content, str)
        and content.startswith(MARKER_PREFIX)
        and "removed to fit the context window" in content
    )


def _is_tool_result_carrier(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return (
        message.get("role") == "user"
        and isinstance(content, list)
        and bool(content)
        and all(isinstance(p, dict) and p.get("type") == "tool_result" for p in content)
    )


def _turn_starts(messages: list[dict[str, Any]]) -> list[int]:
    """Indices of the user messages that ask something (each starts a turn)."""
    return [i for i, m in enumerate(messages) if m.get("role") == "user" and not _is_tool_result_carrier(m)]


def _message_tokens(counter: TokenCounter, message: dict[str, Any]) -> int:
    """What one message adds to ``counter.count_messages`` of a request."""
    return counter.count_messages([message]) - REPLY_PRIMING


def _newest_results(messages: list[dict[str, Any]]) -> set[int]:
    """Tool results after the last assistant message: the model has not answered them yet."""
    last_assistant = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1)
    return {
        i
        for i in range(last_assistant + 1, len(messages))
        if messages[i].get("role") in ("tool", "function") or _is_tool_result_carrier(messages[i])
    }


def _elision_marker(tool: str | None, tokens: int, key: str | None) -> str:
    what = f"output of tool {tool!r}" if tool else "tool output"
    where = (
        f'retrieve it with headroom_retrieve(key="{key}") if needed'
        if key
        else "it is not retrievable (CCR is disabled)"
    )
    return f"{MARKER_PREFIX}this {what} ({tokens} tokens) was removed to fit the context window; {where}.]"


def _drop_marker(dropped: list[dict[str, Any]], key: str | None) -> str:
    turns = sum(1 for m in dropped if m.get("role") == "user" and not _is_tool_result_carrier(m))
    calls = sum(len(m.get("tool_calls") or []) for m in dropped)
    parts = [f"{len(dropped)} earlier messages"]
    detail = []
    if turns:
        detail.append(f"{turns} user turn{'s' if turns != 1 else ''}")
    if calls:
        detail.append(f"{calls} tool call{'s' if calls != 1 else ''} with their results")
    if detail:
        parts.append("(" + ", ".join(detail) + ")")
    where = (
        f'retrieve them with headroom_retrieve(key="{key}") if needed'
        if key
        else "they are not retrievable (CCR is disabled)"
    )
    return f"{MARKER_PREFIX}{' '.join(parts)} were removed to fit the context window; {where}.]"


class _Fitter:
    def __init__(self, messages: list[dict[str, Any]], counter: TokenCounter, store: Any, persist: bool) -> None:
        self.original = messages
        self.work = [dict(m) for m in messages]
        self.counter = counter
        self.store = store
        self.persist = persist
        self.tokens = [_message_tokens(counter, m) for m in self.work]
        self.names = tool_names_by_call_id(messages)
        self.pending: list[_Pending] = []
        self.elided: set[int] = set()
        self.dropped_range: tuple[int, int] | None = None
        self._marker: dict[str, Any] = {}
        self._marker_tokens = 0
        self._dropped_count = 0

    def total(self) -> int:
        alive = (t for i, t in enumerate(self.tokens) if not self._is_dropped(i))
        marker = self._marker_tokens if self.dropped_range else 0
        return (REPLY_PRIMING if self.work else 0) + sum(alive) + marker

    def _is_dropped(self, i: int) -> bool:
        return (
            self.dropped_range is not None
            and self.dropped_range[0] <= i < self.dropped_range[1]
            and self.work[i].get("role") not in ("system", "developer")
        )

    def _key_for(self, content: str, kind: str, tool: str | None) -> str | None:
        if self.store is None:
            return None
        key = ccr_key(content)
        self.pending.append(_Pending(key, content, kind, tool))
        return key

    def elide(self, i: int) -> bool:
        """Replace the tool output(s) of message ``i`` by markers; False when that would not save tokens."""
        m = self.work[i]
        content = m.get("content")
        if m.get("role") in ("tool", "function"):
            tool = self.names.get(str(m.get("tool_call_id", ""))) or m.get("name")
            text = message_text(m)
            key = self._key_for(text, "tool_output", tool)
            new = dict(m, content=_elision_marker(tool, self.counter.count(text), key))
        elif _is_tool_result_carrier(m) and isinstance(content, list):
            parts = []
            for part in content:
                inner = part.get("content")
                text = inner if isinstance(inner, str) else message_text({"content": inner or []})
                tool = self.names.get(str(part.get("tool_use_id", "")))
                key = self._key_for(text, "tool_output", tool)
                parts.append(dict(part, content=_elision_marker(tool, self.counter.count(text), key)))
            new = dict(m, content=parts)
        else:
            return False
        new_tokens = _message_tokens(self.counter, new)
        if new_tokens >= self.tokens[i]:
            return False
        self.work[i] = new
        self.tokens[i] = new_tokens
        self.elided.add(i)
        return True

    def drop(self, start: int, end: int) -> None:
        """Drop messages [start, end) (system messages excepted) behind one marker."""
        self.dropped_range = (start, end)
        dropped = [self.original[i] for i in range(start, end) if not self._is_dropped_role_kept(i)]
        raw = json.dumps(dropped, ensure_ascii=False, default=str)
        key = self._key_for(raw, "messages", None)
        self._marker = {"role": "assistant", "content": _drop_marker(dropped, key)}
        self._marker_tokens = _message_tokens(self.counter, self._marker)
        self._dropped_count = len(dropped)

    def _is_dropped_role_kept(self, i: int) -> bool:
        return self.original[i].get("role") in ("system", "developer")

    def result_messages(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, m in enumerate(self.work):
            if self.dropped_range and i == self.dropped_range[0]:
                out.append(self._marker)
            if not self._is_dropped(i):
                out.append(m)
        return out

    def flush(self, final: list[dict[str, Any]]) -> tuple[str, ...]:
        """Write (or, when simulating, only name) the CCR entries the final messages refer to."""
        text = json.dumps(final, ensure_ascii=False, default=str)
        keys: list[str] = []
        for p in self.pending:
            if p.key not in text or p.key in keys:
                continue  # superseded: an elided output that was later dropped with its turn
            if self.persist and self.store is not None:
                self.store.put(p.content, kind=p.kind, tool_name=p.tool_name)
            keys.append(p.key)
        return tuple(keys)


def token_upper_bound(messages: list[dict[str, Any]], counter: TokenCounter) -> int:
    """An upper bound of ``counter.count_messages(messages)`` from UTF-8 sizes (no tokenising)."""
    total = REPLY_PRIMING
    for m in messages:
        size = sum(len(piece.encode("utf-8", "surrogatepass")) for piece in message_pieces(m))
        total += MESSAGE_OVERHEAD + math.ceil(size * counter.scale) + 1
    return total


def fit_to_window(
    messages: list[dict[str, Any]],
    *,
    limit: int,
    counter: TokenCounter,
    keep_turns: int,
    store: Any,
    persist: bool,
    target: int | None = None,
) -> FitResult:
    """Messages that fit in ``limit`` tokens (see the module docs for what is dropped, in which order).

    ``target`` (at most ``limit``) is where to stop once fitting is needed: cache mode drops a
    little more than necessary so the following requests can append to an unchanged prefix.
    ``store`` receives what is removed; with ``persist=False`` keys are computed, nothing written.

        >>> from headroom.tokens import get_counter
        >>> msgs = [{"role": "user", "content": "hi"}]
        >>> fit_to_window(msgs, limit=1000, counter=get_counter("gpt-4o"), keep_turns=2,
        ...               store=None, persist=False).messages == msgs
        True
    """
    bound = token_upper_bound(messages, counter)
    if bound <= limit:
        # Cheap proof that it fits: no token is shorter than one byte. Nothing to count.
        return FitResult(list(messages), report={"limit": limit, "tokens_at_most": bound, "fitted": False})
    fitter = _Fitter(messages, counter, store, persist)
    before = fitter.total()
    report: dict[str, Any] = {"limit": limit, "tokens_before": before}
    if before <= limit:
        report.update(tokens_after=before, fitted=False)
        return FitResult(list(messages), report=report)
    goal = min(limit, target if target is not None else limit)
    starts = _turn_starts(messages)
    newest = _newest_results(messages)
    protected_from = starts[-min(max(keep_turns, 1), len(starts))] if starts else len(messages)
    elide_protected_from = len(messages) if keep_turns == 0 else protected_from
    candidates = [
        i
        for i, m in enumerate(messages)
        if i not in newest and (m.get("role") in ("tool", "function") or _is_tool_result_carrier(m))
    ]
    steps: list[str] = []

    for i in (c for c in candidates if c < elide_protected_from):
        if fitter.total() <= goal:
            break
        if fitter.elide(i):
            steps.append("elide")

    if fitter.total() > goal and starts and starts[0] < protected_from:
        first = starts[0]
        for cut in [s for s in starts if first < s <= protected_from]:
            if not any(messages[i].get("role") not in ("system", "developer") for i in range(first + 1, cut)):
                continue
            fitter.drop(first + 1, cut)
            if fitter.total() <= goal:
                break
        if fitter.dropped_range is not None:
            steps.append("drop")

    for i in (c for c in candidates if c >= elide_protected_from and not fitter._is_dropped(c)):
        if fitter.total() <= goal:
            break
        if i not in fitter.elided and fitter.elide(i):
            steps.append("elide_protected")

    # A result the model has not read yet goes only when nothing else is left: a request over the
    # window is rejected outright, while a marker lets the model fetch what it needs by key and query.
    for i in sorted(newest, key=lambda k: -fitter.tokens[k]):
        if fitter.total() <= limit:
            break
        if fitter.elide(i):
            steps.append("elide_newest")

    out = fitter.result_messages()
    broke = [
        problems(out)[0]
        for problems in (openai_problems, anthropic_problems)
        if len(problems(out)) > len(problems(messages))
    ]
    if broke:  # never send what a provider rejects when the input was acceptable
        metrics.increment("errors.fitting.invalid_result")
        log.error("context fitting produced an invalid message order (%s); input kept", broke[0])
        report.update(tokens_after=before, fitted=False, error=broke[0])
        return FitResult(list(messages), report=report)

    keys = fitter.flush(out)
    after = counter.count_messages(out)
    dropped = fitter._dropped_count if fitter.dropped_range else 0
    elided = sum(1 for i in fitter.elided if not fitter._is_dropped(i))
    transforms: list[str] = []
    if elided:
        transforms.append(f"fitting:elided_tool_outputs:{elided}")
    if dropped:
        transforms.append(f"fitting:dropped_messages:{dropped}")
    over = after > limit
    if over:
        metrics.increment("fitting.over_limit")
        log.warning("conversation still exceeds the window after fitting (%d > %d tokens)", after, limit)
    report.update(
        tokens_after=after,
        fitted=True,
        over_limit=over,
        target=goal,
        dropped_messages=dropped,
        elided_outputs=elided,
        ccr_keys=list(keys),
        steps=sorted(set(steps)),
    )
    return FitResult(out, dropped, elided, tuple(transforms), keys, report)
