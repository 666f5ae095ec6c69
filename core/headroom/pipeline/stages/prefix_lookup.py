"""Stage: cache mode's lookup. Which leading messages an earlier request of the conversation already compressed."""

from __future__ import annotations

from headroom.conversation import prefix_freeze
from headroom.conversation.cache_aligner import system_head
from headroom.pipeline.context import RequestContext

__all__ = ["FrozenPrefixLookup"]


class FrozenPrefixLookup:
    """Finds the frozen prefix before content compression, so the content stage skips those messages."""

    name = "prefix_freeze"
    rewrites = False

    def applies(self, ctx: RequestContext) -> bool:
        return ctx.cache_mode

    def run(self, ctx: RequestContext) -> None:
        aligner = ctx.config.cache_aligner
        head = (lambda m: system_head(m, aligner)) if aligner.enabled else None
        digests = prefix_freeze.input_digests(ctx.original, head)
        ctx.state["prefix_digests"] = digests
        frozen = prefix_freeze.lookup(digests, session_key=ctx.session_key, config=ctx.config.prefix_freeze)
        ctx.state["frozen_prefix"] = frozen
        ctx.frozen_count = frozen.input_count
