"""Anthropic messages on the wire: the retrieve tool, its calls, and streamed events.

A streamed answer is ``message_start``, content blocks (``content_block_start`` / ``_delta`` /
``_stop``, each with an ``index``), ``message_delta`` (stop reason, output usage) and
``message_stop``. When the proxy offered ``headroom_retrieve``, :class:`AnthropicStreamFilter`
passes every event on as it arrives except a retrieve call's own blocks; the client's blocks
are renumbered so their indexes stay 0, 1, 2... over all rounds. A turn that called only the
retrieve tool has its ``message_delta`` and ``message_stop`` held while the proxy continues the
conversation; the continuation's ``message_start`` is dropped (the client is still reading the
first message) and its final ``message_delta`` carries the usage of every round.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from headroom.ccr.retrieval import RETRIEVE_TOOL, RETRIEVE_TOOL_NAME
from headroom.providers.anthropic_provider import AnthropicProvider
from headroom.providers.base import ProviderUsage
from headroom.proxy.responses import anthropic_error
from headroom.proxy.sse import SSEEvent, encode_event
from headroom.proxy.wire import RetrieveCall, Wire, add_numbers, obj

__all__ = ["ANTHROPIC_RETRIEVE_TOOL", "AnthropicStreamFilter", "AnthropicWire"]

ANTHROPIC_RETRIEVE_TOOL: dict[str, Any] = {
    "name": RETRIEVE_TOOL_NAME,
    "description": RETRIEVE_TOOL["function"]["description"],
    "input_schema": RETRIEVE_TOOL["function"]["parameters"],
}

_USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def _is_retrieve(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") == "tool_use" and block.get("name") == RETRIEVE_TOOL_NAME


def _content(response: dict[str, Any]) -> list[Any]:
    content = response.get("content")
    return content if isinstance(content, list) else []


class AnthropicWire(Wire):
    """``POST /v1/messages`` (and ``/v1/messages/count_tokens``)."""

    name = "anthropic"

    def __init__(self) -> None:
        self.provider = AnthropicProvider()

    def error(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
        return anthropic_error(status, kind, message, headers)

    def tool_names(self, request: dict[str, Any]) -> set[str]:
        tools = request.get("tools")
        if not isinstance(tools, list):
            return set()
        return {str(t.get("name")) for t in tools if isinstance(t, dict)}

    def with_retrieve_tool(self, request: dict[str, Any]) -> dict[str, Any]:
        tools = request.get("tools")
        return {**request, "tools": [*(tools if isinstance(tools, list) else []), ANTHROPIC_RETRIEVE_TOOL]}

    def for_final_round(self, request: dict[str, Any]) -> dict[str, Any]:
        tools = [
            t for t in request.get("tools") or [] if not (isinstance(t, dict) and t.get("name") == RETRIEVE_TOOL_NAME)
        ]
        if tools:
            return {**request, "tools": tools}
        # The history now holds tool_use blocks, which need a tools list: keep the tool, forbid calls.
        return {**request, "tool_choice": {"type": "none"}}

    def max_output_tokens(self, request: dict[str, Any]) -> int | None:
        value = request.get("max_tokens")
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None

    def retrieve_calls(self, response: dict[str, Any]) -> list[RetrieveCall]:
        return [(str(b.get("id")), b.get("input") or {}) for b in _content(response) if _is_retrieve(b)]

    def has_other_calls(self, response: dict[str, Any]) -> bool:
        return any(
            isinstance(b, dict) and b.get("type") == "tool_use" and not _is_retrieve(b) for b in _content(response)
        )

    def assistant_turn(self, response: dict[str, Any]) -> dict[str, Any]:
        return {"role": "assistant", "content": _content(response)}

    def continuation(
        self, request: dict[str, Any], assistant: dict[str, Any], answers: list[tuple[str, str]]
    ) -> dict[str, Any]:
        results = [{"type": "tool_result", "tool_use_id": call_id, "content": text} for call_id, text in answers]
        messages = [*request.get("messages", []), assistant, {"role": "user", "content": results}]
        return {**request, "messages": messages}

    def without_retrieve_calls(self, response: dict[str, Any]) -> dict[str, Any]:
        content = _content(response)
        if not any(_is_retrieve(b) for b in content):
            return response
        kept = [b for b in content if not _is_retrieve(b)]
        out = {**response, "content": kept}
        if response.get("stop_reason") == "tool_use" and not any(
            isinstance(b, dict) and b.get("type") == "tool_use" for b in kept
        ):
            out["stop_reason"] = "end_turn"
        return out

    def with_usage_of(self, response: dict[str, Any], earlier: list[dict[str, Any]]) -> dict[str, Any]:
        usage = response.get("usage")
        if not earlier or not isinstance(usage, dict):
            return response
        for extra in earlier:
            usage = add_numbers(usage, {k: extra.get(k) for k in _USAGE_FIELDS if k in extra})
        return {**response, "usage": usage}

    def stream_error(self, body: bytes) -> bytes:
        return b"event: error\ndata: " + body.strip() + b"\n\n"

    def stream_filter(self, hold_retrieve: bool) -> AnthropicStreamFilter:
        return AnthropicStreamFilter(hold_retrieve)


class AnthropicStreamFilter:
    """See the module docs. One instance follows one client request over all its rounds."""

    def __init__(self, hold_retrieve: bool) -> None:
        self.hold_retrieve = hold_retrieve
        self._round = 0
        self._next_client_index = 0
        self._earlier: list[dict[str, Any]] = []  # usage of the finished rounds
        self._start_round()

    def _start_round(self) -> None:
        self._index_map: dict[int, int | None] = {}  # upstream block index -> client index (None: retrieve)
        self._blocks: dict[int, dict[str, Any]] = {}  # the round's blocks, rebuilt for a continuation
        self._partial: dict[int, str] = {}
        self._client_tool_uses = 0
        self._usage: dict[str, Any] = {}
        self._held: list[dict[str, Any]] = []  # message_delta / message_stop of a turn that wants retrieval
        self._wants = False

    def next_round(self) -> None:
        self._earlier.append(dict(self._usage))
        self._round += 1
        self._start_round()

    def feed(self, event: SSEEvent) -> list[bytes]:
        data = event.json()
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "message_start":
            message = obj(data.get("message"))
            if isinstance(message.get("usage"), dict):
                self._usage.update(message["usage"])
            return [event.raw] if self._round == 0 else []
        if kind in ("content_block_start", "content_block_delta", "content_block_stop"):
            return self._block_event(event, data, kind)
        if kind == "message_delta":
            if isinstance(data.get("usage"), dict):
                self._usage.update({k: v for k, v in data["usage"].items() if v is not None})
            stop = (data.get("delta") or {}).get("stop_reason")
            if self.hold_retrieve and stop == "tool_use" and self._has_retrieve() and not self._client_tool_uses:
                self._wants = True
                self._held.append(data)
                return []
            if self._earlier:
                return [encode_event({**data, "usage": self._summed_usage(data.get("usage"))}, "message_delta")]
            return [event.raw]
        if kind == "message_stop" and self._wants:
            self._held.append(data)
            return []
        return [event.raw]

    def _block_event(self, event: SSEEvent, data: dict[str, Any], kind: str) -> list[bytes]:
        index = data.get("index")
        if not isinstance(index, int):
            return [event.raw]
        if kind == "content_block_start":
            block = obj(data.get("content_block"))
            self._blocks[index] = dict(block)
            if self.hold_retrieve and _is_retrieve(block):
                self._index_map[index] = None
            else:
                self._index_map[index] = self._next_client_index
                self._next_client_index += 1
                if block.get("type") == "tool_use":
                    self._client_tool_uses += 1
        elif kind == "content_block_delta":
            self._accumulate(index, obj(data.get("delta")))
        target = self._index_map.get(index, index)
        if target is None:
            return []
        if target == index:
            return [event.raw]
        return [encode_event({**data, "index": target}, kind)]

    def _accumulate(self, index: int, delta: dict[str, Any]) -> None:
        block = self._blocks.get(index)
        if block is None:
            return
        kind = delta.get("type")
        if kind == "text_delta":
            block["text"] = block.get("text", "") + str(delta.get("text", ""))
        elif kind == "input_json_delta":
            self._partial[index] = self._partial.get(index, "") + str(delta.get("partial_json", ""))
        elif kind == "thinking_delta":
            block["thinking"] = block.get("thinking", "") + str(delta.get("thinking", ""))
        elif kind == "signature_delta":
            block["signature"] = block.get("signature", "") + str(delta.get("signature", ""))
        elif kind == "citations_delta":
            block.setdefault("citations", []).append(delta.get("citation"))

    def _has_retrieve(self) -> bool:
        return any(target is None for target in self._index_map.values())

    def _summed_usage(self, usage: Any) -> dict[str, Any]:
        total = {k: v for k, v in self._usage.items() if k in _USAGE_FIELDS}
        for extra in self._earlier:
            total = add_numbers(total, {k: extra[k] for k in _USAGE_FIELDS if k in extra})
        return {**(usage if isinstance(usage, dict) else {}), **total}

    def wants_retrieval(self) -> bool:
        return self._wants

    def retrieve_calls(self) -> list[RetrieveCall]:
        return [(str(self._blocks[i].get("id")), self._partial.get(i) or "{}")
                for i, target in sorted(self._index_map.items()) if target is None]  # fmt: skip

    def assistant_turn(self) -> dict[str, Any]:
        content = []
        for index in sorted(self._blocks):
            block = dict(self._blocks[index])
            if block.get("type") == "tool_use":
                try:
                    block["input"] = json.loads(self._partial.get(index) or "{}")
                except ValueError:
                    block["input"] = {}
            content.append(block)
        return {"role": "assistant", "content": content}

    def usage(self) -> ProviderUsage | None:
        return AnthropicProvider.usage_from(self._usage) if self._usage else None

    def finish(self) -> list[bytes]:
        out = []
        for data in self._held:  # retrieval ended (no rounds left): the client sees a plain end of turn
            if data.get("type") == "message_delta":
                data = {**data, "delta": {**data.get("delta", {}), "stop_reason": "end_turn"}}
                if self._earlier:
                    data["usage"] = self._summed_usage(data.get("usage"))
            out.append(encode_event(data, str(data.get("type"))))
        return out
