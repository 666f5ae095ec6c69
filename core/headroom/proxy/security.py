"""Who may call the proxy, and how it checks whom it calls.

- :class:`TokenGate`: with ``HEADROOM_PROXY_TOKEN`` set, a caller that is not on loopback must
  send the token in ``x-headroom-proxy-token`` (its own header, so it never collides with the
  provider key in ``Authorization`` / ``x-api-key``), compared in constant time. ``/livez`` and
  ``/readyz`` stay open for health checks. Loopback callers are trusted: anything that can
  reach 127.0.0.1 already runs on this machine. Behind a reverse proxy on this machine, uvicorn
  takes the caller's address from ``X-Forwarded-For`` (trusted from 127.0.0.1 only), so remote
  callers still need the token; a reverse proxy that does not set the header makes every caller
  look local.
- :func:`upstream_ssl_context`: the TLS context for the upstreams. Certificate chain, hostname
  and expiry are always checked; ``HEADROOM_TLS_STRICT`` only decides OpenSSL's
  ``VERIFY_X509_STRICT`` (RFC 5280 strictness that some TLS-inspecting corporate proxies fail).
"""

from __future__ import annotations

import hmac
import json
import os
import ssl
from typing import Any

from headroom.proxy.settings import is_loopback_host

__all__ = ["TOKEN_HEADER", "TokenGate", "upstream_ssl_context"]

TOKEN_HEADER = "x-headroom-proxy-token"
OPEN_PATHS = frozenset({"/livez", "/readyz"})

_REJECTED = json.dumps(
    {
        "type": "error",
        "error": {
            "type": "authentication_error",
            "message": f"this Headroom proxy needs its token in the {TOKEN_HEADER} header for callers "
            "that are not on this machine (HEADROOM_PROXY_TOKEN)",
        },
    }
).encode()


class TokenGate:
    """ASGI middleware: refuse non-loopback callers without the proxy token (401)."""

    def __init__(self, app: Any, token: str | None) -> None:
        self.app = app
        self._token = token.encode() if token else None
        self._header = TOKEN_HEADER.encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self._token is None or scope["type"] != "http" or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(_REJECTED)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": _REJECTED})

    def _allowed(self, scope: dict[str, Any]) -> bool:
        client = scope.get("client")
        if client and is_loopback_host(str(client[0])):
            return True
        if scope.get("path") in OPEN_PATHS:
            return True
        assert self._token is not None
        presented = b""
        for name, value in scope.get("headers") or ():
            if name.lower() == self._header:
                presented = value
                break
        return hmac.compare_digest(presented, self._token)


def upstream_ssl_context(strict: bool = True) -> ssl.SSLContext:
    """A verifying client context (system CAs, or ``SSL_CERT_FILE``, else certifi's bundle when installed).

    ``strict`` sets ``VERIFY_X509_STRICT``; without it the flag is cleared (Python 3.13 sets it by
    default). Chain, hostname and expiry verification are on either way.
    """
    cafile = os.environ.get("SSL_CERT_FILE") or None
    if cafile is None:
        try:
            import certifi

            cafile = certifi.where()
        except ImportError:
            cafile = None
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    strict_flag = getattr(ssl, "VERIFY_X509_STRICT", 0)
    if strict:
        ctx.verify_flags |= strict_flag
    else:
        ctx.verify_flags &= ~strict_flag
    return ctx
