"""Stage: content compression. Each tool output and long text goes through the content router.

Each tool output is judged against the question that led to it (``question_for``), unless the
request's ``query`` overrides it, so an output compresses the same way in every later request of
the conversation. Never compressed here: the last user message (the question itself), messages a
cache-mode request froze, the ``keep_turns`` most recent turns (sent uncompressed; fitting may
still have to shrink them), what ``headroom_retrieve`` returned, and tools with ``skip_compression``.
"""

from __future__ import annotations

import time

from headroom.ccr.retrieval import RETRIEVE_TOOL_NAME
from headroom.compressors.base import CompressionContext
from headroom.compressors.router import compress_content
from headroom.conversation.turns import kept_turns_start
from headroom.messages import iter_text_slots, last_user_index, question_for
from headroom.pipeline.context import ContentTiming, RequestContext
from headroom.result import ContentReport

__all__ = ["ContentCompression"]

_COMPRESSIBLE_ROLES = frozenset({"tool", "function", "user", "assistant"})
_MIN_CHAT_TEXT = 2000
"""User and assistant texts shorter than this are conversation, not content worth compressing."""


class ContentCompression:
    """Replaces each compressible text by its compressed form (see module docs)."""

    name = "content"
    rewrites = True

    def applies(self, ctx: RequestContext) -> bool:
        return True

    def run(self, ctx: RequestContext) -> None:
        messages = ctx.messages
        config = ctx.config
        last_user = last_user_index(messages)
        kept_from = kept_turns_start(messages, config.keep_turns)
        for slot in list(iter_text_slots(messages, _COMPRESSIBLE_ROLES)):
            i = slot.message_index
            if i < ctx.frozen_count or i == last_user or i >= kept_from:
                continue
            if messages[i].get("role") in ("user", "assistant") and len(slot.text) < _MIN_CHAT_TEXT:
                continue
            if slot.tool_name == RETRIEVE_TOOL_NAME:
                continue  # what the model asked to get back must reach it whole
            if config.skips_tool(slot.tool_name):
                ctx.notes.append(f"messages[{i}]: tool {slot.tool_name!r} has skip_compression")
                continue
            started = time.perf_counter()
            crusher = config.crusher_for_tool(slot.tool_name)
            cctx = CompressionContext(
                config=config,
                counter=ctx.counter,
                query=ctx.query if ctx.query is not None else question_for(messages, i),
                tool_name=slot.tool_name,
                crusher=crusher,
                store=ctx.store,
                persist=ctx.persist,
                lossless_only=crusher.lossless_only or ctx.store is None,
            )
            out, kind, reason, hit = compress_content(slot.text, cctx)
            try:
                if out is None:
                    if "error" in reason:
                        ctx.errors += 1
                    if reason and kind.value != "empty":
                        ctx.notes.append(f"messages[{i}]: {reason}")
                    continue
                # Length decides here; exact tokens are counted only when the report is read.
                if len(out.text) >= len(slot.text):
                    ctx.notes.append(f"messages[{i}]: {out.transform} would not make it smaller; kept original")
                    continue
                slot.write(messages[i], out.text)
                ctx.reports.append(
                    ContentReport(
                        i, slot.tool_name, out.transform, slot.text, out.text, ctx.counter, out.ccr_key, out.details
                    )
                )
                ctx.transforms.append(out.transform)
            finally:
                ctx.timings.append(ContentTiming(i, hit, (time.perf_counter() - started) * 1000))
