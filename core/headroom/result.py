"""The result of one pipeline run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["CompressResult", "ContentReport"]


@dataclass(frozen=True)
class ContentReport:
    """What happened to one piece of content (a tool result, a long text)."""

    message_index: int
    tool_name: str | None
    transform: str
    tokens_before: int
    tokens_after: int
    ccr_key: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CompressResult:
    """What ``headroom.compress`` returns.

    ``messages`` is what to send: the compressed messages in optimize and simulate mode, the
    original messages (a copy) in audit mode. ``optimized_tokens`` is what optimize gives in
    every mode, so audit reports what it would have saved.
    """

    messages: list[dict[str, Any]]
    tokens_before: int
    tokens_after: int
    mode: str
    model: str
    transforms_applied: tuple[str, ...] = ()
    ccr_keys: tuple[str, ...] = ()
    optimized_tokens: int | None = None
    cost_before_usd: float | None = None
    cost_after_usd: float | None = None
    cached_tokens: int = 0
    """Input tokens expected to be read from the provider's prompt cache."""
    reports: tuple[ContentReport, ...] = ()
    passthrough_reasons: tuple[str, ...] = ()
    """Why something was left unchanged (unknown role, malformed JSON, internal error, ...)."""
    errors: int = 0
    """Internal errors caught while compressing (each failed open)."""
    dropped_messages: int = 0
    elapsed_ms: float = 0.0
    exact_tokens: bool = True
    """False when counts are estimates (no public tokenizer for the model)."""
    diff_artifacts: tuple[str, ...] = ()
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens_saved(self) -> int:
        return self.tokens_before - self.tokens_after

    @property
    def compression_ratio(self) -> float:
        """Fraction of tokens removed: 0.0 nothing saved, 0.8 means 80% fewer tokens."""
        return (self.tokens_saved / self.tokens_before) if self.tokens_before else 0.0

    @property
    def potential_tokens_saved(self) -> int:
        """Tokens optimize mode saves on this request (equal to tokens_saved outside audit)."""
        return self.tokens_before - (self.optimized_tokens if self.optimized_tokens is not None else self.tokens_after)

    @property
    def cost_saved_usd(self) -> float | None:
        if self.cost_before_usd is None or self.cost_after_usd is None:
            return None
        return self.cost_before_usd - self.cost_after_usd

    def summary(self) -> str:
        """One line: tokens before -> after, saving, transforms."""
        cost = f", ${self.cost_saved_usd:.4f} saved" if self.cost_saved_usd else ""
        kinds = sorted({t.split(":")[0] for t in self.transforms_applied})
        return (
            f"{self.tokens_before:,} -> {self.tokens_after:,} tokens "
            f"({self.compression_ratio:.0%} fewer{cost}; mode={self.mode}"
            + (f"; {', '.join(kinds)}" if kinds else "")
            + ")"
        )

    def to_dict(self) -> dict[str, Any]:
        """The figures (not the messages) as plain JSON-able data."""
        return {
            "mode": self.mode,
            "model": self.model,
            "tokens_before": self.tokens_before,
            "tokens_after": self.tokens_after,
            "tokens_saved": self.tokens_saved,
            "compression_ratio": round(self.compression_ratio, 4),
            "optimized_tokens": self.optimized_tokens,
            "cost_before_usd": self.cost_before_usd,
            "cost_after_usd": self.cost_after_usd,
            "cost_saved_usd": self.cost_saved_usd,
            "cached_tokens": self.cached_tokens,
            "transforms_applied": list(self.transforms_applied),
            "ccr_keys": list(self.ccr_keys),
            "passthrough_reasons": list(self.passthrough_reasons),
            "errors": self.errors,
            "dropped_messages": self.dropped_messages,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "exact_tokens": self.exact_tokens,
        }
