"""OpenAI chat completions on the wire: the retrieve tool, its calls, and streamed chunks.

A streamed answer is a series of ``data: {chunk}`` events ending with ``data: [DONE]``. When the
proxy offered ``headroom_retrieve``, :class:`OpenAIStreamFilter` passes every chunk on as it
arrives except the pieces of a retrieve call: a chunk carrying one is rewritten without it
(the client's own calls renumbered from 0), the finish chunk of a turn that called only the
retrieve tool is held (the proxy continues the conversation), and the usage chunk and
``[DONE]`` wait for the last round so the usage can be summed.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from headroom.ccr.retrieval import RETRIEVE_TOOL, RETRIEVE_TOOL_NAME
from headroom.providers.base import ProviderUsage
from headroom.providers.openai_provider import OpenAIProvider
from headroom.proxy.responses import openai_error
from headroom.proxy.sse import SSEEvent, encode_event
from headroom.proxy.wire import RetrieveCall, Wire, add_numbers, obj

__all__ = ["OpenAIStreamFilter", "OpenAIWire"]


def _message(response: dict[str, Any]) -> dict[str, Any]:
    choices = response.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict):
            return message
    return {}


def _is_retrieve(call: Any) -> bool:
    return isinstance(call, dict) and (call.get("function") or {}).get("name") == RETRIEVE_TOOL_NAME


class OpenAIWire(Wire):
    """``POST /v1/chat/completions``."""

    name = "openai"

    def __init__(self) -> None:
        self.provider = OpenAIProvider()

    def error(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
        return openai_error(status, kind, message, headers)

    def tool_names(self, request: dict[str, Any]) -> set[str]:
        tools = request.get("tools")
        if not isinstance(tools, list):
            return set()
        return {str((t.get("function") or {}).get("name")) for t in tools if isinstance(t, dict)}

    def offers_retrieval(self, request: dict[str, Any]) -> bool:
        n = request.get("n")
        return super().offers_retrieval(request) and (n is None or n == 1)  # one choice: one conversation to continue

    def with_retrieve_tool(self, request: dict[str, Any]) -> dict[str, Any]:
        tools = request.get("tools")
        return {**request, "tools": [*(tools if isinstance(tools, list) else []), RETRIEVE_TOOL]}

    def for_final_round(self, request: dict[str, Any]) -> dict[str, Any]:
        tools = [t for t in request.get("tools") or [] if not _is_retrieve(t)]
        out = {**request, "tools": tools}
        if not tools:
            for key in ("tools", "tool_choice", "parallel_tool_calls"):
                out.pop(key, None)
        return out

    def max_output_tokens(self, request: dict[str, Any]) -> int | None:
        for key in ("max_completion_tokens", "max_tokens"):
            value = request.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
        return None

    def retrieve_calls(self, response: dict[str, Any]) -> list[RetrieveCall]:
        calls = _message(response).get("tool_calls") or []
        return [
            (str(c.get("id")), (c.get("function") or {}).get("arguments") or "{}") for c in calls if _is_retrieve(c)
        ]

    def has_other_calls(self, response: dict[str, Any]) -> bool:
        return any(not _is_retrieve(c) for c in _message(response).get("tool_calls") or [])

    def assistant_turn(self, response: dict[str, Any]) -> dict[str, Any]:
        message = _message(response)
        turn: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
        if message.get("tool_calls"):
            turn["tool_calls"] = message["tool_calls"]
        return turn

    def continuation(
        self, request: dict[str, Any], assistant: dict[str, Any], answers: list[tuple[str, str]]
    ) -> dict[str, Any]:
        replies = [{"role": "tool", "tool_call_id": call_id, "content": text} for call_id, text in answers]
        return {**request, "messages": [*request.get("messages", []), assistant, *replies]}

    def without_retrieve_calls(self, response: dict[str, Any]) -> dict[str, Any]:
        message = _message(response)
        if not any(_is_retrieve(c) for c in message.get("tool_calls") or []):
            return response
        kept = [c for c in message["tool_calls"] if not _is_retrieve(c)]
        new_message = {k: v for k, v in message.items() if k != "tool_calls"}
        if kept:
            new_message["tool_calls"] = kept
        choice = {**response["choices"][0], "message": new_message}
        if not kept and choice.get("finish_reason") == "tool_calls":
            choice["finish_reason"] = "stop"
        return {**response, "choices": [choice, *response["choices"][1:]]}

    def with_usage_of(self, response: dict[str, Any], earlier: list[dict[str, Any]]) -> dict[str, Any]:
        usage = response.get("usage")
        if not earlier or not isinstance(usage, dict):
            return response
        for extra in earlier:
            usage = add_numbers(usage, extra)
        return {**response, "usage": usage}

    def stream_error(self, body: bytes) -> bytes:
        return b"data: " + body.strip() + b"\n\n"

    def stream_filter(self, hold_retrieve: bool) -> OpenAIStreamFilter:
        return OpenAIStreamFilter(hold_retrieve)


class OpenAIStreamFilter:
    """See the module docs. One instance follows one client request over all its rounds."""

    def __init__(self, hold_retrieve: bool) -> None:
        self.hold_retrieve = hold_retrieve
        self._usages: list[dict[str, Any]] = []
        self._usage_chunk: dict[str, Any] | None = None
        self._usage_event: bytes = b""
        self._done: bytes | None = None
        self._next_round_state()

    def _next_round_state(self) -> None:
        self._index_map: dict[int, int | None] = {}  # upstream tool-call index -> client index (None: retrieve)
        self._client_calls = 0
        self._retrieve: dict[int, dict[str, Any]] = {}
        self._text: list[str] = []
        self._held_finish: dict[str, Any] | None = None
        self._finish_reason: str | None = None
        self._round_usage: dict[str, Any] | None = None

    def next_round(self) -> None:
        self._next_round_state()

    def feed(self, event: SSEEvent) -> list[bytes]:
        if event.data.strip() == "[DONE]":
            self._done = event.raw
            return []
        chunk = event.json()
        if not isinstance(chunk, dict):
            return [event.raw]
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._round_usage = usage
            self._usages.append(usage)
            if not chunk.get("choices"):
                self._usage_chunk, self._usage_event = chunk, event.raw  # sent at the end, every round's usage in it
                return []
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return [event.raw]
        choice = choices[0]
        delta = obj(choice.get("delta"))
        if isinstance(delta.get("content"), str):
            self._text.append(delta["content"])
        changed = False
        if self.hold_retrieve and isinstance(delta.get("tool_calls"), list):
            kept = self._client_tool_calls(delta["tool_calls"])
            if kept != delta["tool_calls"]:
                changed = True
                delta = {k: v for k, v in delta.items() if k != "tool_calls"}
                if kept:
                    delta["tool_calls"] = kept
        if choice.get("finish_reason"):
            self._finish_reason = choice["finish_reason"]
            if self.hold_retrieve and self._retrieve and not self._client_calls:
                self._held_finish = {**chunk, "choices": [{**choice, "delta": delta}]}
                return []
        if not changed:
            return [event.raw]
        if not delta and not choice.get("finish_reason") and not choice.get("logprobs"):
            return []
        return [encode_event({**chunk, "choices": [{**choice, "delta": delta}, *choices[1:]]})]

    def _client_tool_calls(self, calls: list[Any]) -> list[Any]:
        kept = []
        for call in calls:
            if not isinstance(call, dict) or not isinstance(call.get("index"), int):
                kept.append(call)
                continue
            index = call["index"]
            if index not in self._index_map:
                if (call.get("function") or {}).get("name") == RETRIEVE_TOOL_NAME:
                    self._index_map[index] = None
                    self._retrieve[index] = {"id": call.get("id"), "arguments": ""}
                else:
                    self._index_map[index] = self._client_calls
                    self._client_calls += 1
            target = self._index_map[index]
            if target is None:
                self._retrieve[index]["arguments"] += (call.get("function") or {}).get("arguments") or ""
                continue
            kept.append(call if target == index else {**call, "index": target})
        return kept

    def wants_retrieval(self) -> bool:
        return self._held_finish is not None

    def retrieve_calls(self) -> list[RetrieveCall]:
        return [(str(c["id"]), c["arguments"] or "{}") for _, c in sorted(self._retrieve.items())]

    def assistant_turn(self) -> dict[str, Any]:
        calls = [
            {"id": c["id"], "type": "function", "function": {"name": RETRIEVE_TOOL_NAME, "arguments": c["arguments"]}}
            for _, c in sorted(self._retrieve.items())
        ]
        return {"role": "assistant", "content": "".join(self._text) or None, "tool_calls": calls}

    def usage(self) -> ProviderUsage | None:
        return OpenAIProvider.usage_from(self._round_usage) if self._round_usage is not None else None

    def finish(self) -> list[bytes]:
        out: list[bytes] = []
        if self._held_finish is not None:  # retrieval ended (no rounds left): the client sees a plain stop
            choice = {**self._held_finish["choices"][0], "finish_reason": "stop"}
            out.append(encode_event({**self._held_finish, "choices": [choice]}))
        if self._usage_chunk is not None and len(self._usages) == 1:
            out.append(self._usage_event)  # one round: the upstream's own bytes
        elif self._usage_chunk is not None:
            total: dict[str, Any] = {}
            for usage in self._usages:
                total = add_numbers(total, usage)
            out.append(encode_event({**self._usage_chunk, "usage": total}))
        if self._done is not None:
            out.append(self._done)
        return out
