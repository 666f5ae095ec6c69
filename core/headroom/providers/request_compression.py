"""Compress one provider request: the step HeadroomClient and the proxy share.

A request in a provider's format (OpenAI chat completions or Anthropic messages) goes through
four steps: its ``headroom_*`` override keys are taken out (:func:`split_overrides`); its
conversation is converted to the pipeline's OpenAI-format messages and compressed by
:func:`headroom.pipeline.run_pipeline`; the compressed conversation is converted back; the
provider's cache hints are placed. Any failure in those steps sends the request as written
(fail open), logged and counted under ``errors.<source>.*``. When nothing changed, the
request object itself is returned, so a caller can tell by identity and forward its original
bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from headroom import metrics
from headroom.config import HeadroomConfig, HeadroomMode
from headroom.pipeline import run_pipeline
from headroom.providers.base import Provider
from headroom.result import CompressResult

__all__ = ["OVERRIDE_PREFIX", "SESSION_KEY", "CompressedRequest", "compress_request", "split_overrides"]

log = logging.getLogger("headroom.providers")

OVERRIDE_PREFIX = "headroom_"
SESSION_KEY = "headroom_session_id"


def split_overrides(request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """``(request without headroom_* keys, the overrides, the session id)``.

    Overrides may sit at the top level or inside ``extra_body`` (where SDKs put unknown
    parameters); top-level ones win. ``request`` itself is returned when it holds none.
    """
    extra = request.get("extra_body")
    nested = isinstance(extra, dict) and any(k.startswith(OVERRIDE_PREFIX) for k in extra)
    if not nested and not any(k.startswith(OVERRIDE_PREFIX) for k in request):
        return request, {}, None
    out = dict(request)
    overrides = {k: out.pop(k) for k in list(out) if k.startswith(OVERRIDE_PREFIX)}
    if nested:
        assert isinstance(extra, dict)
        out["extra_body"] = {k: v for k, v in extra.items() if not k.startswith(OVERRIDE_PREFIX)}
        overrides = {**{k: v for k, v in extra.items() if k.startswith(OVERRIDE_PREFIX)}, **overrides}
        if not out["extra_body"]:
            out.pop("extra_body")
    session_id = overrides.pop(SESSION_KEY, None)
    return out, overrides, None if session_id is None else str(session_id)


@dataclass(frozen=True)
class CompressedRequest:
    """What to send for one request, and what the pipeline did to it."""

    request: dict[str, Any]
    """The request to send: the caller's own object when nothing changed."""
    result: CompressResult | None
    """The pipeline's report (None when the pipeline failed and the request goes out as written)."""
    core: list[dict[str, Any]] | None = None
    """The caller's conversation in the pipeline's OpenAI format (None when it could not be read)."""
    hints: tuple[str, ...] = ()
    """Provider cache hints placed on the request."""
    sent_original: bool = False
    """True when the optimized request could not be built and the caller's request is sent."""

    @property
    def sends_compressed(self) -> bool:
        """True when what is sent is the pipeline's output (optimize or simulate, built without error)."""
        return self.result is not None and not self.sent_original and self.result.mode != HeadroomMode.AUDIT.value


def compress_request(
    provider: Provider,
    request: dict[str, Any],
    *,
    config: HeadroomConfig,
    mode: HeadroomMode,
    store: Any,
    session_id: str | None = None,
    source: str = "client",
) -> CompressedRequest:
    """Compress ``request`` (overrides already split off) for ``provider``; never raises for internal errors."""
    core: list[dict[str, Any]] | None = None
    result: CompressResult | None = None
    model = request.get("model")
    try:
        core = provider.to_core_messages(request)
        result = run_pipeline(
            core, model=model if isinstance(model, str) else "", config=config, mode=mode,
            store=store if config.ccr.enabled else None, session_id=session_id,
        )  # fmt: skip
    except Exception as exc:  # fail open: the request goes out as the caller wrote it
        metrics.increment(f"errors.{source}.pipeline")
        log.warning("Headroom could not compress this request (%s: %s); sending it unchanged",
                    type(exc).__name__, exc)  # fmt: skip
        return CompressedRequest(request, None, core)
    if mode is HeadroomMode.AUDIT:
        return CompressedRequest(request, result, core)
    try:
        out = request
        if result.messages != core:
            out = provider.with_core_messages(request, result.messages)
        hints: list[str] = []
        if config.cache_optimizer.enabled:
            out, hints = provider.apply_cache_hints(out, config)
    except Exception as exc:
        metrics.increment(f"errors.{source}.provider_conversion")
        log.warning("Headroom could not build the optimized request (%s: %s); sending it unchanged",
                    type(exc).__name__, exc)  # fmt: skip
        return CompressedRequest(request, result, core, sent_original=True)
    return CompressedRequest(out, result, core, tuple(hints))
