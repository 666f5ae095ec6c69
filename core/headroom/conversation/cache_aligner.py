"""CacheAligner (placeholder until issue 4 lands)."""

from __future__ import annotations

from typing import Any

from headroom.config import CacheAlignerConfig


def align_system_messages(
    messages: list[dict[str, Any]], config: CacheAlignerConfig, *, frozen_count: int = 0
) -> tuple[list[dict[str, Any]], list[str]]:
    return messages, []
