"""OpenAIProvider: the adapter for ``openai.OpenAI`` / ``AsyncOpenAI`` chat completions.

Chat completions already speak the OpenAI message format the pipeline works on, so conversion
is only a matter of turning SDK objects (``response.choices[0].message`` appended to a history)
into plain dicts. Prompt caching is automatic at OpenAI for prefixes of 1024+ tokens; with
``enable_prefix_caching=True`` the provider also sends a ``prompt_cache_key`` derived from the
stable prefix (system messages and tools), which routes requests that share it to the same cache.
"""

from __future__ import annotations

from typing import Any

from headroom.config import HeadroomConfig
from headroom.errors import InvalidArgumentError
from headroom.providers.base import Provider, ProviderUsage, StreamUsageTracker, short_hash
from headroom.tokens import get_counter

__all__ = ["OpenAIProvider"]


def _plain(value: Any) -> Any:
    """SDK pydantic objects (a response message appended to the history) as plain dicts."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(exclude_none=True, mode="json")
    return value


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) else 0


class _OpenAIStreamTracker(StreamUsageTracker):
    def __init__(self) -> None:
        self._usage: Any = None
        self._text: list[str] = []

    def observe(self, item: Any) -> None:
        usage = getattr(item, "usage", None)
        if usage is not None:
            self._usage = usage
        for choice in getattr(item, "choices", None) or []:
            delta = getattr(choice, "delta", None)
            if delta is None:
                continue
            if getattr(delta, "content", None):
                self._text.append(delta.content)
            for call in getattr(delta, "tool_calls", None) or []:
                fn = getattr(call, "function", None)
                if fn is not None:
                    self._text.append((getattr(fn, "name", None) or "") + (getattr(fn, "arguments", None) or ""))

    def usage(self, prompt_tokens_estimate: int, model: str) -> ProviderUsage:
        if self._usage is not None:
            return OpenAIProvider.usage_from(self._usage)
        output = get_counter(model).count("".join(self._text))
        return ProviderUsage(prompt_tokens_estimate, output, estimated=True)


class OpenAIProvider(Provider):
    """Provider adapter for OpenAI chat completions (``client.chat.completions.create``).

    ``enable_prefix_caching``: send a ``prompt_cache_key`` computed from the system messages and
    tools (only in optimize mode, only when the cache optimizer is enabled and the request has no
    key of its own). Off by default because OpenAI-compatible servers other than OpenAI may reject
    the parameter.
    """

    name = "openai"

    def __init__(self, *, enable_prefix_caching: bool = False) -> None:
        self.enable_prefix_caching = bool(enable_prefix_caching)

    def __repr__(self) -> str:
        return f"OpenAIProvider(enable_prefix_caching={self.enable_prefix_caching})"

    def check_client(self, client: Any) -> None:
        completions = getattr(getattr(client, "chat", None), "completions", None)
        if not callable(getattr(completions, "create", None)):
            raise InvalidArgumentError(
                f"OpenAIProvider wraps an openai.OpenAI / AsyncOpenAI client (with chat.completions.create); "
                f"got {type(client).__name__}. Use AnthropicProvider() for anthropic.Anthropic clients."
            )

    def to_core_messages(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        messages = request.get("messages")
        if not isinstance(messages, (list, tuple)):
            raise InvalidArgumentError(f"messages must be a list of chat messages, got {type(messages).__name__}")
        return [_plain(m) for m in messages]

    def with_core_messages(self, request: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {**request, "messages": messages}

    def apply_cache_hints(self, request: dict[str, Any], config: HeadroomConfig) -> tuple[dict[str, Any], list[str]]:
        if not self.enable_prefix_caching or request.get("prompt_cache_key"):
            return request, []
        extra = request.get("extra_body")
        if isinstance(extra, dict) and extra.get("prompt_cache_key"):
            return request, []
        messages = request.get("messages") or []
        stable = [m for m in messages if isinstance(m, dict) and m.get("role") in ("system", "developer")]
        key = "hr-" + short_hash({"model": request.get("model"), "system": stable, "tools": request.get("tools")})
        return {**request, "prompt_cache_key": key}, ["openai:prompt_cache_key"]

    @staticmethod
    def usage_from(usage: Any) -> ProviderUsage:
        """ProviderUsage from an OpenAI ``CompletionUsage`` object or dict."""
        get = usage.get if isinstance(usage, dict) else (lambda k, d=None: getattr(usage, k, d))
        details = get("prompt_tokens_details")
        cached = 0
        if details is not None:
            cached = _int(
                details.get("cached_tokens") if isinstance(details, dict) else getattr(details, "cached_tokens", 0)
            )
        return ProviderUsage(_int(get("prompt_tokens")), _int(get("completion_tokens")), cached_tokens=cached)

    def stream_tracker(self) -> StreamUsageTracker:
        return _OpenAIStreamTracker()

    def response_from_json(self, data: dict[str, Any]) -> Any:
        from openai.types.chat import ChatCompletion

        return ChatCompletion.model_validate(data)
