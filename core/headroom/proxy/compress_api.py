"""``POST /v1/compress`` and ``GET|POST /v1/retrieve``: headroom.compress and headroom.retrieve over HTTP.

For clients that are not Python (the TypeScript client, curl, a Go service)::

    POST /v1/compress {"messages": [...], "model": "gpt-4o", "mode": "optimize", "query": "...",
                       "session_id": "...", "config": {"keep_turns": 3}}
    -> 200 {"messages": [...], "tokens_before": 5120, "tokens_after": 812, "tokens_saved": 4308,
            "compression_ratio": 0.8414, "transforms_applied": [...], "ccr_keys": ["hr_..."],
            "mode": "optimize", "model": "gpt-4o", "notes": [...]}

    GET  /v1/retrieve?key=hr_...[&query=...]      POST /v1/retrieve {"key": "hr_...", "query": "..."}
    -> 200 {"key": "hr_...", "content": "<the original, byte for byte>"}
    -> 200 {"key": "hr_...", "query": "...", "matches": [...]}     (with a query)
    -> 404 {"error": {"type": "not_found_error", "message": "..."}}

Only ``messages`` is required (``model`` defaults to gpt-4o, ``mode`` to optimize). ``config``
takes the per-request overrides ``keep_turns``, ``output_buffer_tokens``,
``optimization_mode`` and ``tool_profiles``. Bad input is a 400
``{"error": {"type": "invalid_request_error", "message": "..."}}``. Compression runs in a worker
thread and fails open like :func:`headroom.compress`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from headroom import metrics
from headroom.ccr.retrieval import search_original
from headroom.compress import compress
from headroom.errors import HeadroomError, RetrievalError, StoreError
from headroom.proxy.responses import headroom_error, json_response
from headroom.proxy.state import ProxyState

__all__ = ["CONFIG_OVERRIDES", "compress_endpoint", "retrieve_endpoint"]

log = logging.getLogger("headroom.proxy")

CONFIG_OVERRIDES = ("keep_turns", "output_buffer_tokens", "optimization_mode", "tool_profiles")
_COMPRESS_FIELDS = frozenset({"messages", "model", "mode", "query", "session_id", "config"})


class _BadInput(Exception):
    """The caller's request cannot be used; the message says why."""


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise _BadInput(f"'{name}' must be a string, got {type(value).__name__}")
    return value


def _compress_arguments(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _BadInput("the body must be a JSON object with 'messages' (OpenAI-format chat messages)")
    unknown = sorted(set(body) - _COMPRESS_FIELDS)
    if unknown:
        raise _BadInput(f"unknown field {unknown[0]!r}; accepted: {', '.join(sorted(_COMPRESS_FIELDS))}")
    if "messages" not in body:
        raise _BadInput("'messages' is required: a list of OpenAI-format chat messages")
    model = body.get("model", "gpt-4o")
    if not isinstance(model, str) or not model.strip():
        raise _BadInput(f"'model' must be a non-empty model name, got {model!r}")
    overrides = body.get("config") or {}
    if not isinstance(overrides, dict):
        raise _BadInput(f"'config' must be an object of overrides ({', '.join(CONFIG_OVERRIDES)})")
    unknown = sorted(set(overrides) - set(CONFIG_OVERRIDES))
    if unknown:
        raise _BadInput(f"unknown config override {unknown[0]!r}; accepted: {', '.join(CONFIG_OVERRIDES)}")
    return {
        "messages": body["messages"],
        "model": model,
        "mode": _optional_str(body, "mode"),
        "query": _optional_str(body, "query"),
        "session_id": _optional_str(body, "session_id"),
        "overrides": {f"headroom_{k}": v for k, v in overrides.items()},
    }


def _run_compress(state: ProxyState, args: dict[str, Any]) -> dict[str, Any]:
    result = compress(
        args["messages"],
        args["model"],
        config=state.config,
        mode=args["mode"],
        query=args["query"],
        session_id=args["session_id"],
        **args["overrides"],
    )
    payload = {
        "messages": result.messages,
        "tokens_before": result.tokens_before,
        "tokens_after": result.tokens_after,
        "tokens_saved": result.tokens_saved,
        "compression_ratio": round(result.compression_ratio, 4),
        "transforms_applied": list(result.transforms_applied),
        "ccr_keys": list(result.ccr_keys),
        "mode": result.mode,
        "model": result.model,
        "notes": list(result.passthrough_reasons),
    }
    state.stats.add("headroom_proxy_tokens_before_total", result.tokens_before, provider="headroom")
    state.stats.add("headroom_proxy_tokens_after_total", result.tokens_after, provider="headroom")
    return payload


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise _BadInput("the body is not valid JSON") from None


async def compress_endpoint(request: Request) -> Response:
    """``POST /v1/compress``: compress OpenAI-format messages and return them with the figures."""
    state: ProxyState = request.app.state.proxy
    state.stats.add("headroom_proxy_requests_total", endpoint="compress", provider="headroom")
    try:
        args = _compress_arguments(await _json_body(request))
        payload = await asyncio.to_thread(_run_compress, state, args)
    except _BadInput as exc:
        state.stats.add("headroom_proxy_errors_total", kind="bad_request")
        return headroom_error(400, "invalid_request_error", str(exc))
    except StoreError as exc:
        state.stats.add("headroom_proxy_errors_total", kind="store")
        return headroom_error(503, "store_error", str(exc))
    except HeadroomError as exc:  # the caller's arguments: InvalidArgumentError, ConfigurationError
        state.stats.add("headroom_proxy_errors_total", kind="bad_request")
        return headroom_error(400, "invalid_request_error", str(exc))
    return json_response(payload)


def _matches(found: str) -> list[Any]:
    """search_original's answer as a list: the matching JSON items, or the matching ``N: line`` lines."""
    try:
        items = json.loads(found)
    except ValueError:
        items = None
    if isinstance(items, list):
        return items
    return found.splitlines()


def _run_retrieve(state: ProxyState, key: str, query: str | None) -> dict[str, Any]:
    original = state.store.get(key)
    if query:
        return {"key": key, "query": query, "matches": _matches(search_original(original, query))}
    return {"key": key, "content": original}


async def retrieve_endpoint(request: Request) -> Response:
    """``GET|POST /v1/retrieve``: the original stored under a CCR key, or its parts matching a query."""
    state: ProxyState = request.app.state.proxy
    state.stats.add("headroom_proxy_requests_total", endpoint="retrieve", provider="headroom")
    try:
        if request.method == "GET":
            key, query = request.query_params.get("key"), request.query_params.get("query")
        else:
            body = await _json_body(request)
            if not isinstance(body, dict):
                raise _BadInput('the body must be a JSON object: {"key": "hr_...", "query": "..."}')
            key, query = _optional_str(body, "key"), _optional_str(body, "query")
        if not key or not key.strip():
            raise _BadInput("'key' is required: a CCR key such as hr_0123456789abcdef")
        payload = await asyncio.to_thread(_run_retrieve, state, key.strip(), query or None)
    except _BadInput as exc:
        state.stats.add("headroom_proxy_errors_total", kind="bad_request")
        return headroom_error(400, "invalid_request_error", str(exc))
    except RetrievalError as exc:
        return headroom_error(404, "not_found_error", str(exc))
    except StoreError as exc:
        metrics.increment("errors.proxy.store")
        state.stats.add("headroom_proxy_errors_total", kind="store")
        return headroom_error(503, "store_error", str(exc))
    return json_response(payload)
