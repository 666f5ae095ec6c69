"""Stage: context fitting. The conversation is made to fit the model's window (see :mod:`headroom.conversation.fitting`)."""

from __future__ import annotations

from headroom.compressors.base import CompressionContext
from headroom.compressors.router import compress_content
from headroom.conversation.fitting import fit_to_window
from headroom.conversation.ladder import Reshape
from headroom.pipeline.context import RequestContext

__all__ = ["ContextFitting"]


def _reshaper(ctx: RequestContext) -> Reshape:
    """Re-compression at a harder level through the content router (cached by content and level, like level 0)."""

    def reshape(text: str, tool_name: str | None, question: str, level: int) -> tuple[str, str | None] | None:
        crusher = ctx.config.crusher_for_tool(tool_name)
        if ctx.config.skips_tool(tool_name):
            return None
        cctx = CompressionContext(
            config=ctx.config,
            counter=ctx.counter,
            query=question,
            tool_name=tool_name,
            crusher=crusher,
            store=ctx.store,
            persist=ctx.persist,
            lossless_only=crusher.lossless_only or ctx.store is None,
            level=level,
        )
        out, _kind, _reason, _hit = compress_content(text, cctx)
        if out is None or len(out.text) >= len(text):
            return None
        return out.text, out.ccr_key

    return reshape


class ContextFitting:
    """Fits the window minus the output buffer; compacts to the low-water mark when it overflows."""

    name = "fitting"
    rewrites = True

    def applies(self, ctx: RequestContext) -> bool:
        # Without a working store nothing may be removed that could not be brought back.
        return not ctx.state.get("store_unavailable")

    def run(self, ctx: RequestContext) -> None:
        window = ctx.registry.context_window(ctx.model)
        limit = window - ctx.config.output_buffer_tokens
        target = min(limit, int(window * ctx.config.compaction_low_water))
        fitted = fit_to_window(
            ctx.messages,
            limit=limit,
            target=max(target, 0),
            counter=ctx.counter,
            keep_turns=ctx.config.keep_turns,
            store=ctx.store,
            persist=ctx.persist,
            originals=ctx.original,
            reshape=_reshaper(ctx),
            query=ctx.query,
            problems=ctx.config.content.log.importance_pattern,
            # The limit of the store that receives the originals (a shared store keeps its own).
            max_entry_bytes=getattr(getattr(ctx.store, "config", None), "max_entry_bytes", None)
            or ctx.config.ccr.max_entry_bytes,
        )
        ctx.messages = fitted.messages
        ctx.dropped_messages = fitted.dropped_messages
        ctx.ccr_keys.extend(fitted.ccr_keys)
        ctx.transforms.extend(fitted.transforms)
        ctx.notes.extend(fitted.notes)
        ctx.extras["fitting"] = fitted.report
