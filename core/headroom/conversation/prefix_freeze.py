"""Cache mode prefix freezing (placeholder until issue 4 lands)."""

from __future__ import annotations

from typing import Any

from headroom.config import HeadroomConfig


def frozen_prefix_length(messages: list[dict[str, Any]], *, session_id: str | None, config: HeadroomConfig) -> int:
    return 0


def remember_sent(messages: list[dict[str, Any]], *, session_id: str | None, config: HeadroomConfig) -> None:
    return None
