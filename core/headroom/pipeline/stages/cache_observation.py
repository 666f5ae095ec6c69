"""Stage: the cached-token estimate. What the provider is expected to read from its prompt cache for this request.

Compares what is sent with the previous request of the conversation (digests only, cheap); the
tokens are counted when the result's figures are first read.
"""

from __future__ import annotations

import logging
from typing import Any

from headroom import metrics
from headroom.conversation.cache_hints import observe_request
from headroom.pipeline.context import RequestContext
from headroom.result import LazyMapping

__all__ = ["CacheObservation"]

log = logging.getLogger("headroom.pipeline")


class CacheObservation:
    """Records the request as the conversation's latest and reports the expected cache hit lazily."""

    name = "cache_estimate"
    rewrites = False

    def applies(self, ctx: RequestContext) -> bool:
        return ctx.config.cache_optimizer.enabled

    def run(self, ctx: RequestContext) -> None:
        observation = observe_request(
            ctx.to_send,
            provider=ctx.provider,
            session_key=f"{ctx.model}|{ctx.session_key}",
            record=ctx.persist,
            max_sessions=ctx.config.prefix_freeze.max_sessions,
        )
        counter = ctx.counter

        def report() -> dict[str, Any]:
            try:
                estimate = observation.estimate(counter)
            except Exception as exc:  # accounting only: report nothing cached rather than fail the caller
                metrics.increment("errors.pipeline.cache_estimate")
                log.exception("cached-token estimate failed; reported as 0")
                return {"provider": ctx.provider, "cached_tokens": 0, "uncached_tokens": None, "error": repr(exc)}
            metrics.increment("cache.cached_tokens", estimate.cached_tokens)
            metrics.increment("cache.uncached_tokens", estimate.uncached_tokens)
            return {
                "provider": ctx.provider,
                "cached_tokens": estimate.cached_tokens,
                "uncached_tokens": estimate.uncached_tokens,
                "common_prefix_messages": estimate.common_prefix_messages,
                **estimate.details,
            }

        ctx.extras["cache"] = LazyMapping(report)
