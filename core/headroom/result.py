"""The result of one pipeline run.

Token figures are exact, and counted when first read: compressing does not tokenise the
original input (tokenising costs more than compressing it), so a caller who only wants the
smaller messages never pays for the accounting. Counts are cached by content hash, so reading
them is cheap the second time, and in an agent loop the history is counted once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from headroom import display
from headroom.models import ModelInfo
from headroom.tokens import TokenCounter

__all__ = ["CompressResult", "ContentReport", "LazyMapping", "TokenFigures"]


@dataclass(frozen=True)
class ContentReport:
    """What happened to one piece of content (a tool result, a long text)."""

    message_index: int
    tool_name: str | None
    transform: str
    original_text: str = field(repr=False)
    compressed_text: str = field(repr=False)
    counter: TokenCounter = field(repr=False, compare=False)
    ccr_key: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens_before(self) -> int:
        return self.counter.count(self.original_text)

    @property
    def tokens_after(self) -> int:
        return self.counter.count(self.compressed_text)


class TokenFigures:
    """Token counts and costs of a run, computed on first access and then kept."""

    def __init__(
        self,
        *,
        counter: TokenCounter,
        original: list[dict[str, Any]],
        optimized: list[dict[str, Any]],
        audit: bool,
        cost: Callable[[int, int], float | None],
        cached: Callable[[], int] | None = None,
    ) -> None:
        self._counter = counter
        self._original = original
        self._optimized = optimized
        self._audit = audit
        self._cost = cost
        self._cached = cached
        self._values: dict[str, Any] = {}
        self._lock = threading.RLock()  # properties computed under the lock read other properties

    def _get(self, name: str, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if name not in self._values:
                self._values[name] = compute()
            return self._values[name]

    @property
    def before(self) -> int:
        return int(self._get("before", lambda: self._counter.count_messages(self._original)))

    @property
    def optimized(self) -> int:
        return int(self._get("optimized", lambda: self._counter.count_messages(self._optimized)))

    @property
    def after(self) -> int:
        return self.before if self._audit else self.optimized

    @property
    def cached(self) -> int:
        if self._cached is None:
            return 0
        fn = self._cached
        return int(self._get("cached", lambda: min(fn(), self.after)))

    @property
    def cost_before(self) -> float | None:
        return self._get("cost_before", lambda: self._cost(self.before, 0))  # type: ignore[no-any-return]

    @property
    def cost_after(self) -> float | None:
        return self._get("cost_after", lambda: self._cost(self.after, self.cached))  # type: ignore[no-any-return]

    @property
    def cost_optimized(self) -> float | None:
        """Input cost of the compressed messages (what optimize sends), in every mode."""
        if not self._audit:
            return self.cost_after
        return self._get("cost_optimized", lambda: self._cost(self.optimized, 0))  # type: ignore[no-any-return]


class LazyMapping(Mapping[str, Any]):
    """A read-only mapping whose content is computed on first access (for report entries that count tokens)."""

    def __init__(self, compute: Callable[[], dict[str, Any]]) -> None:
        self._compute = compute
        self._data: dict[str, Any] | None = None

    def _resolved(self) -> dict[str, Any]:
        if self._data is None:
            self._data = self._compute()
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._resolved()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._resolved())

    def __len__(self) -> int:
        return len(self._resolved())

    def __repr__(self) -> str:
        return repr(self._resolved())


@dataclass(frozen=True, repr=False)
class CompressResult:
    """What ``headroom.compress`` returns.

    ``messages`` is what to send: the compressed messages in optimize and simulate mode, the
    original messages (a copy) in audit mode. ``optimized_tokens`` is what optimize gives in
    every mode, so audit reports what it would have saved. ``summary()`` says in one line what
    happened; in Jupyter the result shows as a compact table (``_repr_html_``).
    """

    messages: list[dict[str, Any]]
    figures: TokenFigures = field(repr=False, compare=False)
    mode: str
    model: str
    transforms_applied: tuple[str, ...] = ()
    ccr_keys: tuple[str, ...] = ()
    reports: tuple[ContentReport, ...] = ()
    passthrough_reasons: tuple[str, ...] = ()
    """Why something was left unchanged (unknown role, malformed JSON, internal error, ...)."""
    errors: int = 0
    """Internal errors caught while compressing (each failed open)."""
    dropped_messages: int = 0
    elapsed_ms: float = 0.0
    """Time the pipeline took (the token accounting below is counted on first access, not here)."""
    exact_tokens: bool = True
    """False when counts are estimates (no public tokenizer for the model)."""
    diff_artifacts: tuple[str, ...] = ()
    extras: dict[str, Any] = field(default_factory=dict)
    model_info: ModelInfo | None = None
    """What the registry knows of ``model`` (its window and prices, and whether they were assumed)."""

    @property
    def tokens_before(self) -> int:
        """Input tokens of the messages as given."""
        return self.figures.before

    @property
    def tokens_after(self) -> int:
        """Input tokens of ``messages`` (what is sent)."""
        return self.figures.after

    @property
    def optimized_tokens(self) -> int:
        """Input tokens of the compressed messages, in every mode."""
        return self.figures.optimized

    @property
    def cached_tokens(self) -> int:
        """Input tokens expected to be read from the provider's prompt cache."""
        return self.figures.cached

    @property
    def cost_before_usd(self) -> float | None:
        return self.figures.cost_before

    @property
    def cost_after_usd(self) -> float | None:
        """Input cost of what is sent, cached tokens at the cached-input price."""
        return self.figures.cost_after

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
        return self.tokens_before - self.optimized_tokens

    @property
    def cost_saved_usd(self) -> float | None:
        if self.cost_before_usd is None or self.cost_after_usd is None:
            return None
        return self.cost_before_usd - self.cost_after_usd

    @property
    def potential_cost_saved_usd(self) -> float | None:
        """Input cost optimize mode saves on this request (equal to cost_saved_usd outside audit)."""
        if self.cost_before_usd is None or self.figures.cost_optimized is None:
            return None
        return self.cost_before_usd - self.figures.cost_optimized

    def savings_by_transform(self) -> dict[str, int]:
        """Tokens saved per compressor (``smart_crusher``, ``log_compressor``, ...) and by context fitting.

        What the content compressors saved is counted per piece of content; the rest of the
        difference between the input and what optimize sends is context fitting's (dropped turns,
        elided outputs) or, without fitting, the other stages' (``other``). Sums to
        ``tokens_before - optimized_tokens``.
        """
        out: dict[str, int] = {}
        for report in self.reports:
            kind = report.transform.split(":", 1)[0]
            out[kind] = out.get(kind, 0) + report.tokens_before - report.tokens_after
        rest = self.potential_tokens_saved - sum(out.values())
        if rest:
            fitted = bool((self.extras.get("fitting") or {}).get("fitted"))
            out["fitting" if fitted else "other"] = rest
        return out

    def summary(self) -> str:
        """One line: tokens before -> after, then what was done (compressed, dropped to fit, assumed)."""
        return display.summarize(self)

    def __repr__(self) -> str:
        return (
            f"<CompressResult {self.mode} {self.model}: {len(self.messages)} messages, "
            f"{self.tokens_before:,} -> {self.tokens_after:,} tokens, {len(self.ccr_keys)} CCR keys>"
        )

    def _repr_html_(self) -> str:
        return display.result_html(self)

    def _repr_markdown_(self) -> str:
        return display.result_markdown(self)

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
