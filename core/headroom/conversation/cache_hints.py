"""Provider cache hints (placeholder until issue 4 lands)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headroom.config import CacheOptimizerConfig
from headroom.tokens import TokenCounter


@dataclass(frozen=True)
class HintResult:
    messages: list[dict[str, Any]]
    expected_cached_tokens: int = 0
    transforms: tuple[str, ...] = ()


def apply_cache_hints(
    messages: list[dict[str, Any]], *, model: str, provider: str, config: CacheOptimizerConfig,
    counter: TokenCounter, session_id: str | None = None,
) -> HintResult:
    return HintResult(messages)
