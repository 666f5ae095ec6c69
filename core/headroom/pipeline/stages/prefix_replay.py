"""Stage: cache mode's replay. Frozen messages are sent in the form first sent; this request's forms are remembered."""

from __future__ import annotations

from headroom.config import HeadroomMode
from headroom.conversation import prefix_freeze
from headroom.pipeline.context import RequestContext

__all__ = ["FrozenPrefixReplay"]


class FrozenPrefixReplay:
    """Puts the remembered forms of the frozen prefix back, then remembers this request's forms (optimize only)."""

    name = "prefix_freeze"
    rewrites = True

    def applies(self, ctx: RequestContext) -> bool:
        return ctx.cache_mode and "prefix_digests" in ctx.state

    def run(self, ctx: RequestContext) -> None:
        frozen: prefix_freeze.FrozenPrefix = ctx.state.get("frozen_prefix", prefix_freeze.FrozenPrefix())
        if frozen.input_count:
            ctx.messages = prefix_freeze.replay(ctx.messages, frozen)
            ctx.transforms.append(f"prefix_freeze:replayed:{frozen.input_count}")
        ctx.extras["prefix_freeze"] = {"frozen_input_messages": frozen.input_count}
        if ctx.mode is HeadroomMode.OPTIMIZE:
            prefix_freeze.remember(
                ctx.state["prefix_digests"], ctx.messages, session_key=ctx.session_key, config=ctx.config.prefix_freeze
            )
