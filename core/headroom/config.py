"""Configuration models of Headroom, with the fields and defaults of the configuration reference.

Precedence, later wins: built-in defaults -> ``HEADROOM_*`` environment variables ->
constructor arguments -> per-request overrides (see :func:`HeadroomConfig.with_overrides`).

    >>> from headroom.config import HeadroomConfig, SmartCrusherConfig
    >>> cfg = HeadroomConfig(smart_crusher=SmartCrusherConfig(max_items_after_crush=10))
    >>> cfg.smart_crusher.max_items_after_crush
    10
"""

from __future__ import annotations

import enum
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from headroom import env as _env
from headroom.config_errors import ClosedSettings as _Model
from headroom.content_config import ContentConfig
from headroom.errors import ConfigurationError

__all__ = [
    "CCRConfig",
    "CacheAlignerConfig",
    "CacheOptimizerConfig",
    "HeadroomConfig",
    "HeadroomMode",
    "OptimizationMode",
    "PrefixFreezeConfig",
    "SmartCrusherConfig",
    "ToolProfile",
    "parse_mode",
    "parse_optimization_mode",
]


class HeadroomMode(str, enum.Enum):
    """What a call does with the compressed request (the SDK mode axis)."""

    AUDIT = "audit"
    """Measure and record what optimize would save; send the request unchanged."""
    OPTIMIZE = "optimize"
    """Send the compressed request."""
    SIMULATE = "simulate"
    """Return the plan and the would-be messages; no provider call, no store writes."""


OptimizationMode = Literal["token", "cache"]

_OPTIMIZATION_ALIASES: dict[str, OptimizationMode] = {
    "token": "token",
    "token_mode": "token",
    "token_savings": "token",
    "token_headroom": "token",
    "cache": "cache",
    "cache_mode": "cache",
    "cost_savings": "cache",
}


def parse_mode(value: object, field: str = "mode") -> HeadroomMode:
    """Turn ``"audit"``/``"optimize"``/``"simulate"`` (any case) or a HeadroomMode into a HeadroomMode."""
    if isinstance(value, HeadroomMode):
        return value
    if isinstance(value, str):
        try:
            return HeadroomMode(value.strip().lower())
        except ValueError:
            pass
    raise ConfigurationError(field, value, "one of 'audit', 'optimize', 'simulate'")


def parse_optimization_mode(value: object, field: str = "optimization_mode") -> OptimizationMode:
    """Turn ``token``/``cache`` or a legacy alias (``token_savings``, ``cost_savings``, ...) into the canonical name."""
    if isinstance(value, str) and value.strip().lower() in _OPTIMIZATION_ALIASES:
        return _OPTIMIZATION_ALIASES[value.strip().lower()]
    raise ConfigurationError(
        field, value, "'token' or 'cache' (aliases: " + ", ".join(sorted(_OPTIMIZATION_ALIASES)) + ")"
    )


class SmartCrusherConfig(_Model):
    """Settings of SmartCrusher, the schema-preserving compressor for JSON arrays."""

    enabled: bool = Field(True, description="Compress JSON arrays in tool outputs.")
    min_items_to_analyze: int = Field(5, ge=0, description="Arrays shorter than this are left alone.")
    min_tokens_to_crush: int = Field(200, ge=0, description="Only content above this token count is compressed.")
    max_items_after_crush: int = Field(15, ge=1, description="Target maximum of items kept per array.")
    variance_threshold: float = Field(2.0, gt=0, description="Standard deviations for outliers and change points.")
    uniqueness_threshold: float = Field(
        0.1, ge=0, le=1, description="Fields with a distinct-value ratio below this are treated as categorical."
    )
    similarity_threshold: float = Field(
        0.8, ge=0, le=1, description="Items at least this similar to a kept item count as near-duplicates."
    )
    first_fraction: float = Field(0.3, ge=0, le=1, description="Share of the K slots given to the start of the array.")
    last_fraction: float = Field(0.15, ge=0, le=1, description="Share of the K slots given to the end of the array.")
    preserve_change_points: bool = Field(True, description="Keep items where a numeric series shifts.")
    factor_out_constants: bool = Field(
        False, description="Move fields equal in all kept items into the marker (changes the item schema)."
    )
    include_summaries: bool = Field(False, description="Describe omitted items (value counts, ranges) in the marker.")
    lossless_only: bool = Field(False, description="Never drop items; only lossless re-encodings.")
    lossless_min_savings_ratio: float = Field(
        0.15, ge=0, le=1, description="Minimum byte savings for the lossless path to win over the lossy one."
    )
    use_feedback_hints: bool = Field(True, description="Keep more items for tools whose omissions get retrieved.")
    toin_confidence_threshold: float = Field(
        0.3, ge=0, le=1, description="Minimum confidence of retrieval feedback before it changes anything."
    )

    @model_validator(mode="after")
    def _fractions_fit(self) -> SmartCrusherConfig:
        if self.first_fraction + self.last_fraction > 1.0:
            raise ValueError(
                f"first_fraction + last_fraction at most 1.0 (got {self.first_fraction} + {self.last_fraction})"
            )
        return self


_DEFAULT_DATE_PATTERNS = [
    r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b",
    r"\b\d{1,2}/\d{1,2}/\d{2,4}\b",
    r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? \d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{4}\b",
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December) \d{1,2},? \d{4}\b",
]


class CacheAlignerConfig(_Model):
    """Settings of CacheAligner, which keeps system-prompt prefixes byte-stable."""

    enabled: bool = Field(False, description="Off by default: prefix-stability gains are marginal in most setups.")
    use_dynamic_detector: bool = Field(True, description="Full dynamic-content detector instead of the date regexes.")
    detection_tiers: list[Literal["regex", "ner", "semantic"]] = Field(
        default_factory=lambda: ["regex"],  # type: ignore[arg-type]
        description="Detection tiers; regex is built in.",
    )
    extra_dynamic_labels: list[str] = Field(default_factory=list, description="KEY names whose VALUE is dynamic.")
    entropy_threshold: float = Field(0.7, ge=0, le=1, description="Normalised entropy above which a token is random.")
    normalize_whitespace: bool = Field(True, description="Normalise whitespace in system prompts.")
    collapse_blank_lines: bool = Field(True, description="Collapse runs of blank lines.")
    dynamic_tail_separator: str = Field(
        "\n\n---\n[Dynamic Context]\n", description="Marks where dynamic content begins."
    )
    date_patterns: list[str] = Field(
        default_factory=lambda: list(_DEFAULT_DATE_PATTERNS),
        description="Legacy date regexes used when use_dynamic_detector is False.",
    )


class CacheOptimizerConfig(_Model):
    """Provider prompt-cache optimisation (Anthropic breakpoints, a stable OpenAI prefix)."""

    enabled: bool = Field(True, description="Place provider cache hints.")
    max_breakpoints: int = Field(4, ge=0, le=4, description="Anthropic allows at most 4 cache_control blocks.")
    min_cacheable_tokens: int = Field(1024, ge=0, description="Smallest prefix worth a breakpoint (Anthropic minimum).")


class CCRConfig(_Model):
    """Compress-Cache-Retrieve: what lossy compression removes stays retrievable by key."""

    enabled: bool = Field(
        True, description="Store originals of lossy compressions; without it only lossless paths run."
    )
    ttl_seconds: int = Field(7 * 24 * 3600, ge=1, description="Entries older than this are expired.")
    max_entries: int = Field(100_000, ge=1, description="Oldest entries are evicted beyond this count.")
    max_entry_bytes: int = Field(64 * 1024 * 1024, ge=1, description="Larger originals are not compressed lossily.")
    max_total_bytes: int = Field(2 * 1024**3, ge=1, description="Oldest entries are evicted beyond this total.")
    inject_retrieval_tool: bool = Field(
        True, description="Integrations offer the headroom_retrieve tool when content was elided."
    )
    max_retrieval_rounds: int = Field(3, ge=0, description="Rounds an integration answers headroom_retrieve itself.")


class PrefixFreezeConfig(_Model):
    """Cache mode: what an earlier request of a conversation sent is sent again byte for byte."""

    enabled: bool = Field(True, description="Freeze already-sent turns in cache mode.")
    max_sessions: int = Field(1024, ge=1, description="Conversations remembered (least recently used are forgotten).")
    min_frozen_messages: int = Field(
        1, ge=0, description="Freeze only when at least this many messages were sent before."
    )


class ToolProfile(_Model):
    """Per-tool compression settings (``headroom_tool_profiles``): any SmartCrusher field plus skip_compression."""

    skip_compression: bool = False
    lossless_only: bool | None = None
    max_items_after_crush: int | None = Field(None, ge=1)
    min_items_to_analyze: int | None = Field(None, ge=0)
    min_tokens_to_crush: int | None = Field(None, ge=0)
    first_fraction: float | None = Field(None, ge=0, le=1)
    last_fraction: float | None = Field(None, ge=0, le=1)
    variance_threshold: float | None = Field(None, gt=0)
    uniqueness_threshold: float | None = Field(None, ge=0, le=1)
    similarity_threshold: float | None = Field(None, ge=0, le=1)
    preserve_change_points: bool | None = None
    factor_out_constants: bool | None = None
    include_summaries: bool | None = None

    def apply_to(self, base: SmartCrusherConfig) -> SmartCrusherConfig:
        """The SmartCrusher settings of ``base`` with this profile's set fields on top."""
        updates = self.model_dump(exclude={"skip_compression"}, exclude_none=True)
        return SmartCrusherConfig(**{**base.model_dump(), **updates}) if updates else base


_OVERRIDES = ("mode", "optimization_mode", "output_buffer_tokens", "keep_turns", "tool_profiles")


def _tool_profiles(value: dict[str, Any], where: str) -> dict[str, Any]:
    """Each profile of a ``tool_profiles`` dict validated, an error naming the tool it belongs to."""
    out: dict[str, Any] = {}
    for name, profile in value.items():
        try:
            out[name] = ToolProfile(**profile) if isinstance(profile, dict) else profile
        except ConfigurationError as exc:
            raise exc.rooted_at(f"{where}[{name!r}]") from None
    return out


class HeadroomConfig(_Model):
    """Everything Headroom does, in one validated object.

    Fields not given to the constructor come from ``HEADROOM_*`` environment variables,
    then from the built-in defaults.
    """

    store_url: str = Field(
        "sqlite:///headroom.db",
        description="SQLAlchemy URL of the CCR/metrics store; relative SQLite paths live under workspace_dir.",
    )
    default_mode: HeadroomMode = Field(HeadroomMode.AUDIT, description="audit, optimize or simulate.")
    model_context_limits: dict[str, int] = Field(default_factory=dict, description="Per-model window overrides.")
    output_buffer_tokens: int = Field(4000, ge=0, description="Tokens reserved for the model's answer.")
    intercept_tool_results: bool = Field(False, description="Opt in to outlining source files read by tools.")
    generate_diff_artifact: bool = Field(False, description="Attach a unified diff of each transform for debugging.")
    discover_pipeline_extensions: bool = Field(
        True, description="Load transforms registered under the entry-point group."
    )
    smart_crusher: SmartCrusherConfig = Field(default_factory=SmartCrusherConfig)
    cache_aligner: CacheAlignerConfig = Field(default_factory=CacheAlignerConfig)
    cache_optimizer: CacheOptimizerConfig = Field(default_factory=CacheOptimizerConfig)
    ccr: CCRConfig = Field(default_factory=CCRConfig)
    prefix_freeze: PrefixFreezeConfig = Field(default_factory=PrefixFreezeConfig)
    content: ContentConfig = Field(
        default_factory=ContentConfig,
        description="Log, search, diff, text and HTML compressors (headroom.content_config).",
    )
    optimization_mode: OptimizationMode = Field(
        "token", description="token (rewrite for savings) or cache (freeze sent turns)."
    )
    keep_turns: int = Field(
        0,
        ge=0,
        description="The last N user turns are sent uncompressed, unless they alone cannot fit the window "
        "(then they are compressed and the result's notes say so). 0: every turn's tool outputs are compressed.",
    )
    compaction_low_water: float = Field(
        0.5,
        gt=0,
        le=1,
        description="When a conversation overflows the window (minus output_buffer_tokens), it is compacted "
        "once to this fraction of the window, so the following turns append to an unchanged, cached prefix "
        "until it overflows again. Lower: fewer compactions and cheaper turns, older turns kept in less detail.",
    )
    tool_profiles: dict[str, ToolProfile] = Field(default_factory=dict, description="Per-tool compression settings.")
    protect_tool_results: list[str] = Field(
        default_factory=list, description="Tools whose results are never compressed lossily."
    )
    stateless: bool = Field(False, description="No filesystem writes: the store lives in memory.")
    workspace_dir: str = Field(default_factory=_env.default_workspace_dir, description="Read-write state root.")
    config_dir: str = Field(
        default_factory=_env.default_config_dir, description="Read-mostly config root (models.json)."
    )
    model_limits_source: str | None = Field(None, description="JSON string or path with custom limits and pricing.")
    budget_usd: float | None = Field(None, gt=0, description="Daily spend limit enforced by HeadroomClient.")

    @model_validator(mode="before")
    @classmethod
    def _environment_below_constructor(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {**_env.config_from_environment(), **data}

    @field_validator("default_mode", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> HeadroomMode:
        return parse_mode(value, "HeadroomConfig.default_mode")

    @field_validator("optimization_mode", mode="before")
    @classmethod
    def _optimization_mode(cls, value: Any) -> str:
        return parse_optimization_mode(value, "HeadroomConfig.optimization_mode")

    @field_validator("tool_profiles", mode="before")
    @classmethod
    def _profiles(cls, value: Any) -> Any:
        return _tool_profiles(value, "HeadroomConfig.tool_profiles") if isinstance(value, dict) else value

    def with_overrides(self, **overrides: Any) -> HeadroomConfig:
        """A copy with per-request overrides applied (the last step of the precedence chain).

        Accepts the request keywords ``headroom_mode``, ``headroom_output_buffer_tokens``,
        ``headroom_keep_turns``, ``headroom_tool_profiles`` (with or without the ``headroom_``
        prefix); anything else raises :class:`ConfigurationError`.
        """
        if not overrides:
            return self
        updates: dict[str, Any] = {}
        keywords: dict[str, str] = {}  # field path -> the keyword the caller wrote, for error messages
        for raw_key, value in overrides.items():
            key = raw_key.removeprefix("headroom_")
            if value is None:
                continue
            if key == "mode":
                updates["default_mode"] = parse_mode(value, raw_key)
            elif key == "optimization_mode":
                updates["optimization_mode"] = parse_optimization_mode(value, raw_key)
            elif key == "tool_profiles":
                if not isinstance(value, dict):
                    raise ConfigurationError(raw_key, value, "a dict of tool name -> profile dict")
                updates["tool_profiles"] = {**self.tool_profiles, **_tool_profiles(value, raw_key)}
            elif key in ("output_buffer_tokens", "keep_turns"):
                updates[key] = value
                keywords[f"HeadroomConfig.{key}"] = raw_key
            else:
                raise ConfigurationError.unknown_name(
                    "",
                    raw_key,
                    [f"headroom_{name}" for name in _OVERRIDES],
                    kind="per-request override",
                    shared_prefix="headroom_",
                )
        data = self.model_dump()
        data.update(updates)
        data["tool_profiles"] = updates.get("tool_profiles", self.tool_profiles)
        try:
            return HeadroomConfig(**data)
        except ConfigurationError as exc:
            if exc.field in keywords:
                raise ConfigurationError(keywords[exc.field], exc.value, exc.accepted) from None
            raise

    def crusher_for_tool(self, tool_name: str | None) -> SmartCrusherConfig:
        """SmartCrusher settings for one tool: its profile on top, lossless only for protected tools."""
        cfg = self.smart_crusher
        profile = self.tool_profiles.get(tool_name or "")
        if profile is not None:
            cfg = profile.apply_to(cfg)
        if tool_name and tool_name in self.protect_tool_results and not cfg.lossless_only:
            cfg = SmartCrusherConfig(**{**cfg.model_dump(), "lossless_only": True})
        return cfg

    def skips_tool(self, tool_name: str | None) -> bool:
        """True when the tool's profile says ``skip_compression``."""
        profile = self.tool_profiles.get(tool_name or "")
        return bool(profile and profile.skip_compression)
