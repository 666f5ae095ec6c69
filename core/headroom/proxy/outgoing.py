"""From the client's request to the request sent upstream.

1. The body is parsed once. A body that is not a JSON object with a ``messages`` list is sent
   as it came (the upstream answers it as it would without the proxy).
2. Per-request overrides are taken out: ``x-headroom-*`` headers (``mode``, ``keep-turns``,
   ``output-buffer-tokens``, ``optimization-mode``, ``tool-profiles`` as JSON,
   ``session-id``) and, in the body, ``headroom_*`` fields (which win), stripped before
   forwarding. ``x-headroom-mode`` takes either axis: audit/optimize/simulate, or token/cache.
3. The request is compressed by the shared :func:`compress_request`: a small body at once, a
   larger one in a worker thread with ``compress_timeout``; an error or a timeout sends the
   original (fail open, counted).
4. When the messages sent omit stored content (new CCR keys, or markers of earlier
   compressions still in the history) and the client defines no tool of that name, the
   ``headroom_retrieve`` tool is added: the proxy answers its calls itself.
5. A body nothing changed is sent byte for byte; otherwise the new request is serialised.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from dataclasses import dataclass
from typing import Any

from headroom import metrics
from headroom.ccr.markers import referenced_keys
from headroom.config import HeadroomConfig, HeadroomMode, parse_mode, parse_optimization_mode
from headroom.errors import ConfigurationError
from headroom.providers.request_compression import CompressedRequest, compress_request, split_overrides
from headroom.proxy.state import ProxyState
from headroom.proxy.wire import Wire

__all__ = ["BadOverride", "Outgoing", "dumps", "header_overrides", "prepare"]

log = logging.getLogger("headroom.proxy")

SESSION_HEADER = "x-headroom-session-id"
INLINE_BYTES = 8192
"""Bodies up to this size are compressed on the event loop (nothing in them is slow to compress);
larger ones in a worker thread, under ``compress_timeout``."""
_INT_HEADERS = {"x-headroom-keep-turns": "headroom_keep_turns",
                "x-headroom-output-buffer-tokens": "headroom_output_buffer_tokens"}  # fmt: skip


class BadOverride(Exception):
    """A per-request override the client sent is not valid (answered with 400)."""


@dataclass(frozen=True)
class Outgoing:
    """What goes upstream for one client request, and how it came about."""

    body: bytes
    request: dict[str, Any] | None
    """The request sent, parsed (None when the client's body was not a chat request and goes as it came)."""
    model: str
    mode: HeadroomMode
    config: HeadroomConfig
    compressed: CompressedRequest | None = None
    changed: bool = False
    """The body sent differs from the client's."""
    offers_retrieval: bool = False


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON; text that cannot be UTF-8 (a lone surrogate the client escaped) stays escaped."""
    try:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(data, separators=(",", ":")).encode("ascii")


def header_overrides(headers: Any) -> tuple[dict[str, Any], str | None]:
    """The overrides and the session id sent as ``x-headroom-*`` headers."""
    out: dict[str, Any] = {}
    mode = headers.get("x-headroom-mode")
    if mode:
        try:
            out["headroom_mode"] = parse_mode(mode, "x-headroom-mode").value
        except ConfigurationError:
            try:
                out["headroom_optimization_mode"] = parse_optimization_mode(mode, "x-headroom-mode")
            except ConfigurationError:
                raise BadOverride(
                    f"invalid value {mode!r} for x-headroom-mode: accepted audit, optimize, simulate, token or cache"
                ) from None
    if headers.get("x-headroom-optimization-mode"):
        out["headroom_optimization_mode"] = headers["x-headroom-optimization-mode"]
    for name, key in _INT_HEADERS.items():
        raw = headers.get(name)
        if raw is not None:
            try:
                out[key] = int(raw)
            except ValueError:
                raise BadOverride(f"invalid value {raw!r} for {name}: accepted an integer >= 0") from None
    profiles = headers.get("x-headroom-tool-profiles")
    if profiles:
        try:
            out["headroom_tool_profiles"] = json.loads(profiles)
        except ValueError:
            raise BadOverride("x-headroom-tool-profiles must be a JSON object of tool name -> profile") from None
    return out, headers.get(SESSION_HEADER) or None


def _as_chat_request(raw: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("messages"), list) else None


def _omits_stored_content(raw: bytes, compressed: CompressedRequest) -> bool:
    result = compressed.result
    if result is None:
        return False
    if result.ccr_keys:
        return True
    return b"hr_" in raw and bool(referenced_keys(result.messages))


async def prepare(
    state: ProxyState, wire: Wire, raw: bytes, headers: Any, *, mode: HeadroomMode | None = None
) -> Outgoing:
    """The request to send for the client's ``raw`` body (see the module docs). ``mode`` forces a mode
    (count_tokens measures what optimize would send without storing anything)."""
    request = _as_chat_request(raw)
    if request is None:
        return Outgoing(raw, None, "", HeadroomMode.AUDIT, state.config)
    stripped, body_overrides, body_session = split_overrides(request)
    from_headers, header_session = header_overrides(headers)
    overrides = {**from_headers, **body_overrides}
    try:
        config = state.config.with_overrides(**overrides) if overrides else state.config
    except ConfigurationError as exc:
        raise BadOverride(str(exc)) from None
    chosen = config.default_mode
    if mode is not None and chosen is not HeadroomMode.AUDIT:
        chosen = mode
    model = stripped.get("model")
    model = model if isinstance(model, str) else ""
    compressed: CompressedRequest | None = None
    job = functools.partial(
        compress_request, wire.provider, stripped, config=config, mode=chosen, store=state.store,
        session_id=body_session or header_session, source="proxy",
    )  # fmt: skip
    if len(raw) <= INLINE_BYTES:
        compressed = job()  # a fraction of a millisecond: cheaper here than a hand-off to a thread
    else:
        try:
            compressed = await asyncio.wait_for(asyncio.to_thread(job), timeout=state.settings.compress_timeout)
        except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11 on
            metrics.increment("errors.proxy.compress_timeout")
            state.stats.add("headroom_proxy_errors_total", kind="compress_timeout")
            log.warning(
                "compression took longer than %.1f s; the original request is sent", state.settings.compress_timeout
            )
    if compressed is not None and compressed.result is None:
        state.stats.add("headroom_proxy_errors_total", kind="compression")
    send = compressed.request if compressed is not None and compressed.sends_compressed else stripped
    offers = False
    if (
        compressed is not None
        and compressed.sends_compressed
        and config.ccr.enabled
        and config.ccr.inject_retrieval_tool
        and config.ccr.max_retrieval_rounds > 0
        and wire.offers_retrieval(send)
        and _omits_stored_content(raw, compressed)
    ):
        send, offers = wire.with_retrieve_tool(send), True
    changed = send is not request
    return Outgoing(
        body=dumps(send) if changed else raw, request=send, model=model, mode=chosen, config=config,
        compressed=compressed, changed=changed, offers_retrieval=offers,
    )  # fmt: skip
