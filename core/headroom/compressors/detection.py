"""Content detection: what kind of text a tool output is, by cheap structural cues (no model)."""

from __future__ import annotations

import enum

__all__ = ["ContentType", "detect_content_type"]


class ContentType(str, enum.Enum):
    """Kinds of content the router knows."""

    JSON = "json"
    LOG = "log"
    SEARCH = "search"
    DIFF = "diff"
    CODE = "code"
    HTML = "html"
    PROSE = "prose"
    MIXED = "mixed"
    EMPTY = "empty"
    BINARY = "binary"
    UNKNOWN = "unknown"


def detect_content_type(text: str) -> ContentType:
    """The kind of ``text``; UNKNOWN when no detector is confident (the router then passes it through)."""
    stripped = text.lstrip()
    if not stripped:
        return ContentType.EMPTY
    if stripped[0] in "[{":
        return ContentType.JSON
    return ContentType.UNKNOWN
