"""A streamed answer the proxy has to look into: relayed event by event, retrieval rounds inside.

The proxy looks into a stream when it offered ``headroom_retrieve`` (to hold back the tool's
calls and answer them) or when a budget is set (to read the usage). Every event is passed to
the client as soon as it is complete, through the wire's :class:`StreamFilter`; nothing is
buffered beyond one event. When a round ends by calling only the retrieve tool, the proxy
answers the calls, sends the continued conversation upstream with ``stream: true`` and relays
that stream into the same response, so the client reads one stream. An upstream error in a
later round reaches the client as an error event of the provider's stream format.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import httpx
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from headroom.proxy.exchange import Exchange
from headroom.proxy.forwarding import ADDED_MS_HEADER, response_headers
from headroom.proxy.outgoing import dumps
from headroom.proxy.retrieval_loop import answer_calls, next_prompt_tokens
from headroom.proxy.sse import SSEParser
from headroom.proxy.wire import StreamFilter

__all__ = ["stream_rounds"]

log = logging.getLogger("headroom.proxy")


def _one_line(body: bytes) -> bytes:
    try:
        return dumps(json.loads(body))
    except ValueError:
        return dumps({"type": "error", "error": {"type": "api_error", "message": body.decode("utf-8", "replace")}})


async def _relay(response: httpx.Response, stream_filter: StreamFilter) -> AsyncIterator[bytes]:
    parser = SSEParser()
    try:
        async for chunk in response.aiter_bytes():
            for event in parser.feed(chunk):
                for out in stream_filter.feed(event):
                    yield out
        for event in parser.close():
            for out in stream_filter.feed(event):
                yield out
    finally:
        await response.aclose()


async def _rounds(ex: Exchange, first: httpx.Response, stream_filter: StreamFilter) -> AsyncIterator[bytes]:
    current = first
    request = ex.out.request or {}
    limit = ex.out.config.ccr.max_retrieval_rounds
    rounds = 0
    try:
        while True:
            async for out in _relay(current, stream_filter):
                yield out
            usage = stream_filter.usage()
            ex.account_usage(usage)
            await ex.settle(usage)
            if not (ex.out.offers_retrieval and stream_filter.wants_retrieval() and rounds < limit):
                break
            assistant = stream_filter.assistant_turn()
            answers = await answer_calls(ex, stream_filter.retrieve_calls())
            rounds += 1
            request = ex.wire.continuation(request, assistant, answers)
            if rounds >= limit:
                request = ex.wire.for_final_round(request)
            if await ex.reserve(await asyncio.to_thread(next_prompt_tokens, ex, usage, assistant, answers)) is not None:
                break
            current = await ex.open(dumps(request))
            if current.status_code != 200:
                await ex.settle(None, refused=True)
                yield ex.wire.stream_error(_one_line(await ex.read(current)))
                return
            stream_filter.next_round()
        for out in stream_filter.finish():
            yield out
    except httpx.HTTPError as exc:  # the upstream broke off: end the client's stream where it is
        log.warning("upstream stream ended early (%s: %s)", type(exc).__name__, exc)
        await current.aclose()


def stream_rounds(ex: Exchange, upstream: httpx.Response) -> StreamingResponse:
    """The client's streamed response for ``upstream`` (see the module docs)."""
    stream_filter = ex.wire.stream_filter(hold_retrieve=ex.out.offers_retrieval)
    headers = response_headers(upstream, decoded=True)
    headers[ADDED_MS_HEADER] = f"{ex.finish():.2f}"
    return StreamingResponse(
        _rounds(ex, upstream, stream_filter),
        status_code=upstream.status_code,
        headers=headers,
        background=BackgroundTask(ex.settle_all),
    )
