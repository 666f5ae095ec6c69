"""The proxy's ASGI application: routes, and what each worker opens when it starts.

| route | what it does |
|---|---|
| ``POST /v1/chat/completions`` | OpenAI chat: compressed, forwarded to the OpenAI upstream |
| ``POST /v1/messages`` | Anthropic messages: compressed, forwarded to the Anthropic upstream |
| ``POST /v1/messages/count_tokens`` | counts the request as it will be sent (compressed) |
| ``POST /v1/compress``, ``GET|POST /v1/retrieve`` | Headroom's own API (see compress_api) |
| ``GET /livez``, ``GET /readyz`` | health: the process answers / the store answers (no token needed) |
| ``GET /metrics``, ``GET /stats`` | counters of all workers (Prometheus text / JSON) |
| anything else | passed through untouched to the upstream it belongs to |

:func:`create_app` builds the app for one worker; :func:`app_from_environment` is the factory
uvicorn's worker processes call (the settings travel in the environment).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from headroom.ccr.store import get_store
from headroom.config import HeadroomConfig
from headroom.models import ModelRegistry
from headroom.proxy import chat, forwarding
from headroom.proxy.budget import DailyBudget
from headroom.proxy.compress_api import compress_endpoint, retrieve_endpoint
from headroom.proxy.prometheus import CONTENT_TYPE, render_prometheus, stats_json
from headroom.proxy.responses import json_response
from headroom.proxy.security import TokenGate
from headroom.proxy.settings import ProxySettings
from headroom.proxy.state import ProxyState
from headroom.proxy.stats import ProxyStats

__all__ = ["SETTINGS_ENV", "app_from_environment", "create_app"]

log = logging.getLogger("headroom.proxy")

_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

SETTINGS_ENV = "HEADROOM_PROXY_SETTINGS_JSON"
"""How ``headroom proxy --workers N`` hands its resolved settings to the worker processes."""


async def livez(request: Request) -> Response:
    """The process is up (``pid`` tells the workers apart)."""
    return json_response({"status": "ok", "pid": os.getpid()})


async def readyz(request: Request) -> Response:
    """The shared store answers (503 when it does not)."""
    state: ProxyState = request.app.state.proxy
    try:
        await asyncio.to_thread(state.store.stats)
    except Exception as exc:
        return json_response({"status": "unavailable", "reason": f"store: {type(exc).__name__}: {exc}"}, 503)
    return json_response({"status": "ok"})


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus text of the counters every worker wrote to the store."""
    state: ProxyState = request.app.state.proxy
    totals = await asyncio.to_thread(state.stats.totals)
    return Response(render_prometheus(totals), media_type=CONTENT_TYPE)


async def stats_endpoint(request: Request) -> Response:
    """The same totals as JSON, with the store's contents and today's budget."""
    state: ProxyState = request.app.state.proxy

    def collect() -> dict[str, object]:
        out: dict[str, object] = stats_json(state.stats.totals())
        store = state.store.stats()
        out["store"] = {k: store[k] for k in ("url", "entries", "bytes", "retrievals")}
        out["budget"] = state.budget.status() if state.budget is not None else None
        out["mode"] = state.settings.mode
        return out

    return json_response(await asyncio.to_thread(collect))


def _warm_up(config: HeadroomConfig) -> None:
    """Load the tokenizers and the pipeline's modules before the first request, not during it."""
    from headroom.config import HeadroomMode
    from headroom.providers.openai_provider import OpenAIProvider
    from headroom.providers.request_compression import compress_request

    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Headroom proxy warm-up."}]}
    result = compress_request(OpenAIProvider(), request, config=config, mode=HeadroomMode.SIMULATE, store=None).result
    if result is not None:
        result.tokens_before  # noqa: B018 - counting loads the encoding


def create_app(settings: ProxySettings | None = None) -> Starlette:
    """The proxy for one worker: opens the store (and the proxy's tables in it) now, the upstream client on start-up."""
    settings = settings or ProxySettings.load()
    config = settings.headroom_config()
    store = get_store(config)
    state = ProxyState(
        settings=settings,
        config=config,
        store=store,
        stats=ProxyStats(store.engine),
        registry=ModelRegistry.for_config(config),
        budget=DailyBudget(store.engine, settings.budget_usd) if settings.budget_usd else None,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.upstream = forwarding.Upstream(settings)
        await asyncio.to_thread(_warm_up, config)
        state.stats.start()
        try:
            yield
        finally:
            await state.upstream.aclose()
            await asyncio.to_thread(state.stats.close)
            await asyncio.to_thread(store.flush)

    routes = [
        Route("/livez", livez, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/stats", stats_endpoint, methods=["GET"]),
        Route("/v1/compress", compress_endpoint, methods=["POST"]),
        Route("/v1/retrieve", retrieve_endpoint, methods=["GET", "POST"]),
        Route("/v1/chat/completions", chat.openai_chat, methods=["POST"]),
        Route("/v1/messages", chat.anthropic_messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", chat.anthropic_count_tokens, methods=["POST"]),
        Route("/{path:path}", forwarding.passthrough, methods=_ALL_METHODS),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(TokenGate, token=settings.proxy_token)], lifespan=lifespan)
    app.state.proxy = state
    return app


def app_from_environment() -> Starlette:
    """The app of a uvicorn worker process: settings from ``HEADROOM_PROXY_SETTINGS_JSON`` (set by
    ``headroom proxy``), else from the ``HEADROOM_*`` variables."""
    raw = os.environ.get(SETTINGS_ENV)
    settings = ProxySettings.model_validate_json(raw) if raw else ProxySettings.load()
    return create_app(settings)
