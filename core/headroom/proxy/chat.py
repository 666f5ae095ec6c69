"""The chat endpoints: ``POST /v1/chat/completions``, ``POST /v1/messages``, ``/v1/messages/count_tokens``.

For each request: prepare what goes upstream (:mod:`headroom.proxy.outgoing`), check the
budget, send it, and answer the client:

- an upstream error (any status but 200) comes back as the upstream sent it;
- an answer the proxy need not look into is relayed untouched (streams event by event as
  they arrive; a JSON body as its bytes, its usage read later for the counters);
- an answer in which the proxy offered ``headroom_retrieve``, or whose usage the budget needs,
  goes through the retrieval loop (:mod:`retrieval_loop` for JSON, :mod:`streaming` for SSE).

``x-headroom-mode: simulate`` answers with the plan instead of calling the upstream.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from headroom.config import HeadroomMode
from headroom.proxy.anthropic_wire import AnthropicWire
from headroom.proxy.exchange import Clock, Exchange
from headroom.proxy.forwarding import UpstreamUnavailable
from headroom.proxy.openai_wire import OpenAIWire
from headroom.proxy.outgoing import BadOverride, Outgoing, prepare
from headroom.proxy.responses import json_response
from headroom.proxy.retrieval_loop import json_rounds
from headroom.proxy.state import ProxyState
from headroom.proxy.streaming import stream_rounds
from headroom.proxy.wire import Wire

__all__ = ["anthropic_count_tokens", "anthropic_messages", "openai_chat"]

OPENAI = OpenAIWire()
ANTHROPIC = AnthropicWire()


def _simulation(out: Outgoing) -> Response:
    result = out.compressed.result if out.compressed else None
    return json_response(
        {
            "object": "headroom.simulation",
            "request": out.request,
            "tokens_before": result.tokens_before if result else None,
            "tokens_after": result.tokens_after if result else None,
            "transforms_applied": list(result.transforms_applied) if result else [],
            "ccr_keys": list(result.ccr_keys) if result else [],
            "retrieve_tool_offered": out.offers_retrieval,
        }
    )


def _account(state: ProxyState, wire: Wire, out: Outgoing) -> None:
    if out.changed:
        state.stats.add("headroom_proxy_compressed_requests_total", provider=wire.name)
    compressed = out.compressed
    if compressed is not None and compressed.result is not None:
        state.stats.account_tokens(compressed.result, sent_compressed=compressed.sends_compressed, provider=wire.name)


async def _handle(request: Request, wire: Wire, endpoint: str) -> Response:
    clock = Clock()
    state: ProxyState = request.app.state.proxy
    state.stats.add("headroom_proxy_requests_total", endpoint=endpoint, provider=wire.name)
    raw = await request.body()
    try:
        out = await prepare(state, wire, raw, request.headers)
    except BadOverride as exc:
        state.stats.add("headroom_proxy_errors_total", kind="bad_request")
        return wire.error(400, "invalid_request_error", str(exc))
    if out.mode is HeadroomMode.SIMULATE:
        return _simulation(out)
    _account(state, wire, out)
    ex = Exchange(state, wire, request, out, clock)
    if out.request is not None:
        refusal = await ex.reserve()
        if refusal is not None:
            return refusal
    try:
        upstream = await ex.open(out.body)
    except UpstreamUnavailable as exc:
        await ex.settle_all(refused=True)
        state.stats.add("headroom_proxy_errors_total", kind="upstream")
        return wire.error(exc.status, "api_error", exc.message)
    if upstream.status_code != 200:
        await ex.settle_all(refused=True)
        return ex.raw(upstream)
    is_stream = upstream.headers.get("content-type", "").startswith("text/event-stream")
    if out.offers_retrieval or ex.reservations:
        return stream_rounds(ex, upstream) if is_stream else await json_rounds(ex, upstream)
    if is_stream or out.request is None:
        return ex.raw(upstream)
    return await ex.relay_json(upstream)


async def openai_chat(request: Request) -> Response:
    """``POST /v1/chat/completions``."""
    return await _handle(request, OPENAI, "chat")


async def anthropic_messages(request: Request) -> Response:
    """``POST /v1/messages``."""
    return await _handle(request, ANTHROPIC, "messages")


async def anthropic_count_tokens(request: Request) -> Response:
    """``POST /v1/messages/count_tokens``: the upstream counts the request as the proxy would send it.

    The request is compressed as ``/v1/messages`` would compress it (headroom_retrieve included
    when it would be offered), without storing anything, so a client that sizes its context with
    this endpoint sees the tokens it will actually be billed for.
    """
    clock = Clock()
    state: ProxyState = request.app.state.proxy
    state.stats.add("headroom_proxy_requests_total", endpoint="count_tokens", provider="anthropic")
    raw = await request.body()
    try:
        out = await prepare(state, ANTHROPIC, raw, request.headers, mode=HeadroomMode.SIMULATE)
    except BadOverride as exc:
        return ANTHROPIC.error(400, "invalid_request_error", str(exc))
    ex = Exchange(state, ANTHROPIC, request, out, clock)
    try:
        upstream = await ex.open(out.body)
    except UpstreamUnavailable as exc:
        state.stats.add("headroom_proxy_errors_total", kind="upstream")
        return ANTHROPIC.error(exc.status, "api_error", exc.message)
    return ex.raw(upstream)
