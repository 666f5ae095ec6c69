"""The model registry: context windows and prices, with user overrides and name-pattern inference.

Sources, later wins: built-in table -> ``<config_dir>/models.json`` -> ``HEADROOM_MODEL_LIMITS``
(a JSON string or a path) -> ``HeadroomConfig.model_context_limits``. Prices are US dollars per
million tokens. Unknown models are inferred from their name (``*sonnet*`` -> 200K, Sonnet prices).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headroom.errors import ConfigurationError

if TYPE_CHECKING:
    from headroom.config import HeadroomConfig

__all__ = ["UNKNOWN_MODEL_LOG_KEY", "ModelInfo", "ModelRegistry", "Pricing", "provider_of"]

log = logging.getLogger("headroom.models")


@dataclass(frozen=True)
class Pricing:
    """US dollars per million tokens.

    ``cached_input`` is what a prompt-cache read costs (Anthropic: 0.1x input; OpenAI: its cached
    input price), ``cache_write`` what writing a prefix to the cache costs (Anthropic: 1.25x input
    for the 5-minute cache; OpenAI caches for free, so a write costs the input price).
    """

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None

    @property
    def cached_input_or_input(self) -> float:
        return self.input if self.cached_input is None else self.cached_input

    @property
    def cache_write_or_input(self) -> float:
        return self.input if self.cache_write is None else self.cache_write


@dataclass(frozen=True)
class ModelInfo:
    """What Headroom knows of one model."""

    name: str
    provider: str
    context_window: int
    pricing: Pricing | None
    inferred: bool = False
    """True when the facts come from the naming pattern, not from a table."""
    assumed_from: str | None = None
    """For an inferred model: the family whose facts were assumed ("Claude Opus"), None for the defaults."""

    def assumption(self) -> str | None:
        """One sentence for a model not in the tables, saying what was assumed; None for a known model.

        >>> print(ModelRegistry().get("gpt-9").assumption())
        unknown model 'gpt-9': assumed the default 128,000-token window and no price, so costs are not computed; add it with HEADROOM_MODEL_LIMITS or models.json in the config dir
        """
        if not self.inferred:
            return None
        window = f"{self.context_window:,}-token window"
        facts = f"{self.assumed_from} facts from its name: a {window}" if self.assumed_from else f"the default {window}"
        if self.pricing is None:
            price = "no price, so costs are not computed"
        else:
            price = f"${self.pricing.input:g}/${self.pricing.output:g} per million input/output tokens"
        return (
            f"unknown model {self.name!r}: assumed {facts} and {price}; "
            "add it with HEADROOM_MODEL_LIMITS or models.json in the config dir"
        )


_OPUS = Pricing(15.0, 75.0, 1.5, 18.75)
_SONNET = Pricing(3.0, 15.0, 0.3, 3.75)
_HAIKU = Pricing(0.8, 4.0, 0.08, 1.0)
_GPT4O = Pricing(2.5, 10.0, 1.25)
_GPT4O_MINI = Pricing(0.15, 0.6, 0.075)
_REASONING = Pricing(15.0, 60.0, 7.5)

_BUILTIN: dict[str, tuple[str, int, Pricing | None]] = {
    "gpt-4o": ("openai", 128_000, _GPT4O),
    "gpt-4o-mini": ("openai", 128_000, _GPT4O_MINI),
    "gpt-4.1": ("openai", 1_047_576, Pricing(2.0, 8.0, 0.5)),
    "gpt-4.1-mini": ("openai", 1_047_576, Pricing(0.4, 1.6, 0.1)),
    "gpt-4.1-nano": ("openai", 1_047_576, Pricing(0.1, 0.4, 0.025)),
    "gpt-5": ("openai", 400_000, Pricing(1.25, 10.0, 0.125)),
    "gpt-5-mini": ("openai", 400_000, Pricing(0.25, 2.0, 0.025)),
    "gpt-5-nano": ("openai", 400_000, Pricing(0.05, 0.4, 0.005)),
    "gpt-4-turbo": ("openai", 128_000, Pricing(10.0, 30.0, None)),
    "gpt-4": ("openai", 8_192, Pricing(30.0, 60.0, None)),
    "gpt-3.5-turbo": ("openai", 16_385, Pricing(0.5, 1.5, None)),
    "o1": ("openai", 200_000, _REASONING),
    "o1-mini": ("openai", 128_000, Pricing(1.1, 4.4, 0.55)),
    "o3": ("openai", 200_000, Pricing(2.0, 8.0, 0.5)),
    "o3-mini": ("openai", 200_000, Pricing(1.1, 4.4, 0.55)),
    "o4-mini": ("openai", 200_000, Pricing(1.1, 4.4, 0.275)),
    "claude-3-5-sonnet-20241022": ("anthropic", 200_000, _SONNET),
    "claude-3-5-haiku-20241022": ("anthropic", 200_000, _HAIKU),
    "claude-3-7-sonnet-20250219": ("anthropic", 200_000, _SONNET),
    "claude-sonnet-4-20250514": ("anthropic", 200_000, _SONNET),
    "claude-opus-4-20250514": ("anthropic", 200_000, _OPUS),
    "claude-sonnet-4-5": ("anthropic", 200_000, _SONNET),
    "claude-haiku-4-5": ("anthropic", 200_000, Pricing(1.0, 5.0, 0.1, 1.25)),
    "claude-opus-4-1": ("anthropic", 200_000, _OPUS),
}

# (predicate on the lower-cased name, family, provider, window, pricing), first match wins.
_PATTERNS: list[tuple[Any, str, str, int, Pricing | None]] = [
    (lambda n: "opus" in n, "Claude Opus", "anthropic", 200_000, _OPUS),
    (lambda n: "sonnet" in n, "Claude Sonnet", "anthropic", 200_000, _SONNET),
    (lambda n: "haiku" in n, "Claude Haiku", "anthropic", 200_000, _HAIKU),
    (lambda n: n.startswith("claude"), "Claude Sonnet", "anthropic", 200_000, _SONNET),
    (lambda n: n.startswith("gpt-4o-mini"), "gpt-4o-mini", "openai", 128_000, _GPT4O_MINI),
    (lambda n: n.startswith("gpt-4o") or n.startswith("ft:gpt-4o"), "gpt-4o", "openai", 128_000, _GPT4O),
    (lambda n: n.startswith(("o1", "o3", "o4")), "o-series reasoning", "openai", 200_000, _REASONING),
    (lambda n: n.startswith("gpt-4.1"), "gpt-4.1", "openai", 1_047_576, Pricing(2.0, 8.0, 0.5)),
    (lambda n: n.startswith("gpt-5"), "gpt-5", "openai", 400_000, Pricing(1.25, 10.0, 0.125)),
    (lambda n: n.startswith("gpt-4"), "gpt-4", "openai", 128_000, Pricing(10.0, 30.0, None)),
    (lambda n: n.startswith("gpt-3.5"), "gpt-3.5", "openai", 16_385, Pricing(0.5, 1.5, None)),
]

_FALLBACK_WINDOW = 128_000
_for_config: dict[tuple[Any, ...], ModelRegistry] = {}
_warned: set[str] = set()

UNKNOWN_MODEL_LOG_KEY = "headroom_unknown_model"
"""Attribute set on the unknown-model log record (its value is the model name), for handlers that say it elsewhere."""


def _warn_once(info: ModelInfo) -> None:
    """Log, once per process and model name, what was assumed for a model not in the tables."""
    if info.name in _warned:
        return
    _warned.add(info.name)
    log.warning("%s", info.assumption(), extra={UNKNOWN_MODEL_LOG_KEY: info.name})


def provider_of(model: str) -> str:
    """``anthropic`` for Claude-family names, ``openai`` for GPT/o-series, else ``unknown``."""
    name = model.lower()
    if "claude" in name or any(k in name for k in ("opus", "sonnet", "haiku")):
        return "anthropic"
    if name.startswith(("gpt", "ft:gpt", "o1", "o3", "o4", "chatgpt", "text-embedding")):
        return "openai"
    return "unknown"


def _load_json_source(source: str, label: str) -> dict[str, Any]:
    text = source
    stripped = source.strip()
    if not stripped.startswith("{"):
        path = Path(stripped).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(label, source, f"a JSON object or a readable file path ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(label, source[:80], f"valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise ConfigurationError(label, source[:80], "a JSON object keyed by provider")
    return data


class ModelRegistry:
    """Context windows and prices of models, with the user's overrides merged in."""

    def __init__(
        self,
        *,
        config_dir: str | None = None,
        limits_source: str | None = None,
        context_limits: dict[str, int] | None = None,
    ) -> None:
        self._entries: dict[str, tuple[str, int, Pricing | None]] = dict(_BUILTIN)
        self._lock = threading.Lock()
        if config_dir:
            path = Path(config_dir).expanduser() / "models.json"
            if path.is_file():
                self._merge(_load_json_source(str(path), str(path)))
        if limits_source:
            self._merge(_load_json_source(limits_source, "HEADROOM_MODEL_LIMITS"))
        for name, window in (context_limits or {}).items():
            self._set(name, provider_of(name), window=window)

    @classmethod
    def for_config(cls, config: HeadroomConfig) -> ModelRegistry:
        """The registry with the user's models.json, HEADROOM_MODEL_LIMITS and context overrides.

        Built once per distinct setting (and models.json version) and then shared: the pipeline
        asks for it on every request.
        """
        path = Path(config.config_dir).expanduser() / "models.json"
        try:
            mtime: int | None = path.stat().st_mtime_ns
        except OSError:
            mtime = None
        key = (config.config_dir, mtime, config.model_limits_source,
               tuple(sorted(config.model_context_limits.items())))  # fmt: skip
        registry = _for_config.get(key)
        if registry is None:
            registry = cls(
                config_dir=config.config_dir,
                limits_source=config.model_limits_source,
                context_limits=config.model_context_limits,
            )
            if len(_for_config) > 64:
                _for_config.clear()
            _for_config[key] = registry
        return registry

    def _merge(self, data: dict[str, Any]) -> None:
        for provider, block in data.items():
            if not isinstance(block, dict):
                raise ConfigurationError(f"models.{provider}", block, "an object with context_limits / pricing")
            for name, window in (block.get("context_limits") or {}).items():
                if not isinstance(window, int) or window <= 0:
                    raise ConfigurationError(f"models.{provider}.context_limits.{name}", window, "a positive integer")
                self._set(name, provider, window=window)
            for name, price in (block.get("pricing") or {}).items():
                try:
                    pricing = Pricing(
                        float(price["input"]),
                        float(price["output"]),
                        None if price.get("cached_input") is None else float(price["cached_input"]),
                        None if price.get("cache_write") is None else float(price["cache_write"]),
                    )
                except (KeyError, TypeError, ValueError):
                    raise ConfigurationError(
                        f"models.{provider}.pricing.{name}",
                        price,
                        "an object with numeric input, output[, cached_input, cache_write]",
                    ) from None
                self._set(name, provider, pricing=pricing)

    def _set(self, name: str, provider: str, *, window: int | None = None, pricing: Pricing | None = None) -> None:
        old = self._entries.get(name) or (provider, 0, None)
        if old[1] == 0:
            inferred = self._infer(name)
            old = (provider, inferred.context_window, inferred.pricing)
        self._entries[name] = (provider, window or old[1], pricing or old[2])

    def _infer(self, model: str) -> ModelInfo:
        lowered = model.lower()
        for pred, family, provider, window, pricing in _PATTERNS:
            if pred(lowered):
                return ModelInfo(model, provider, window, pricing, inferred=True, assumed_from=family)
        return ModelInfo(model, provider_of(model), _FALLBACK_WINDOW, None, inferred=True)

    def get(self, model: str) -> ModelInfo:
        """Facts of ``model``: from the tables, else from its name (``inferred=True``)."""
        entry = self._entries.get(model)
        if entry is not None:
            return ModelInfo(model, entry[0], entry[1], entry[2])
        # Dated snapshots ("gpt-4o-2024-08-06") take the facts of their longest known prefix.
        best = max((k for k in self._entries if model.startswith(k + "-")), key=len, default=None)
        if best is not None:
            e = self._entries[best]
            return ModelInfo(model, e[0], e[1], e[2])
        info = self._infer(model)
        _warn_once(info)
        return info

    def context_window(self, model: str) -> int:
        return self.get(model).context_window

    def cache_prices(self, model: str) -> tuple[float, float, float] | None:
        """(input, cache read, cache write) in US dollars per million tokens, or None when unpriced.

        Anthropic bills a cache read at 0.1x and a cache write at 1.25x the input price unless the
        table says otherwise; OpenAI reads at its cached-input price and writes for nothing extra.
        """
        info = self.get(model)
        pricing = info.pricing
        if pricing is None:
            return None
        anthropic = info.provider == "anthropic"
        read = pricing.cached_input if pricing.cached_input is not None else (0.1 if anthropic else 1.0) * pricing.input
        write = pricing.cache_write if pricing.cache_write is not None else (1.25 if anthropic else 1.0) * pricing.input
        return pricing.input, read, write

    def cost(self, model: str, input_tokens: int, output_tokens: int = 0, cached_input_tokens: int = 0) -> float | None:
        """US dollars for a call, or None when the model has no known price."""
        pricing = self.get(model).pricing
        if pricing is None:
            return None
        uncached = max(input_tokens - cached_input_tokens, 0)
        return (
            uncached * pricing.input
            + cached_input_tokens * pricing.cached_input_or_input
            + output_tokens * pricing.output
        ) / 1_000_000
