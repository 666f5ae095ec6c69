"""Stage: provider cache hints (Anthropic ``cache_control`` breakpoints; OpenAI needs none, only a stable prefix)."""

from __future__ import annotations

from headroom.conversation.cache_hints import apply_cache_hints
from headroom.pipeline.context import RequestContext

__all__ = ["CacheHints"]


class CacheHints:
    """Marks where the provider should cache the prompt prefix."""

    name = "cache_hints"
    rewrites = True

    def applies(self, ctx: RequestContext) -> bool:
        return ctx.config.cache_optimizer.enabled

    def run(self, ctx: RequestContext) -> None:
        hinted = apply_cache_hints(
            ctx.messages,
            provider=ctx.provider,
            config=ctx.config.cache_optimizer,
            counter=ctx.counter,
            session_key=f"{ctx.model}|{ctx.session_key}",
        )
        ctx.messages = hinted.messages
        ctx.transforms.extend(hinted.transforms)
