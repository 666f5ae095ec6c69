"""SmartCrusher: schema-preserving compression of JSON arrays (being written; see issue 2)."""

from __future__ import annotations

from headroom.compressors.base import Compressed, CompressionContext


class SmartCrusher:
    name = "smart_crusher"

    def compress(self, text: str, ctx: CompressionContext) -> Compressed | None:
        return None
