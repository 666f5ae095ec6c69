"""Forwarding to the upstreams: which one, which headers, and relaying the answer untouched.

The client's headers reach the upstream as they came (``Authorization``, ``x-api-key``,
``anthropic-version``, ``anthropic-beta``, ``accept-encoding`` and any unknown header),
except the hop-by-hop headers of this connection, ``host`` and ``content-length`` (set for
the body actually sent) and Headroom's own ``x-headroom-*`` headers (the proxy token among
them, which must never leave). The answer comes back the same way: status, headers (such as
``retry-after``) and body bytes as the upstream sent them, streamed as they arrive; only
hop-by-hop headers are dropped.

Paths the proxy does not handle itself (``/v1/models``, files, batches, embeddings, ...) are
passed through by :func:`passthrough`: to the Anthropic upstream when the path is an Anthropic
one (``/v1/messages...``, ``/v1/complete``) or the request carries ``anthropic-version``, else
to the OpenAI upstream.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from headroom.proxy.responses import provider_error
from headroom.proxy.security import upstream_ssl_context
from headroom.proxy.settings import ProxySettings
from headroom.proxy.state import ProxyState

__all__ = ["ADDED_MS_HEADER", "Upstream", "UpstreamUnavailable", "passthrough", "response_headers"]

log = logging.getLogger("headroom.proxy")

ADDED_MS_HEADER = "x-headroom-added-ms"
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
     "trailer", "trailers", "transfer-encoding", "upgrade"}
)  # fmt: skip
_NOT_FORWARDED = frozenset(name.encode() for name in HOP_BY_HOP | {"host", "content-length"})


class UpstreamUnavailable(Exception):
    """The upstream could not be reached or did not answer in time; ``status`` is 502 or 504."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def request_headers(headers: Any) -> list[tuple[bytes, bytes]]:
    """The client's headers to send upstream (see the module docs for what is left out)."""
    out = []
    for name, value in headers.raw:
        lower = name.lower()
        if lower in _NOT_FORWARDED or lower.startswith(b"x-headroom-"):
            continue
        out.append((name, value))
    return out


def response_headers(response: httpx.Response, *, decoded: bool = False) -> dict[str, str]:
    """The upstream's response headers for the client; ``decoded``: the body is sent decoded, so its
    ``content-encoding`` and ``content-length`` no longer apply."""
    skip = HOP_BY_HOP | ({"content-encoding", "content-length"} if decoded else set())
    out: dict[str, str] = {}
    for name, value in response.headers.multi_items():
        if name.lower() not in skip:
            out[name] = value if name not in out else f"{out[name]}, {value}"
    return out


class Upstream:
    """The connection pool to both upstreams of one worker (one TLS context, the request timeout)."""

    def __init__(self, settings: ProxySettings) -> None:
        self.bases = {"openai": settings.openai_upstream, "anthropic": settings.anthropic_upstream}
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.request_timeout),
            verify=upstream_ssl_context(settings.tls_strict),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=200, keepalive_expiry=30),
            follow_redirects=False,
        )

    def url(self, provider: str, path: str, query: str = "") -> str:
        """The upstream URL of ``path`` (the request's own path appended to the provider's base)."""
        return f"{self.bases[provider]}{path}" + (f"?{query}" if query else "")

    async def open(
        self, provider: str, method: str, path: str, query: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> httpx.Response:
        """Send the request; the response is open for streaming (the caller closes it)."""
        request = self.client.build_request(
            method, self.url(provider, path, query), headers=headers, content=body if body else None
        )
        try:
            return await self.client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise UpstreamUnavailable(
                504, f"the {provider} upstream did not answer in time ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(
                502, f"cannot reach the {provider} upstream at {self.bases[provider]} ({type(exc).__name__}: {exc})"
            ) from None

    async def aclose(self) -> None:
        await self.client.aclose()


async def relay_raw(response: httpx.Response) -> AsyncIterator[bytes]:
    """The upstream's body bytes as they arrive, undecoded (the client gets the same encoding)."""
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    except httpx.TransportError as exc:  # the upstream broke off mid-answer: end the client's stream too
        log.warning("upstream stream ended early (%s: %s)", type(exc).__name__, exc)


def raw_response(response: httpx.Response, added_ms: float) -> StreamingResponse:
    """The upstream's answer as it is, streamed through; the connection is released when it is done."""
    headers = response_headers(response)
    headers[ADDED_MS_HEADER] = f"{added_ms:.2f}"
    return StreamingResponse(
        relay_raw(response),
        status_code=response.status_code,
        headers=headers,
        background=BackgroundTask(response.aclose),
    )


def provider_for_path(path: str, headers: Any) -> str:
    """Which upstream a passed-through path belongs to."""
    if path.startswith(("/v1/messages", "/v1/complete")) or "anthropic-version" in headers:
        return "anthropic"
    return "openai"


async def passthrough(request: Request) -> Response:
    """Any path the proxy does not handle: forwarded untouched, answered untouched."""
    started = time.perf_counter()
    state: ProxyState = request.app.state.proxy
    provider = provider_for_path(request.url.path, request.headers)
    state.stats.add("headroom_proxy_requests_total", endpoint="passthrough", provider=provider)
    body = await request.body()
    assert state.upstream is not None
    sending = time.perf_counter()
    try:
        response = await state.upstream.open(
            provider, request.method, request.url.path, request.url.query, request_headers(request.headers), body
        )
    except UpstreamUnavailable as exc:
        state.stats.add("headroom_proxy_errors_total", kind="upstream")
        return provider_error(provider, exc.status, "api_error", exc.message)
    added = (sending - started) * 1000
    state.stats.add("headroom_proxy_upstream_responses_total", status=str(response.status_code))
    state.stats.observe_added_ms(added)
    return raw_response(response, added)
