"""What a whole agent session costs with the provider's prompt-cache prices: raw, token mode and cache mode.

An agent loop re-sends its history every turn. A provider with a prefix cache bills the part of a
request that repeats the previous request byte for byte at the cache-read price (Anthropic 0.1x
input) and the rest at the cache-write price (Anthropic 1.25x input, when the request marks its end
for caching, as Headroom does) or the plain input price (OpenAI, whose cached input has its own
lower price and whose writes cost nothing extra). A compression that rewrites the start of the
conversation turns a cheap read into an expensive write, which is why a session's cost depends on
how often its prefix is rewritten, not only on how many tokens each request has.

This module replays a session request by request, sends each request raw (no window: raw needs a
window as large as the whole session) and through :func:`headroom.compress` in token and cache
mode, and bills every request: input tokens, tokens read from the cache, tokens written, dollars,
and whether the request rewrote the previous request's prefix. Cache reads are counted at message
granularity (the leading messages identical to the previous request), and a prefix shorter than the
provider's minimum (1,024 tokens) is not cached.

    >>> from pathlib import Path
    >>> costs = session_costs(build_records_session(records_session_files(Path("../shared/corpus/json"))),
    ...                       model="claude-sonnet-4-5", window=128_000)      # doctest: +SKIP
    >>> print(format_session_costs(costs))                                   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headroom.conversation.session import message_digest
from headroom.models import ModelRegistry
from headroom.session_bench import SessionTurn, conversation_until
from headroom.tokens import MESSAGE_OVERHEAD, REPLY_PRIMING, TokenCounter, get_counter, message_pieces

__all__ = ["RequestBill", "SessionCost", "bill_requests", "format_session_costs", "session_costs"]

MIN_CACHED_PREFIX = 1024
OPENAI_CACHE_STEP = 128


@dataclass(frozen=True)
class RequestBill:
    """The input side of one request as a prefix-caching provider bills it."""

    turn: int
    input_tokens: int
    cached_tokens: int
    """Read from the provider's cache (the prefix repeated from the previous request)."""
    written_tokens: int
    """Everything else: written to the cache (Anthropic) or billed as plain input (OpenAI)."""
    usd: float
    rewrite: bool
    """True when this request changed bytes the previous request had already sent."""


@dataclass(frozen=True)
class SessionCost:
    """Every request of one way of sending a session, billed."""

    label: str
    bills: tuple[RequestBill, ...]

    @property
    def usd(self) -> float:
        return sum(b.usd for b in self.bills)

    @property
    def input_tokens(self) -> int:
        return sum(b.input_tokens for b in self.bills)

    @property
    def cached_tokens(self) -> int:
        return sum(b.cached_tokens for b in self.bills)

    @property
    def written_tokens(self) -> int:
        return sum(b.written_tokens for b in self.bills)

    @property
    def rewrites(self) -> int:
        return sum(b.rewrite for b in self.bills)


def _message_tokens(counter: TokenCounter, message: dict[str, Any]) -> int:
    return MESSAGE_OVERHEAD + sum(counter.count(p) for p in message_pieces(message))


def bill_requests(
    requests: list[list[dict[str, Any]]], *, model: str, registry: ModelRegistry
) -> tuple[RequestBill, ...]:
    """Bill each request against the one before it (see module docs)."""
    counter = get_counter(model)
    prices = registry.cache_prices(model) or (0.0, 0.0, 0.0)
    price_in, price_read, price_write = prices
    anthropic = registry.get(model).provider == "anthropic"
    bills = []
    previous: list[str] = []
    for turn, request in enumerate(requests, start=1):
        digests = [message_digest(m) for m in request]
        sizes = [_message_tokens(counter, m) for m in request]
        total = REPLY_PRIMING + sum(sizes)
        common = 0
        for a, b in zip(previous, digests):
            if a != b:
                break
            common += 1
        prefix = sum(sizes[:common])
        if prefix < MIN_CACHED_PREFIX:
            cached = 0
        elif anthropic:
            cached = prefix
        else:
            cached = MIN_CACHED_PREFIX + (prefix - MIN_CACHED_PREFIX) // OPENAI_CACHE_STEP * OPENAI_CACHE_STEP
        written = total - cached
        usd = (cached * price_read + written * (price_write if anthropic else price_in)) / 1_000_000
        bills.append(RequestBill(turn, total, cached, written, usd, bool(previous) and common < len(previous)))
        previous = digests
    return tuple(bills)


def session_costs(
    session: list[SessionTurn],
    *,
    model: str,
    window: int,
    output_buffer_tokens: int = 4000,
    modes: tuple[str, ...] = ("token", "cache"),
) -> list[SessionCost]:
    """Bill the session sent raw and through ``compress()`` in each of ``modes`` (fresh state, in-memory store)."""
    from headroom.compress import compress
    from headroom.compressors.router import result_cache
    from headroom.config import HeadroomConfig, parse_optimization_mode
    from headroom.conversation import cache_hints, prefix_freeze

    requests = [conversation_until(session, t) for t in range(len(session))]
    registry = ModelRegistry.for_config(HeadroomConfig(stateless=True))
    costs = [SessionCost("raw", bill_requests(requests, model=model, registry=registry))]
    for mode in modes:
        result_cache.clear()
        prefix_freeze.forget_sessions()
        cache_hints.forget_sessions()
        config = HeadroomConfig(
            stateless=True,
            optimization_mode=parse_optimization_mode(mode),
            model_context_limits={model: window},
            output_buffer_tokens=output_buffer_tokens,
            discover_pipeline_extensions=False,
        )
        sent = [compress(r, model, config=config, session_id=f"session-cost-{mode}").messages for r in requests]
        costs.append(SessionCost(mode, bill_requests(sent, model=model, registry=registry)))
    return costs


def format_session_costs(
    costs: list[SessionCost], *, model: str, window: int, registry: ModelRegistry | None = None
) -> str:
    """Per-turn input, cache reads, writes and dollars of each way of sending, then the totals."""
    registry = registry or ModelRegistry()
    prices = registry.cache_prices(model)
    priced = (
        f"$/M input {prices[0]:.2f}, cache read {prices[1]:.2f}, cache write {prices[2]:.2f}" if prices else "no prices"
    )
    lines = [f"session cost: {model}, {window:,}-token window ({priced})"]
    head = f"{'turn':>4} " + " ".join(f"| {c.label + ': input':>13} {'read':>8} {'written':>8} {'$':>7}" for c in costs)
    lines += [head, "-" * len(head)]
    for k in range(len(costs[0].bills)):
        cells = []
        for c in costs:
            b = c.bills[k]
            mark = "*" if b.rewrite else " "
            cells.append(f"| {b.input_tokens:>13,} {b.cached_tokens:>8,} {b.written_tokens:>8,} {b.usd:>6.3f}{mark}")
        lines.append(f"{k + 1:>4} " + " ".join(cells))
    lines.append("-" * len(head))
    raw = costs[0].usd
    for c in costs:
        share = f" = {c.usd / raw:.0%} of raw" if raw and c is not costs[0] else ""
        lines.append(
            f"{c.label:>5}: {c.input_tokens:,} input tokens, {c.cached_tokens:,} read from the cache, "
            f"{c.written_tokens:,} written; ${c.usd:.2f}{share}; prefix rewrites: {c.rewrites}"
        )
    lines.append("(* a request that rewrote the previous request's prefix)")
    return "\n".join(lines)
