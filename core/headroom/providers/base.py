"""What a provider adapter does for :class:`headroom.client.HeadroomClient`.

A provider owns everything that differs between the OpenAI and the Anthropic APIs: which SDK call
it wraps, how a request's messages map to the OpenAI-format dicts the pipeline works on and back,
where cache hints go, how a response reports token usage (including cached tokens), and what a
call costs. The client itself holds no provider-specific code.
"""

from __future__ import annotations

import abc
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from headroom.config import HeadroomConfig
from headroom.errors import InvalidArgumentError
from headroom.models import ModelRegistry

__all__ = ["Provider", "ProviderUsage", "StreamUsageTracker", "canonical_json"]


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces): equal data gives equal text, for hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def short_hash(value: Any) -> str:
    """A 16-hex-digit digest of ``canonical_json(value)``."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ProviderUsage:
    """Token usage of one call, in one shape for both providers.

    ``input_tokens`` counts every prompt token, cached or not (OpenAI ``prompt_tokens``;
    Anthropic ``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``).
    """

    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0
    """Prompt tokens read from the provider's prompt cache."""
    cache_creation_tokens: int = 0
    """Prompt tokens written to the cache (Anthropic bills them at 1.25x the input price)."""
    estimated: bool = False
    """True when the provider reported no usage (e.g. a stream without usage) and Headroom counted."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "cache_creation_tokens": self.cache_creation_tokens,
            "estimated": self.estimated,
        }


class StreamUsageTracker(abc.ABC):
    """Collects usage and output text from a provider's stream items as they pass by."""

    @abc.abstractmethod
    def observe(self, item: Any) -> None:
        """Look at one chunk / event (never modifies it)."""

    @abc.abstractmethod
    def usage(self, prompt_tokens_estimate: int, model: str) -> ProviderUsage:
        """Usage reported by the stream, or an estimate from the streamed text when it reported none."""


class Provider(abc.ABC):
    """Adapter between HeadroomClient and one provider SDK."""

    name: str = "provider"
    """Short provider name: ``openai`` or ``anthropic`` (recorded with the metrics)."""

    # -- the wrapped SDK ------------------------------------------------------------------------
    @abc.abstractmethod
    def check_client(self, client: Any) -> None:
        """Raise InvalidArgumentError when ``client`` is not an SDK client this provider wraps."""

    # -- messages --------------------------------------------------------------------------------
    @abc.abstractmethod
    def to_core_messages(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        """The request's conversation as OpenAI-format message dicts (the pipeline's input)."""

    @abc.abstractmethod
    def with_core_messages(self, request: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
        """A copy of ``request`` whose conversation is ``messages`` (converted back to this API)."""

    def tools_of(self, request: dict[str, Any]) -> list[Any]:
        """The tool definitions of a request (part of the semantic-cache key)."""
        tools = request.get("tools")
        return list(tools) if isinstance(tools, list) else []

    # -- cache hints -----------------------------------------------------------------------------
    def apply_cache_hints(self, request: dict[str, Any], config: HeadroomConfig) -> tuple[dict[str, Any], list[str]]:
        """Provider-specific cache hints on an outgoing (optimized) request; returns it and the hints placed."""
        return request, []

    # -- responses -------------------------------------------------------------------------------
    @abc.abstractmethod
    def usage_from(self, usage: Any) -> ProviderUsage:
        """ProviderUsage from the SDK's usage object (or its dict form)."""

    def parse_usage(self, response: Any) -> ProviderUsage | None:
        """Usage of a non-streamed response, or None when it has none."""
        usage = getattr(response, "usage", None)
        return None if usage is None else self.usage_from(usage)

    @abc.abstractmethod
    def stream_tracker(self) -> StreamUsageTracker:
        """A fresh tracker for one streamed response."""

    def response_to_json(self, response: Any) -> dict[str, Any]:
        """A response as plain JSON data (stored by the semantic cache)."""
        data = response.model_dump(mode="json")
        if not isinstance(data, dict):
            raise InvalidArgumentError(f"cannot store a {type(response).__name__} response")
        return data

    @abc.abstractmethod
    def response_from_json(self, data: dict[str, Any]) -> Any:
        """The SDK response object rebuilt from :meth:`response_to_json` data."""

    # -- pricing ---------------------------------------------------------------------------------
    def cost(self, registry: ModelRegistry, model: str, usage: ProviderUsage) -> float | None:
        """US dollars of a call with ``usage``, from the registry's prices (None when unknown)."""
        return registry.cost(model, usage.input_tokens, usage.output_tokens, cached_input_tokens=usage.cached_tokens)
