"""What HeadroomClient returns in simulate mode, and the figures it records for each call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headroom.providers.base import ProviderUsage
from headroom.result import CompressResult

__all__ = ["RequestRecord", "SimulationResult"]


@dataclass(frozen=True)
class SimulationResult:
    """What a call in ``simulate`` mode returns instead of calling the provider."""

    provider: str
    model: str
    transforms: tuple[str, ...]
    tokens_before: int
    tokens_after: int
    estimated_cost_before_usd: float | None
    estimated_cost_after_usd: float | None
    messages: list[dict[str, Any]]
    """The messages optimize mode would send, in the provider's format."""
    request: dict[str, Any]
    """The whole request optimize mode would send (Anthropic ``system`` and cache hints included)."""
    cache_hints: tuple[str, ...] = ()
    semantic_cache_hit: bool = False
    """True when the semantic cache would answer without a provider call."""
    compress_result: CompressResult | None = None
    mode: str = "simulate"

    @property
    def tokens_saved(self) -> int:
        return self.tokens_before - self.tokens_after

    @property
    def estimated_cost_saved_usd(self) -> float | None:
        if self.estimated_cost_before_usd is None or self.estimated_cost_after_usd is None:
            return None
        return self.estimated_cost_before_usd - self.estimated_cost_after_usd

    def summary(self) -> str:
        """One line: tokens before -> after and the transforms that would run."""
        kinds = sorted({t.split(":")[0] for t in self.transforms})
        return (f"simulate {self.provider}/{self.model}: {self.tokens_before:,} -> {self.tokens_after:,} tokens"
                + (f" ({', '.join(kinds)})" if kinds else " (no transform)"))  # fmt: skip


@dataclass(frozen=True)
class RequestRecord:
    """The figures of one call through HeadroomClient (also written to the store)."""

    provider: str
    model: str
    mode: str
    tokens_before: int
    """Prompt tokens of the request as the caller wrote it (Headroom's count)."""
    tokens_after: int
    """Prompt tokens sent (equal to tokens_before in audit mode; 0 for a semantic cache hit)."""
    optimized_tokens: int
    """Prompt tokens optimize mode sends (what audit mode would have saved)."""
    usage: ProviderUsage | None
    """Usage the provider reported (None for a cache hit)."""
    cost_usd: float | None
    """What the call cost, from the provider's usage and the model's prices."""
    cost_before_usd: float | None
    cost_after_usd: float | None
    cache_hit: bool = False
    stream: bool = False
    transforms: tuple[str, ...] = ()
    cache_hints: tuple[str, ...] = ()

    @property
    def tokens_saved(self) -> int:
        return self.tokens_before - self.tokens_after

    @property
    def potential_tokens_saved(self) -> int:
        return self.tokens_before - self.optimized_tokens
