"""Stage: cache alignment. System prompts keep a byte-stable head; dynamic values move to a tail."""

from __future__ import annotations

from headroom.conversation.cache_aligner import align_system_messages
from headroom.pipeline.context import RequestContext

__all__ = ["CacheAlignment"]


class CacheAlignment:
    """Moves dates, ids and other per-request values of system messages to a dynamic tail."""

    name = "cache_aligner"
    rewrites = True

    def applies(self, ctx: RequestContext) -> bool:
        return ctx.config.cache_aligner.enabled

    def run(self, ctx: RequestContext) -> None:
        ctx.messages, applied = align_system_messages(ctx.messages, ctx.config.cache_aligner)
        ctx.transforms.extend(applied)
