"""AnthropicProvider: the adapter for ``anthropic.Anthropic`` / ``AsyncAnthropic`` messages.

The pipeline works on OpenAI-format dicts, so a Messages API request is converted for it and
back:

- the top-level ``system`` (string or text blocks) becomes a leading ``system`` message;
- an assistant's ``tool_use`` blocks become ``tool_calls`` (``input`` as JSON ``arguments``);
- a user message's ``tool_result`` blocks become ``tool`` messages (``is_error`` and
  ``cache_control`` kept on them), its other blocks a ``user`` message after them;
- images, documents, thinking blocks and ``cache_control`` travel unchanged inside content parts.

Converting back puts consecutive tool results into one user message, as the Messages API
requires, and the other blocks of a user message that carried tool results back beside them
(the split part is marked with a private key that never reaches the provider); a separate user
turn stays separate. Cache hints place an
``ephemeral`` ``cache_control`` breakpoint after the stable prefix (tools and system) when it is
large enough to be cached and the request has breakpoints to spare (at most four in all).
"""

from __future__ import annotations

import json
from typing import Any

from headroom.config import HeadroomConfig
from headroom.errors import InvalidArgumentError
from headroom.models import ModelRegistry
from headroom.providers.base import Provider, ProviderUsage, StreamUsageTracker
from headroom.tokens import get_counter

__all__ = ["AnthropicProvider"]

_TOOL_RESULT_KEYS = ("type", "tool_use_id", "content")
_JOINS_TOOL_RESULTS = "_headroom_joins_tool_results"
"""Marks the user message holding the non-tool blocks of a user message that also carried tool results."""
CACHE_WRITE_PREMIUM = 0.25
"""Anthropic bills 5-minute cache writes at 1.25x the base input price."""


def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(exclude_none=True, mode="json")
    return value


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) else 0


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if content is None:
        return []
    return [_plain(b) for b in content]


def _count_cache_controls(value: Any) -> int:
    if isinstance(value, dict):
        return (1 if value.get("cache_control") else 0) + sum(_count_cache_controls(v) for k, v in value.items()
                                                              if k != "cache_control")  # fmt: skip
    if isinstance(value, list):
        return sum(_count_cache_controls(v) for v in value)
    return 0


class _AnthropicStreamTracker(StreamUsageTracker):
    def __init__(self) -> None:
        self._start: Any = None
        self._output: int | None = None
        self._text: list[str] = []

    def observe(self, item: Any) -> None:
        kind = getattr(item, "type", None)
        if kind == "message_start":
            self._start = getattr(getattr(item, "message", None), "usage", None)
        elif kind == "message_delta":
            usage = getattr(item, "usage", None)
            if usage is not None and getattr(usage, "output_tokens", None) is not None:
                self._output = int(usage.output_tokens)
        elif kind == "content_block_delta":
            delta = getattr(item, "delta", None)
            self._text.append(getattr(delta, "text", None) or getattr(delta, "partial_json", None) or "")

    def usage(self, prompt_tokens_estimate: int, model: str) -> ProviderUsage:
        output = self._output if self._output is not None else get_counter(model).count("".join(self._text))
        if self._start is None:
            return ProviderUsage(prompt_tokens_estimate, output, estimated=True)
        base = AnthropicProvider.usage_from(self._start)
        return ProviderUsage(base.input_tokens, output, base.cached_tokens, base.cache_creation_tokens)


class AnthropicProvider(Provider):
    """Provider adapter for the Anthropic Messages API (``client.messages.create`` / ``.stream``).

    ``cache_prefix``: place a ``cache_control`` breakpoint after tools and system in optimize mode
    (when ``HeadroomConfig.cache_optimizer`` is enabled, the prefix has at least
    ``min_cacheable_tokens`` and the request has fewer than ``max_breakpoints``).
    """

    name = "anthropic"

    def __init__(self, *, cache_prefix: bool = True) -> None:
        self.cache_prefix = bool(cache_prefix)

    def __repr__(self) -> str:
        return f"AnthropicProvider(cache_prefix={self.cache_prefix})"

    def check_client(self, client: Any) -> None:
        if not callable(getattr(getattr(client, "messages", None), "create", None)):
            raise InvalidArgumentError(
                f"AnthropicProvider wraps an anthropic.Anthropic / AsyncAnthropic client (with messages.create); "
                f"got {type(client).__name__}. Use OpenAIProvider() for openai.OpenAI clients."
            )

    # -- Anthropic -> OpenAI format ------------------------------------------------------------------
    def to_core_messages(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        messages = request.get("messages")
        if not isinstance(messages, (list, tuple)):
            raise InvalidArgumentError(f"messages must be a list of messages, got {type(messages).__name__}")
        core: list[dict[str, Any]] = []
        system = request.get("system")
        if isinstance(system, str) and system:
            core.append({"role": "system", "content": system})
        elif isinstance(system, (list, tuple)) and system:
            core.append({"role": "system", "content": [_plain(b) for b in system]})
        for raw in messages:
            msg = _plain(raw)
            role, content = msg.get("role"), msg.get("content")
            if isinstance(content, str) or role not in ("user", "assistant"):
                core.append({"role": role, "content": content})
            elif role == "assistant":
                core.append(self._assistant_to_core(_blocks(content)))
            else:
                core.extend(self._user_to_core(_blocks(content)))
        return core

    @staticmethod
    def _assistant_to_core(blocks: list[dict[str, Any]]) -> dict[str, Any]:
        parts = [b for b in blocks if b.get("type") != "tool_use"]
        calls = [
            {"id": b.get("id"), "type": "function",
             "function": {"name": b.get("name"), "arguments": json.dumps(b.get("input", {}), ensure_ascii=False)}}
            for b in blocks if b.get("type") == "tool_use"
        ]  # fmt: skip
        message: dict[str, Any] = {"role": "assistant", "content": parts or None}
        if calls:
            message["tool_calls"] = calls
        return message

    @staticmethod
    def _user_to_core(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        others: list[dict[str, Any]] = []
        for block in blocks:
            if block.get("type") == "tool_result":
                tool: dict[str, Any] = {"role": "tool", "tool_call_id": block.get("tool_use_id"),
                                        "content": block.get("content", "")}  # fmt: skip
                tool.update({k: v for k, v in block.items() if k not in _TOOL_RESULT_KEYS})
                out.append(tool)
            else:
                others.append(block)
        if others or not out:
            rest: dict[str, Any] = {"role": "user", "content": others}
            if out:
                rest[_JOINS_TOOL_RESULTS] = True
            out.append(rest)
        return out

    # -- OpenAI format -> Anthropic ------------------------------------------------------------------
    def with_core_messages(self, request: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
        system_parts: list[Any] = []
        out: list[dict[str, Any]] = []
        open_tool_turn = False  # the last output message carries tool results a user message may join
        for m in messages:
            role = m.get("role")
            if role in ("system", "developer"):
                system_parts.append(m.get("content"))
                continue
            if role == "tool":
                block = {"type": "tool_result", "tool_use_id": m.get("tool_call_id"), "content": m.get("content", "")}
                block.update({k: v for k, v in m.items() if k not in ("role", "tool_call_id", "content", "name")})
                if open_tool_turn:
                    out[-1]["content"].append(block)
                else:
                    out.append({"role": "user", "content": [block]})
                    open_tool_turn = True
                continue
            if role == "user" and open_tool_turn and m.get(_JOINS_TOOL_RESULTS):
                out[-1]["content"].extend(_blocks(m.get("content")))
            elif role == "assistant":
                out.append(self._assistant_from_core(m))
            else:
                out.append({"role": role, "content": m.get("content")})
            if m.get("cache_control"):
                self._mark_last_block(out[-1], m["cache_control"])
            open_tool_turn = False
        result = {**request, "messages": out}
        if system_parts:
            result["system"] = self._system_from_parts(system_parts)
        else:
            result.pop("system", None)
        return result

    @staticmethod
    def _assistant_from_core(m: dict[str, Any]) -> dict[str, Any]:
        content = m.get("content")
        calls = m.get("tool_calls") or []
        if isinstance(content, str) and not calls:
            return {"role": "assistant", "content": content}
        blocks = _blocks(content)
        for call in calls:
            fn = call.get("function") or {}
            try:
                args = json.loads(fn.get("arguments") or "{}")
            except ValueError:
                args = {}
            blocks.append({"type": "tool_use", "id": call.get("id"), "name": fn.get("name"), "input": args})
        return {"role": "assistant", "content": blocks}

    @staticmethod
    def _system_from_parts(parts: list[Any]) -> Any:
        if len(parts) == 1 and isinstance(parts[0], str):
            return parts[0]
        blocks: list[dict[str, Any]] = []
        for part in parts:
            blocks.extend(_blocks(part))
        return blocks

    @staticmethod
    def _mark_last_block(message: dict[str, Any], cache_control: Any) -> None:
        blocks = _blocks(message.get("content"))
        if blocks:
            blocks[-1] = {**blocks[-1], "cache_control": cache_control}
            message["content"] = blocks

    # -- cache hints ---------------------------------------------------------------------------------
    def apply_cache_hints(self, request: dict[str, Any], config: HeadroomConfig) -> tuple[dict[str, Any], list[str]]:
        opt = config.cache_optimizer
        if not self.cache_prefix:
            return request, []
        tools = list(request.get("tools") or [])
        system = request.get("system")
        if not tools and not system:
            return request, []
        used = _count_cache_controls(request.get("messages")) + _count_cache_controls(tools)
        used += _count_cache_controls(system if isinstance(system, list) else [])
        used += 1 if request.get("cache_control") else 0  # request-level automatic caching uses a slot
        if (
            used >= opt.max_breakpoints
            or _count_cache_controls([_plain(t) for t in tools])
            or (isinstance(system, list) and _count_cache_controls([_plain(b) for b in system]))
        ):
            return request, []
        counter = get_counter(str(request.get("model", "")))
        prefix_tokens = counter.count(json.dumps([_plain(t) for t in tools], ensure_ascii=False)) if tools else 0
        prefix_tokens += counter.count(system if isinstance(system, str) else json.dumps(_blocks(system)))
        if prefix_tokens < opt.min_cacheable_tokens:
            return request, []
        marker = {"type": "ephemeral"}
        if system:
            blocks = _blocks(system)
            blocks[-1] = {**blocks[-1], "cache_control": marker}
            return {**request, "system": blocks}, ["anthropic:cache_control:system"]
        last = {**_plain(tools[-1]), "cache_control": marker}
        return {**request, "tools": [*tools[:-1], last]}, ["anthropic:cache_control:tools"]

    # -- responses and pricing -----------------------------------------------------------------------
    @staticmethod
    def usage_from(usage: Any) -> ProviderUsage:
        """ProviderUsage from an Anthropic ``Usage`` object or dict (input counts cached reads and writes)."""
        get = usage.get if isinstance(usage, dict) else (lambda k, d=None: getattr(usage, k, d))
        read = _int(get("cache_read_input_tokens"))
        write = _int(get("cache_creation_input_tokens"))
        return ProviderUsage(_int(get("input_tokens")) + read + write, _int(get("output_tokens")), read, write)

    def stream_tracker(self) -> StreamUsageTracker:
        return _AnthropicStreamTracker()

    def response_from_json(self, data: dict[str, Any]) -> Any:
        from anthropic.types import Message

        return Message.model_validate(data)

    def cost(self, registry: ModelRegistry, model: str, usage: ProviderUsage) -> float | None:
        base = super().cost(registry, model, usage)
        pricing = registry.get(model).pricing
        if base is None or pricing is None:
            return base
        return base + usage.cache_creation_tokens * pricing.input * CACHE_WRITE_PREMIUM / 1_000_000
