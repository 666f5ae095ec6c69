"""Context fitting: make a conversation fit the model's window (placeholder until issue 4 lands)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from headroom.tokens import TokenCounter

__all__ = ["FitResult", "fit_to_window"]


@dataclass(frozen=True)
class FitResult:
    messages: list[dict[str, Any]]
    dropped_messages: int = 0
    transforms: tuple[str, ...] = ()
    report: dict[str, Any] = field(default_factory=dict)


def fit_to_window(
    messages: list[dict[str, Any]], *, limit: int, counter: TokenCounter, keep_turns: int,
    store: Any, persist: bool, frozen_count: int = 0,
) -> FitResult:
    """Messages that fit in ``limit`` tokens."""
    return FitResult(messages, report={"limit": limit, "tokens": counter.count_messages(messages)})
