"""The token gate for callers that are not on loopback, and the upstream TLS context."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from headroom.proxy.app import create_app
from headroom.proxy.security import TOKEN_HEADER, upstream_ssl_context
from headroom.proxy.server import _warnings
from headroom.proxy.settings import ProxySettings

TOKEN = "s3cret-proxy-token"
REMOTE = ("203.0.113.7", 40000)  # TEST-NET-3: an address that is not this machine


def _call(app: Any, client: tuple[str, int], method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request to the ASGI app as if it came from ``client`` (no network involved)."""

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as http:
            return await http.request(method, path, **kwargs)

    return asyncio.run(run())


@pytest.fixture
def gated_app(settings_for: Callable[..., ProxySettings]) -> Any:
    return create_app(settings_for(proxy_token=TOKEN))


BODY = {"messages": [{"role": "user", "content": "hello"}]}


def test_remote_caller_without_the_token_is_refused(gated_app: Any) -> None:
    response = _call(gated_app, REMOTE, "POST", "/v1/compress", json=BODY)
    assert response.status_code == 401
    assert TOKEN_HEADER in response.json()["error"]["message"]


def test_remote_caller_with_a_wrong_token_is_refused(gated_app: Any) -> None:
    response = _call(gated_app, REMOTE, "POST", "/v1/compress", json=BODY, headers={TOKEN_HEADER: "guess"})
    assert response.status_code == 401


def test_remote_caller_with_the_token_gets_through(gated_app: Any) -> None:
    response = _call(gated_app, REMOTE, "POST", "/v1/compress", json=BODY, headers={TOKEN_HEADER: TOKEN})
    assert response.status_code == 200


def test_the_provider_key_is_not_the_proxy_token(gated_app: Any) -> None:
    headers = {"authorization": f"Bearer {TOKEN}", "x-api-key": TOKEN}
    response = _call(gated_app, REMOTE, "GET", "/v1/retrieve?key=hr_0000000000000000", headers=headers)
    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/livez", "/readyz"])
def test_health_endpoints_need_no_token(gated_app: Any, path: str) -> None:
    assert _call(gated_app, REMOTE, "GET", path).status_code == 200


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1"])
def test_loopback_callers_need_no_token(gated_app: Any, host: str) -> None:
    assert _call(gated_app, (host, 40000), "POST", "/v1/compress", json=BODY).status_code == 200


def test_without_a_token_remote_callers_are_served(settings_for: Callable[..., ProxySettings]) -> None:
    app = create_app(settings_for())
    assert _call(app, REMOTE, "POST", "/v1/compress", json=BODY).status_code == 200


def test_binding_a_public_address_without_a_token_warns() -> None:
    assert any("HEADROOM_PROXY_TOKEN" in w for w in _warnings(ProxySettings(host="0.0.0.0")))
    assert _warnings(ProxySettings(host="0.0.0.0", proxy_token=TOKEN)) == []
    assert _warnings(ProxySettings(host="127.0.0.1")) == []


def test_strict_tls_sets_the_x509_strict_flag_and_keeps_every_check() -> None:
    ctx = upstream_ssl_context(strict=True)
    assert ctx.verify_flags & ssl.VERIFY_X509_STRICT
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED


def test_relaxed_tls_clears_only_the_strict_flag() -> None:
    ctx = upstream_ssl_context(strict=False)
    assert not ctx.verify_flags & ssl.VERIFY_X509_STRICT
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.get_ca_certs() or ctx.cert_store_stats()["x509_ca"]


def test_the_real_server_gates_a_remote_caller_forwarded_by_a_local_reverse_proxy(
    start_proxy: Callable[..., Any], srv: Any
) -> None:
    forwarded = {"x-forwarded-for": "203.0.113.7"}  # what nginx on this machine adds for a remote client
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    with start_proxy(proxy_token=TOKEN) as proxy:
        url = f"{proxy.openai_base_url}/chat/completions"
        refused = httpx.post(url, json=body, headers=forwarded)
        allowed = httpx.post(url, json=body, headers={**forwarded, TOKEN_HEADER: TOKEN})
        local = httpx.post(url, json=body)
    assert (refused.status_code, allowed.status_code, local.status_code) == (401, 200, 200)
    assert len(srv.requests) == 2
    assert all(TOKEN_HEADER not in r.headers for r in srv.requests)
