"""What every content compressor takes and returns.

A compressor has one entry point, ``compress(text, ctx) -> Compressed | None``: ``None`` means
"not applicable, pass the text through unchanged". A compressor that drops anything stores the
original through ``ctx.store_original`` and names the key in a marker inside its output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from headroom.config import HeadroomConfig, SmartCrusherConfig
from headroom.tokens import TokenCounter

__all__ = ["Compressed", "CompressionContext", "Compressor", "NotJSON", "PassThrough"]


class PassThrough(Exception):
    """Raised by a compressor to leave content unchanged for a reason worth reporting (e.g. malformed JSON)."""


class NotJSON(PassThrough):
    """Raised by the JSON compressor when text that looked like JSON does not parse.

    The router then routes the text by its other cues (a log whose lines are bracketed, a
    truncated JSON dump that is still readable text).
    """


@dataclass(frozen=True)
class Compressed:
    """The result of compressing one piece of content."""

    text: str
    """The compressed text that replaces the original in the prompt."""
    transform: str
    """Name of what was done, e.g. ``smart_crusher:lossy`` or ``log_compressor``; lands in transforms_applied."""
    lossy: bool
    """True when something was omitted (then ``ccr_key`` names the stored original)."""
    ccr_key: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    """Compressor-specific facts (items kept/omitted, templates, ...), reported in the result."""


@dataclass
class CompressionContext:
    """Everything a compressor may consult for one piece of content."""

    config: HeadroomConfig
    counter: TokenCounter
    query: str = ""
    """The question this content answers (the user message that led to the tool call)."""
    tool_name: str | None = None
    crusher: SmartCrusherConfig | None = None
    """SmartCrusher settings for this tool (profile and protection applied)."""
    store: Any = None
    """A CCRStore, or None when lossy compression is not allowed (simulate mode still computes keys)."""
    persist: bool = True
    """False in simulate mode: keys are computed but nothing is written."""
    lossless_only: bool = False
    """True when the tool is protected or CCR is off: nothing may be dropped."""
    level: int = 0
    """How hard to compress, for context fitting that must shrink content further.

    0: the normal form. 1: harder (about half as many items, examples or lines as level 0).
    2: only what must survive: what the question names, errors and failures, rare values, one
    example of each problem shape. A compressor that has no harder form treats levels 1 and 2
    as 0. Every level stores the original and names its key, as level 0 does.
    """

    def store_original(self, original: str, kind: str, meta: dict[str, Any] | None = None) -> str:
        """Store ``original`` for retrieval and return its key (only computes the key when not persisting)."""
        from headroom.ccr.store import ccr_key

        if not self.persist or self.store is None:
            return ccr_key(original)
        return str(self.store.put(original, kind=kind, tool_name=self.tool_name, meta=meta))

    @property
    def crusher_config(self) -> SmartCrusherConfig:
        return self.crusher or self.config.crusher_for_tool(self.tool_name)


class Compressor(Protocol):
    """A compressor of one content type."""

    name: str

    def compress(self, text: str, ctx: CompressionContext) -> Compressed | None:
        """Compressed content, or None to pass ``text`` through unchanged."""
        ...
