"""Content compressors, one module each, and the table the router uses."""

from __future__ import annotations

from headroom.compressors.base import Compressed, CompressionContext, Compressor
from headroom.compressors.detection import ContentType

__all__ = ["Compressed", "CompressionContext", "Compressor", "ContentType", "default_compressors"]


def default_compressors() -> dict[ContentType, Compressor]:
    """The built-in compressor for each content type (types missing here pass through unchanged)."""
    from headroom.compressors.code_compressor import CodeCompressor
    from headroom.compressors.diff_compressor import DiffCompressor
    from headroom.compressors.html_compressor import HtmlCompressor
    from headroom.compressors.log_compressor import LogCompressor
    from headroom.compressors.search_compressor import SearchCompressor
    from headroom.compressors.smart_crusher import SmartCrusher
    from headroom.compressors.text_compressor import TextCompressor

    text = TextCompressor()
    return {
        ContentType.JSON: SmartCrusher(),
        ContentType.LOG: LogCompressor(),
        ContentType.SEARCH: SearchCompressor(),
        ContentType.DIFF: DiffCompressor(),
        ContentType.CODE: CodeCompressor(),
        ContentType.HTML: HtmlCompressor(),
        ContentType.PROSE: text,
        ContentType.MIXED: text,
    }
