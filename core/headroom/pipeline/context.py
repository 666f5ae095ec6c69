"""The request context: everything the pipeline's stages read and write for one request.

One object instead of state shared by closures: each stage takes the context, reads what earlier
stages left (the working messages, the frozen prefix, the content reports) and adds its own
(transforms, notes, reports, extras). The runner owns error handling, so a stage only does its job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from headroom.config import HeadroomConfig, HeadroomMode
from headroom.models import ModelRegistry
from headroom.result import ContentReport
from headroom.tokens import TokenCounter

__all__ = ["ContentTiming", "RequestContext"]


@dataclass(frozen=True)
class ContentTiming:
    """Time spent on one piece of content in the content stage (reported in ``extras["content_timings"]``)."""

    message_index: int
    cache_hit: bool
    """True when the router's result cache already held the outcome (content seen before)."""
    ms: float


@dataclass
class RequestContext:
    """One request on its way through the stages (see :mod:`headroom.pipeline`)."""

    original: list[dict[str, Any]]
    """A copy of the caller's messages; no stage changes it."""
    messages: list[dict[str, Any]]
    """The working messages: each stage that rewrites replaces this list."""
    model: str
    config: HeadroomConfig
    mode: HeadroomMode
    counter: TokenCounter
    registry: ModelRegistry
    provider: str
    session_key: str
    query: str | None = None
    store: Any = None
    """The CCR store for content that may be dropped; None means lossless only."""
    transforms: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Why something was left as it was, and what the request could not have (shown in the result)."""
    errors: int = 0
    reports: list[ContentReport] = field(default_factory=list)
    timings: list[ContentTiming] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    diffs: list[str] = field(default_factory=list)
    ccr_keys: list[str] = field(default_factory=list)
    """Keys named by markers that stages other than content compression added (fitting)."""
    dropped_messages: int = 0
    frozen_count: int = 0
    """Leading input messages whose compressed form an earlier request fixed (cache mode)."""
    state: dict[str, Any] = field(default_factory=dict)
    """Hand-over between stages that belong together (e.g. the cache-mode digests)."""

    @property
    def persist(self) -> bool:
        """False in simulate mode: keys are computed, nothing is written to the store."""
        return self.mode is not HeadroomMode.SIMULATE

    @property
    def to_send(self) -> list[dict[str, Any]]:
        """What the caller sends: the original messages in audit mode, the working messages otherwise."""
        return self.original if self.mode is HeadroomMode.AUDIT else self.messages

    @property
    def cache_mode(self) -> bool:
        """True when earlier turns are frozen as first sent (``optimization_mode="cache"``)."""
        return self.config.optimization_mode == "cache" and self.config.prefix_freeze.enabled
