"""Exchange: one client request to a chat endpoint, over every upstream round it takes.

It holds what the rounds share: the headers to forward, the clock that tells the proxy's own
time from the time spent waiting for the upstream (``x-headroom-added-ms`` and the latency
histogram), and the budget reservations, each settled with the cost the round's usage reports.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import httpx
from starlette.requests import Request
from starlette.responses import Response

from headroom.providers.base import ProviderUsage
from headroom.proxy.budget import Reservation, seconds_to_midnight
from headroom.proxy.forwarding import ADDED_MS_HEADER, raw_response, request_headers, response_headers
from headroom.proxy.outgoing import Outgoing
from headroom.proxy.state import ProxyState
from headroom.proxy.wire import Wire
from headroom.tokens import get_counter

__all__ = ["Clock", "Exchange"]

log = logging.getLogger("headroom.proxy")
_unpriced_warned: set[str] = set()


class Clock:
    """Time since the request arrived, less the time spent waiting for the upstream."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.waiting = 0.0

    def added_ms(self) -> float:
        return (time.perf_counter() - self.started - self.waiting) * 1000


class Exchange:
    """See the module docs."""

    def __init__(self, state: ProxyState, wire: Wire, request: Request, out: Outgoing, clock: Clock) -> None:
        self.state = state
        self.wire = wire
        self.out = out
        self.clock = clock
        self.path = request.url.path
        self.query = request.url.query
        self.headers = request_headers(request.headers)
        self.reservations: list[Reservation] = []
        self.prompt_estimate = 0

    # -- upstream -------------------------------------------------------------------------------
    async def open(self, body: bytes) -> httpx.Response:
        """Send one round upstream; the response is open for reading."""
        assert self.state.upstream is not None
        begun = time.perf_counter()
        try:
            response = await self.state.upstream.open(self.wire.name, "POST", self.path, self.query, self.headers, body)
        finally:
            self.clock.waiting += time.perf_counter() - begun
        self.state.stats.add("headroom_proxy_upstream_responses_total", status=str(response.status_code))
        return response

    async def read(self, response: httpx.Response) -> bytes:
        """The whole (decoded) body of a response, counted as upstream time; the response is closed."""
        begun = time.perf_counter()
        try:
            return await response.aread()
        finally:
            self.clock.waiting += time.perf_counter() - begun
            await response.aclose()

    def finish(self) -> float:
        """The proxy's own milliseconds for this request, recorded once."""
        added = self.clock.added_ms()
        self.state.stats.observe_added_ms(added)
        return added

    def raw(self, response: httpx.Response) -> Response:
        """The upstream's answer as it is (status, headers, body), streamed through."""
        return raw_response(response, self.finish())

    def reply(self, upstream: httpx.Response, body: bytes, *, decoded: bool = True) -> Response:
        """``body`` as the answer to the client, with the upstream's status and headers.

        ``decoded``: the body was read decoded (or rewritten), so the upstream's content
        encoding and length no longer apply.
        """
        headers = response_headers(upstream, decoded=decoded)
        headers[ADDED_MS_HEADER] = f"{self.finish():.2f}"
        return Response(body, status_code=upstream.status_code, headers=headers)

    async def relay_json(self, upstream: httpx.Response) -> Response:
        """A JSON answer the proxy need not look into: its bytes as they came; its usage read later."""
        begun = time.perf_counter()
        try:
            body = b"".join([chunk async for chunk in upstream.aiter_raw()])
        finally:
            self.clock.waiting += time.perf_counter() - begun
            await upstream.aclose()
        self.account_body_later(upstream, body)
        return self.reply(upstream, body, decoded=False)

    # -- accounting -----------------------------------------------------------------------------
    def cost(self, usage: ProviderUsage | None) -> float | None:
        """US dollars of one round from its reported usage (None when unknown)."""
        if usage is None:
            return None
        return self.wire.provider.cost(self.state.registry, self.out.model, usage)

    def account_usage(self, usage: ProviderUsage | None) -> None:
        """Add a round's reported usage to the counters (cached tokens and cost)."""
        if usage is None:
            return
        stats = self.state.stats
        stats.add("headroom_proxy_provider_cached_tokens_total", usage.cached_tokens, provider=self.wire.name)
        cost = self.cost(usage)
        if cost is not None:
            stats.add("headroom_proxy_cost_usd_total", cost, provider=self.wire.name)

    def account_body_later(self, upstream: httpx.Response, raw: bytes) -> None:
        """Read the usage of a relayed (possibly compressed) JSON body later, off the request path."""
        headers = upstream.headers

        def job() -> None:
            data = httpx.Response(200, headers=headers, content=raw).json()
            self.account_usage(self.wire.usage(data) if isinstance(data, dict) else None)

        self.state.stats.defer(job)

    # -- budget ---------------------------------------------------------------------------------
    def _estimate(self, prompt_tokens: int) -> float:
        request = self.out.request or {}
        output = self.wire.max_output_tokens(request) or self.out.config.output_buffer_tokens
        cost = self.state.registry.cost(self.out.model, prompt_tokens, output)
        if cost is None:
            if self.out.model not in _unpriced_warned:
                _unpriced_warned.add(self.out.model)
                log.warning("no price known for model %r: its requests are not counted against HEADROOM_BUDGET "
                            "(add its prices with HEADROOM_MODEL_LIMITS)", self.out.model)  # fmt: skip
            return 0.0
        return cost

    def _first_prompt_tokens(self) -> int:
        counter = get_counter(self.out.model)
        request = self.out.request or {}
        compressed = self.out.compressed
        if compressed is not None and compressed.result is not None:
            result = compressed.result
            prompt = result.tokens_after if compressed.sends_compressed else result.tokens_before
        else:
            prompt = counter.upper_bound(self.out.body.decode("utf-8", "replace"))
        tools = request.get("tools")
        if tools:
            prompt += counter.count(json.dumps(tools, ensure_ascii=False))
        return prompt

    async def reserve(self, prompt_tokens: int | None = None) -> Response | None:
        """Reserve the estimated cost of the next round; the 429 to send when the budget does not allow it."""
        budget = self.state.budget
        if budget is None:
            return None
        if prompt_tokens is None:
            prompt_tokens = await asyncio.to_thread(self._first_prompt_tokens)
        self.prompt_estimate = prompt_tokens
        estimate = self._estimate(prompt_tokens)
        reservation = await asyncio.to_thread(budget.reserve, estimate)
        if reservation is not None:
            self.reservations.append(reservation)
            return None
        self.state.stats.add("headroom_proxy_budget_rejections_total", provider=self.wire.name)
        spent = await asyncio.to_thread(budget.spent_today)
        message = (
            f"Headroom's daily budget of ${budget.limit_usd:g} (HEADROOM_BUDGET) does not allow this request: "
            f"${spent:.4f} is spent today and this request may cost up to ${estimate:.4f}. "
            "No request was sent; the budget resets at local midnight."
        )
        headers = {"retry-after": str(seconds_to_midnight()), "x-should-retry": "false"}
        return self.wire.error(429, "budget_exceeded", message, headers)

    async def settle(self, usage: ProviderUsage | None, *, refused: bool = False) -> None:
        """Replace the last reservation by the round's cost (0 when the upstream refused the request)."""
        if not self.reservations or self.state.budget is None:
            return
        reservation = self.reservations.pop()
        actual = 0.0 if refused else self.cost(usage)
        await asyncio.to_thread(self.state.budget.settle, reservation, actual)

    async def settle_all(self, *, refused: bool = False) -> None:
        """Release (refused) or keep every reservation still open."""
        while self.reservations:
            await self.settle(None, refused=refused)
