"""Context fitting: make a conversation fit the model's window by compressing harder, not by forgetting.

Runs after content compression, on the whole conversation. Nothing happens while a request fits
``limit`` (the window minus the output buffer). When it does not, the conversation is *compacted
once*, down to ``target`` (the low-water mark, a fraction of the window), so that the following
turns append to a prefix that stays byte-identical and keeps the provider's prompt cache warm,
until the window overflows again. A compaction shrinks what the model needs least first, in small
steps, stopping as soon as the goal is met:

1. tool outputs of earlier turns, oldest first, each stepped down
   its ladder (:mod:`headroom.conversation.ladder`): compressed harder (about half the items), then
   only what its own turn's question names plus errors and rare values, then a digest (shape,
   counts, named records), then a marker - all outputs one rung before any goes further;
2. if the request still exceeds ``limit``: the tool outputs of the current turn, largest first,
   compressed to fit the room that is left (keeping first what its question names);
3. whole earlier turns, oldest first, dropped behind one marker message (the first user message,
   the task statement, always stays);
4. if the request still exceeds ``limit``: the turns ``keep_turns`` keeps uncompressed are
   compressed after all (the result's notes say so), then current and kept outputs are elided.

User and assistant text of earlier turns stays until its turn is dropped. Turns are dropped whole,
so an assistant ``tool_calls`` message is never separated from its results. Everything removed is
stored in CCR (or named by the compressor's own key) and every marker says what it stands for and
how to get it back.

**Deterministic, and the same across requests.** Fitting replays the conversation's history: it
walks the points where an agent loop sent a request (after each user message or tool results the
model answers next) and compacts at the first point where the conversation overflowed, then again
at the next, and so on. The forms chosen at a point stay for every later point. So a request sent
again, or the next request of the conversation, reproduces the previous request's bytes for every
earlier turn unless a compaction happened in between; and two processes given the same messages
send the same bytes without sharing any memory. Work is linear in the number of messages: each
message is counted once, each output steps down at most five rungs, and drop cuts only move forward.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any

from headroom import metrics
from headroom.ccr.store import ccr_key
from headroom.conversation.fit_markers import (
    DROP_KEY_PLACEHOLDER,
    chunk_for_store,
    drop_marker,
    dropped_counts,
    keys_for,
)
from headroom.conversation.ladder import DIGEST, ELIDED, OutputLadder, Reshape, message_tokens
from headroom.conversation.turns import is_tool_output, request_points, turn_starts
from headroom.conversation.validity import anthropic_problems, openai_problems
from headroom.errors import StoreError
from headroom.messages import question_for, tool_names_by_call_id
from headroom.tokens import MESSAGE_OVERHEAD, REPLY_PRIMING, TokenCounter, message_pieces

__all__ = ["FitResult", "fit_to_window", "token_upper_bound"]

log = logging.getLogger("headroom.fitting")

_KEY_MARGIN = 16
"""Tokens a real key may take beyond the placeholder a drop marker is sized with (one per hex digit)."""
_SYSTEM_ROLES = ("system", "developer")


@dataclass(frozen=True)
class FitResult:
    """The fitted messages and what fitting did to get there."""

    messages: list[dict[str, Any]]
    dropped_messages: int = 0
    """Messages removed by turn dropping (replaced by one marker message)."""
    elided_outputs: int = 0
    """Tool outputs replaced by a marker."""
    transforms: tuple[str, ...] = ()
    ccr_keys: tuple[str, ...] = ()
    """Keys of the originals that fitting's forms name (each retrievable)."""
    report: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def token_upper_bound(messages: list[dict[str, Any]], counter: TokenCounter) -> int:
    """An upper bound of ``counter.count_messages(messages)`` from UTF-8 sizes (no tokenising)."""
    return REPLY_PRIMING + sum(_message_bound(m, counter) for m in messages)


def _message_bound(message: dict[str, Any], counter: TokenCounter) -> int:
    size = sum(len(piece.encode("utf-8", "surrogatepass")) for piece in message_pieces(message))
    return MESSAGE_OVERHEAD + math.ceil(size * counter.scale) + 1


@dataclass
class _Compaction:
    point: int
    changed_from: int
    steps: list[str] = field(default_factory=list)
    kept_turns_compressed: bool = False


class _Planner:
    """The replay of a conversation's requests, with the forms chosen so far (see module docs)."""

    def __init__(
        self,
        messages: list[dict[str, Any]],
        originals: list[dict[str, Any]] | None,
        counter: TokenCounter,
        *,
        limit: int,
        target: int,
        keep_turns: int,
        reshape: Reshape | None,
        query: str | None,
        retrievable: bool,
        max_entry_bytes: int | None,
        problems: str | None = None,
    ) -> None:
        self.msgs = messages
        self.problems = problems
        self.originals = originals
        self.counter = counter
        self.limit = limit
        self.target = target
        self.keep_turns = keep_turns
        self.reshape = reshape
        self.query = query
        self.retrievable = retrievable
        self.max_entry_bytes = max_entry_bytes
        self.names = tool_names_by_call_id(messages)
        self.starts = turn_starts(messages)
        self.first_user = self.starts[0] if self.starts else None
        self.outputs = [i for i, m in enumerate(messages) if is_tool_output(m)]
        self.tok = [0] * len(messages)
        self.ladders: dict[int, OutputLadder] = {}
        self.end = 0
        self.total = REPLY_PRIMING if messages else 0
        self.drop_lo = (self.first_user + 1) if self.first_user is not None else 0
        self.cut = self.drop_lo
        """Messages in [drop_lo, cut) are dropped (system messages excepted)."""
        self.drop_counts = (0, 0, 0)
        self.marker_tokens = 0
        self.compactions: list[_Compaction] = []
        self.frontier: dict[int, int] = {}
        """Per level, the position in ``outputs`` before which every earlier output is at that level."""

    # -- sizes ------------------------------------------------------------------------------
    def size(self, i: int) -> int:
        ladder = self.ladders.get(i)
        return ladder.current.tokens if ladder is not None else self.tok[i]

    def dropped(self, i: int) -> bool:
        return self.drop_lo <= i < self.cut and self.msgs[i].get("role") not in _SYSTEM_ROLES

    def advance_to(self, point: int) -> None:
        for i in range(self.end, point):
            self.tok[i] = message_tokens(self.counter, self.msgs[i])
            self.total += self.tok[i]
        self.end = max(self.end, point)

    def ladder(self, i: int) -> OutputLadder:
        ladder = self.ladders.get(i)
        if ladder is None:
            base = self.originals if self.originals is not None else self.msgs
            ladder = OutputLadder(
                self.msgs[i],
                self.originals[i] if self.originals is not None else None,
                question=self.query if self.query is not None else question_for(base, i),
                names=self.names,
                counter=self.counter,
                reshape=self.reshape,
                retrievable=self.retrievable,
                max_entry_bytes=self.max_entry_bytes,
                tokens=self.tok[i],
                problems=self.problems,
            )
            self.ladders[i] = ladder
        return ladder

    def lower(self, i: int, level: int, compaction: _Compaction) -> None:
        ladder = self.ladder(i)
        before = ladder.current.tokens
        if ladder.step_to(level):
            self.total += ladder.current.tokens - before
            compaction.changed_from = min(compaction.changed_from, i)

    # -- one compaction ---------------------------------------------------------------------
    def compact(self, point: int) -> None:
        c = _Compaction(point, point)
        starts = self.starts[: bisect.bisect_left(self.starts, point)]
        current = starts[-1] if starts else 0
        kept = starts[-min(self.keep_turns, len(starts))] if self.keep_turns and starts else point
        protected = min(current, kept)
        upto = bisect.bisect_left(self.outputs, point)
        first_alive = bisect.bisect_left(self.outputs, self.cut)
        old_end = bisect.bisect_left(self.outputs, protected)
        for level in (1, 2, DIGEST):
            self._lower_old(level, self.target, old_end, c)
        live = [i for i in self.outputs[first_alive:upto] if i >= protected]
        now = sorted((i for i in live if i >= current and i < kept), key=lambda i: (-self.size(i), i))
        kept_outputs = [i for i in live if i >= kept]
        if self.total > self.limit and self.first_user is not None:
            # When even the digests of this turn's outputs would not fit beside the history, turns must
            # go: drop them first, down to the low-water mark, so this turn's outputs keep more.
            floor = sum(self.ladder(i).floor_tokens() for i in live)
            if self.total - sum(self.size(i) for i in live) + floor > self.limit:
                self._drop(protected, c)
        for level in (1, 2, DIGEST):
            self._lower_all(now, level, self.limit, c, f"current_outputs:{level}")
        if self.total > self.limit and kept_outputs:
            for level in (0, 1, 2, DIGEST):
                self._lower_all(kept_outputs, level, self.limit, c, f"kept_outputs:{level}")
            c.kept_turns_compressed = True
        self._lower_old(ELIDED, self.limit, old_end, c)
        last = sorted(now + kept_outputs, key=lambda i: (-self.size(i), i))
        self._lower_all(last, ELIDED, self.limit, c, "elide_current")
        if self.total > self.limit and self.first_user is not None:
            self._drop(protected, c)
        self.compactions.append(c)

    def _lower_old(self, level: int, goal: int, end: int, c: _Compaction) -> None:
        """Step earlier turns' outputs down to ``level``, oldest first, until ``goal`` is met.

        ``frontier[level]`` remembers how far earlier compactions got: every output before it is
        at ``level`` already (or dropped, or has no smaller form), so each output is visited once
        per level over the whole replay.
        """
        pos = self.frontier.get(level, 0)
        step = f"old_outputs:{level}"
        while pos < end and self.total > goal:
            i = self.outputs[pos]
            if not self.dropped(i):
                before = self.total
                self.lower(i, level, c)
                if self.total < before and (not c.steps or c.steps[-1] != step):
                    c.steps.append(step)
            pos += 1
        self.frontier[level] = max(pos, self.frontier.get(level, 0))

    def _lower_all(self, indices: list[int], level: int, goal: int, c: _Compaction, step: str) -> None:
        for i in indices:
            if self.total <= goal:
                return
            before = self.total
            self.lower(i, level, c)
            if self.total < before and (not c.steps or c.steps[-1] != step):
                c.steps.append(step)

    def _marker_size(self, counts: tuple[int, int, int]) -> int:
        text = drop_marker(*counts, [DROP_KEY_PLACEHOLDER])
        return message_tokens(self.counter, {"role": "assistant", "content": text}) + _KEY_MARGIN

    def _drop(self, protected: int, c: _Compaction) -> None:
        """Drop whole turns after the first user message, oldest first, until the target is met."""
        cuts = [s for s in self.starts if self.cut < s <= protected]
        if not cuts:
            return
        removed = 0
        messages, turns, calls = self.drop_counts
        pos = self.cut
        best: tuple[int, int, tuple[int, int, int], int] | None = None
        for s in cuts:
            for i in range(pos, s):
                m = self.msgs[i]
                if m.get("role") in _SYSTEM_ROLES:
                    continue
                removed += self.size(i)
                t, k = dropped_counts(m)
                messages, turns, calls = messages + 1, turns + t, calls + k
            pos = s
            marker = self._marker_size((messages, turns, calls))
            new_total = self.total - removed - self.marker_tokens + marker
            best = (s, new_total, (messages, turns, calls), marker)
            if new_total <= self.target:
                break
        if best is None or best[1] >= self.total:
            return
        self.cut, self.total, self.drop_counts, self.marker_tokens = best
        c.changed_from = min(c.changed_from, self.drop_lo)
        c.steps.append("drop_turns")

    # -- the result -------------------------------------------------------------------------
    def form(self, i: int) -> dict[str, Any]:
        ladder = self.ladders.get(i)
        return ladder.current.message if ladder is not None else self.msgs[i]

    def dropped_originals(self) -> list[dict[str, Any]]:
        base = self.originals if self.originals is not None else self.msgs
        return [base[i] for i in range(self.drop_lo, self.cut) if self.dropped(i)]


@dataclass(frozen=True)
class _ToStore:
    content: str
    kind: str
    tool_name: str | None


def fit_to_window(
    messages: list[dict[str, Any]],
    *,
    limit: int,
    counter: TokenCounter,
    keep_turns: int = 0,
    store: Any = None,
    persist: bool = True,
    target: int | None = None,
    originals: list[dict[str, Any]] | None = None,
    reshape: Reshape | None = None,
    query: str | None = None,
    max_entry_bytes: int | None = None,
    problems: str | None = None,
) -> FitResult:
    """Messages that fit in ``limit`` tokens (see the module docs for what shrinks, in which order).

    ``target`` (at most ``limit``) is the low-water mark a compaction goes down to. ``originals``
    are the caller's messages, one per message of ``messages`` (which holds their compressed
    forms); fitting re-compresses from them with ``reshape(original, tool, question, level)`` and
    stores them when it digests, elides or drops. ``store`` receives what is removed (None: CCR is
    off and markers say so); with ``persist=False`` keys are computed and nothing is written.
    Originals larger than ``max_entry_bytes`` are stored in parts. ``problems`` is the pattern of
    lines that report a problem, which digests of text outputs count and quote (the log
    compressor's ``importance_pattern`` by default).

        >>> from headroom.tokens import get_counter
        >>> msgs = [{"role": "user", "content": "hi"}]
        >>> fit_to_window(msgs, limit=1000, counter=get_counter("gpt-4o")).messages == msgs
        True
    """
    bounds = [_message_bound(m, counter) for m in messages]
    if REPLY_PRIMING + sum(bounds) <= limit:
        # Cheap proof that it fits: no token is shorter than one byte. Nothing to count.
        return FitResult(
            list(messages), report={"limit": limit, "tokens_at_most": REPLY_PRIMING + sum(bounds), "fitted": False}
        )
    if originals is not None and (
        len(originals) != len(messages) or any(a.get("role") != b.get("role") for a, b in zip(originals, messages))
    ):
        originals = None  # an extension changed the conversation's shape: re-compress from what is here
    goal = min(limit, target if target is not None else limit)
    planner = _Planner(
        messages,
        originals,
        counter,
        limit=limit,
        target=max(goal, 0),
        keep_turns=keep_turns,
        reshape=reshape,
        query=query,
        retrievable=store is not None,
        max_entry_bytes=max_entry_bytes,
        problems=problems,
    )
    points = request_points(messages)
    # Until the byte bound of a prefix exceeds the limit, no request of it can have overflowed.
    running = REPLY_PRIMING
    ends = []
    for b in bounds:
        running += b
        ends.append(running)
    first = next((k for k, p in enumerate(points) if ends[p - 1] > limit), len(points))
    for p in points[first:]:
        planner.advance_to(p)
        if planner.total > limit:
            planner.compact(p)
    planner.advance_to(len(messages))
    before = REPLY_PRIMING + sum(planner.tok)
    report: dict[str, Any] = {"limit": limit, "target": goal, "tokens_before": before}
    if not planner.compactions:
        report.update(tokens_after=before, fitted=False, compactions=0, compacted=False)
        return FitResult(list(messages), report=report)
    try:
        return _finish(planner, points, report, store, persist)
    except StoreError as exc:
        # Never send a marker whose original could not be stored: keep the conversation as it was.
        metrics.increment("errors.fitting.store")
        log.error("context fitting could not store what it would remove (%s); conversation kept whole", exc)
        report.update(tokens_after=before, fitted=False, error=str(exc))
        return FitResult(list(messages), report=report, notes=(f"fitting skipped: {exc}",))


def _finish(planner: _Planner, points: list[int], report: dict[str, Any], store: Any, persist: bool) -> FitResult:
    messages = planner.msgs
    to_store: list[_ToStore] = []
    drop_keys: list[str] = []
    marker: dict[str, Any] | None = None
    messages_dropped = planner.drop_counts[0]
    if messages_dropped:
        raw = json.dumps(planner.dropped_originals(), ensure_ascii=False, default=str)
        drop_keys = keys_for(raw, planner.max_entry_bytes) if planner.retrievable else []
        marker = {"role": "assistant", "content": drop_marker(*planner.drop_counts, drop_keys)}
        if planner.retrievable:
            to_store.append(_ToStore(raw, "messages", None))
    out: list[dict[str, Any]] = []
    positions: list[int] = []  # input index of each output message (-1 for the drop marker)
    for i in range(len(messages)):
        if marker is not None and i == planner.drop_lo:
            out.append(marker)
            positions.append(-1)
        if not planner.dropped(i):
            out.append(planner.form(i))
            positions.append(i)

    broke = [
        problems(out)[0]
        for problems in (openai_problems, anthropic_problems)
        if len(problems(out)) > len(problems(messages))
    ]
    if broke:  # never send what a provider rejects when the input was acceptable
        metrics.increment("errors.fitting.invalid_result")
        log.error("context fitting produced an invalid message order (%s); input kept", broke[0])
        report.update(tokens_after=report["tokens_before"], fitted=False, error=broke[0])
        return FitResult(list(messages), report=report)

    keys: list[str] = list(drop_keys)
    levels: dict[str, int] = {}
    elided = digested = 0
    for i, ladder in sorted(planner.ladders.items()):
        if planner.dropped(i) or ladder.current is ladder.rungs[0]:
            continue
        rung = ladder.current
        levels[str(rung.level)] = levels.get(str(rung.level), 0) + 1
        elided += rung.level == ELIDED
        digested += rung.level == DIGEST
        to_store += [_ToStore(original, "tool_output", tool) for original, tool in rung.originals]
        keys += rung.keys
    if store is not None and persist:
        _store_all(store, to_store, planner.max_entry_bytes)

    after = planner.counter.count_messages(out)
    last = planner.compactions[-1]
    compacted_now = last.point == len(messages)
    # What the previous request sent is repeated up to here (a compaction now rewrote from changed_from).
    previous_end = points[-2] if len(points) > 1 else 0
    boundary = last.changed_from if compacted_now else previous_end
    stable = REPLY_PRIMING + sum(
        message_tokens(planner.counter, m) for m, pos in zip(out, positions) if pos != -1 and pos < boundary
    )
    if marker is not None and planner.drop_lo < boundary:
        stable += message_tokens(planner.counter, marker)
    notes: list[str] = []
    if compacted_now and last.kept_turns_compressed:
        notes.append(
            f"keep_turns={planner.keep_turns}: the last turns alone exceed the window "
            f"({planner.limit:,} tokens); their tool outputs were compressed to fit"
        )
    over = after > planner.limit
    if over:
        metrics.increment("fitting.over_limit")
        log.warning("conversation still exceeds the window after fitting (%d > %d tokens)", after, planner.limit)
        notes.append(f"still {after:,} tokens after fitting, over the {planner.limit:,}-token limit")
    if compacted_now:
        metrics.increment("fitting.compactions")
    transforms: list[str] = []
    lowered = sum(levels.values()) - elided
    if lowered:
        transforms.append(f"fitting:compressed_tool_outputs:{lowered}")
    if elided:
        transforms.append(f"fitting:elided_tool_outputs:{elided}")
    if messages_dropped:
        transforms.append(f"fitting:dropped_messages:{messages_dropped}")
    report.update(
        tokens_after=after,
        fitted=True,
        over_limit=over,
        compactions=len(planner.compactions),
        compaction_points=[c.point for c in planner.compactions],
        compacted=compacted_now,
        stable_prefix_tokens=min(stable, after),
        steps=last.steps,
        levels=levels,
        digested_outputs=digested,
        elided_outputs=elided,
        dropped_messages=messages_dropped,
        ccr_keys=list(dict.fromkeys(keys)),
    )
    return FitResult(out, messages_dropped, elided, tuple(transforms), tuple(dict.fromkeys(keys)), report, tuple(notes))


def _store_all(store: Any, items: list[_ToStore], max_entry_bytes: int | None) -> None:
    done: set[str] = set()
    for item in items:
        for piece in chunk_for_store(item.content, max_entry_bytes):
            key = ccr_key(piece)
            if key in done:
                continue
            store.put(piece, kind=item.kind, tool_name=item.tool_name)
            done.add(key)
