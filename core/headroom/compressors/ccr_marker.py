"""What every lossy content compressor shares: may it drop anything, the words of its marker, its metrics.

A marker tells the model what was omitted and how to get it back, naming the CCR key of the
*whole* original and the ``headroom_retrieve`` arguments (``lines`` ranges of that original,
or a ``query``).
"""

from __future__ import annotations

from headroom import metrics
from headroom.compressors.base import Compressed, CompressionContext

__all__ = ["counted", "may_drop", "retrieve_hint"]


def counted(out: Compressed) -> Compressed:
    """``out``, counted in the process metrics: ``content.<transform>`` and ``content.<transform>.omitted_lines``."""
    metrics.increment(f"content.{out.transform}")
    omitted = out.details.get("omitted_lines")
    if isinstance(omitted, int):
        metrics.increment(f"content.{out.transform}.omitted_lines", omitted)
    return out


def may_drop(text: str, ctx: CompressionContext) -> bool:
    """True when lossy compression is allowed for ``text``: not protected, and small enough to store."""
    if ctx.lossless_only:
        return False
    return len(text.encode("utf-8", "surrogatepass")) <= ctx.config.ccr.max_entry_bytes


def retrieve_hint(key: str, *, lines: str | None = None) -> str:
    """The call that brings omitted content back, e.g. ``headroom_retrieve(key="hr_..", lines="120-180")``."""
    example = lines or "START-END"
    return f'headroom_retrieve(key="{key}", lines="{example}") or (key="{key}", query="words")'
