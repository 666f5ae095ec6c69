"""A scripted OpenAI- and Anthropic-compatible HTTP server on 127.0.0.1 for tests.

Real SDK clients (``openai.OpenAI``, ``anthropic.Anthropic``, ``ChatOpenAI``, ...) are pointed at
it so tests exercise the real request and response code paths without a network::

    from tests.support.scripted_server import ScriptedServer, text_reply, tool_call_reply

    with ScriptedServer() as srv:
        srv.script(tool_call_reply("search", {"q": "x"}), text_reply("done"))
        client = openai.OpenAI(base_url=srv.base_url, api_key="test", max_retries=0)
        client.chat.completions.create(model="gpt-4o", messages=[...])
        assert srv.requests[0].body["messages"] == [...]

Replies are consumed in order; once the script is empty every request is answered with the
text ``"ok"``. Endpoints:

- ``POST /v1/chat/completions``: OpenAI chat completions, JSON or SSE (``"stream": true``).
- ``POST /v1/messages``: Anthropic messages, JSON or SSE.
- ``POST /v1/messages/count_tokens``: Anthropic token counting (estimate, see below).
- ``GET /v1/models``: a one-model list (for pass-through tests).

The server is strict where a compressor or a message converter could break a request: it answers
400 in the provider's own error shape when tool calls and tool results are not paired, when a
message has an unknown role, and when a ``headroom_*`` key (a Headroom per-request override) reaches
it. Every request is recorded, including unknown keys, so tests can assert what the provider saw.

``ScriptedServer(keep_alive=True)`` speaks HTTP/1.1 and keeps connections open (HTTP/1.0 and one
connection per request otherwise). ``ScriptedServer(stream_delay=0.05)`` sleeps between the events of a streamed reply (to see that a
proxy relays them as they come); ``error_reply(429, "slow down", headers={"retry-after": "7"})``
sends its own headers; each recorded request keeps its body bytes as received (``raw``).

Token usage, unless a reply sets it, is an estimate of four characters per token over the JSON of
the prompt (messages, system and tools) and one token per word of the answer: deterministic and
proportional, so a smaller prompt reports fewer prompt tokens.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "RecordedRequest",
    "Reply",
    "ScriptedServer",
    "ToolCall",
    "Usage",
    "error_reply",
    "scripted_server",
    "text_reply",
    "tool_call_reply",
    "tool_calls_reply",
]

# Keys the OpenAI chat completions endpoint accepts; anything else is listed by ``unknown_params``.
OPENAI_CHAT_PARAMS = frozenset(
    {
        "model", "messages", "stream", "stream_options", "tools", "tool_choice", "temperature", "top_p",
        "n", "stop", "max_tokens", "max_completion_tokens", "presence_penalty", "frequency_penalty",
        "logit_bias", "logprobs", "top_logprobs", "user", "seed", "response_format", "parallel_tool_calls",
        "functions", "function_call", "metadata", "store", "service_tier", "modalities", "audio",
        "prediction", "reasoning_effort", "web_search_options", "verbosity", "prompt_cache_key",
        "prompt_cache_retention", "safety_identifier",
    }
)  # fmt: skip
ANTHROPIC_MESSAGES_PARAMS = frozenset(
    {
        "model", "messages", "max_tokens", "system", "stream", "tools", "tool_choice", "temperature",
        "top_p", "top_k", "stop_sequences", "metadata", "thinking", "service_tier", "container",
        "mcp_servers", "context_management", "output_format", "output_config", "cache_control", "speed",
        "inference_geo", "diagnostics",
    }
)  # fmt: skip
_OPENAI_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it (``body`` is the parsed JSON, or None)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes = b""
    """The body bytes exactly as received."""


@dataclass(frozen=True)
class Usage:
    """Token usage a reply reports (OpenAI and Anthropic names are derived from these)."""

    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0
    """OpenAI ``prompt_tokens_details.cached_tokens`` / Anthropic ``cache_read_input_tokens``."""
    cache_creation_tokens: int = 0
    """Anthropic ``cache_creation_input_tokens`` (OpenAI has no equivalent)."""


@dataclass(frozen=True)
class ToolCall:
    """One tool call in a scripted reply."""

    name: str
    arguments: dict[str, Any]
    call_id: str | None = None


@dataclass(frozen=True)
class Reply:
    """A scripted answer; build it with ``text_reply``, ``tool_call_reply`` or ``error_reply``."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage | None = None
    status: int = 200
    error_message: str = ""
    error_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    """Extra response headers (an error reply sends ``retry-after: 0`` unless it sets its own)."""

    @property
    def is_error(self) -> bool:
        return self.status >= 400


def _as_usage(usage: Usage | dict[str, int] | None) -> Usage | None:
    if usage is None or isinstance(usage, Usage):
        return usage
    return Usage(**usage)


def text_reply(text: str, usage: Usage | dict[str, int] | None = None) -> Reply:
    """A plain assistant answer. ``usage`` may be a :class:`Usage` or a dict of its fields."""
    return Reply(text=text, usage=_as_usage(usage))


def tool_call_reply(
    name: str, arguments: dict[str, Any], call_id: str | None = None, usage: Usage | dict[str, int] | None = None
) -> Reply:
    """An assistant answer with one tool call (id generated when not given)."""
    return Reply(tool_calls=(ToolCall(name, arguments, call_id),), usage=_as_usage(usage))


def tool_calls_reply(
    *calls: ToolCall | tuple[str, dict[str, Any]], text: str = "", usage: Usage | dict[str, int] | None = None
) -> Reply:
    """An assistant answer with several tool calls (``ToolCall`` or ``(name, arguments)`` pairs)."""
    built = tuple(c if isinstance(c, ToolCall) else ToolCall(c[0], c[1]) for c in calls)
    return Reply(text=text, tool_calls=built, usage=_as_usage(usage))


def error_reply(status: int, message: str, type_: str | None = None, headers: dict[str, str] | None = None) -> Reply:
    """An error in the provider's JSON shape; ``type_`` defaults to the provider's type for ``status``.

    ``headers`` are sent with it (``retry-after: 0`` when they name no ``retry-after``).
    """
    if status < 400:
        raise ValueError(f"error_reply needs a 4xx/5xx status, got {status}")
    return Reply(status=status, error_message=message, error_type=type_, headers=tuple((headers or {}).items()))


_OPENAI_ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
                       429: "rate_limit_exceeded", 500: "server_error", 503: "server_error"}  # fmt: skip
_ANTHROPIC_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                          404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
                          500: "api_error", 529: "overloaded_error"}  # fmt: skip


class _BadRequest(Exception):
    """A request the real provider would reject with 400."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def _estimate_prompt_tokens(body: dict[str, Any]) -> int:
    parts = [body.get("messages"), body.get("system"), body.get("tools")]
    return max(1, len(json.dumps([p for p in parts if p], ensure_ascii=False)) // 4)


def _words(text: str) -> list[str]:
    """Split text into stream chunks of one word each, whitespace kept, so they re-join exactly."""
    chunks: list[str] = []
    current = ""
    for ch in text:
        if ch.isspace() and current and not current[-1].isspace():
            chunks.append(current)
            current = ch
        else:
            current += ch
    if current:
        chunks.append(current)
    return chunks


def _pieces(text: str, n: int = 3) -> list[str]:
    """Split a string into ``n`` non-empty pieces (fewer when it is shorter)."""
    if len(text) <= 1:
        return [text]
    size = max(1, -(-len(text) // n))
    return [text[i : i + size] for i in range(0, len(text), size)]


# ---------------------------------------------------------------------------------------- validation


def _validate_openai_chat(body: dict[str, Any]) -> None:
    for key in body:
        if key.startswith("headroom"):
            raise _BadRequest(f"Unrecognized request argument supplied: {key}")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise _BadRequest("you must provide a model parameter", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _BadRequest("'messages' must be a non-empty array", "messages")
    open_ids: set[str] = set()
    pending: list[str] = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or msg.get("role") not in _OPENAI_ROLES:
            role = msg.get("role") if isinstance(msg, dict) else msg
            raise _BadRequest(
                f"Invalid value: {role!r}. Supported values are: 'system', 'assistant', 'user', 'function', "
                "'tool', and 'developer'.",
                f"messages[{i}].role",
            )
        role = msg["role"]
        if role == "tool":
            call_id = msg.get("tool_call_id")
            if call_id not in open_ids:
                raise _BadRequest(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
                    "with 'tool_calls'.",
                    f"messages.[{i}].role",
                )
            if call_id in pending:
                pending.remove(call_id)
            if not isinstance(msg.get("content"), (str, list)):
                raise _BadRequest(f"Invalid type for 'messages[{i}].content'", f"messages[{i}].content")
            continue
        if pending:
            raise _BadRequest(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(pending)}",
                f"messages.[{i}].role",
            )
        open_ids = set()
        if role == "assistant" and msg.get("tool_calls"):
            for j, call in enumerate(msg["tool_calls"]):
                fn = call.get("function") if isinstance(call, dict) else None
                if not isinstance(fn, dict) or not call.get("id") or not isinstance(fn.get("arguments"), str):
                    raise _BadRequest(
                        f"Invalid 'messages[{i}].tool_calls[{j}]': expected id, type and function with string "
                        "arguments.",
                        f"messages[{i}].tool_calls[{j}]",
                    )
            open_ids = {c["id"] for c in msg["tool_calls"]}
            pending = [c["id"] for c in msg["tool_calls"]]
        elif role in ("user", "system", "developer") and msg.get("content") is None:
            raise _BadRequest(f"Missing required parameter: 'messages[{i}].content'.", f"messages[{i}].content")
    if pending:
        raise _BadRequest(
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
            f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(pending)}",
            "messages",
        )


def _anthropic_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _count_cache_control(value: Any) -> int:
    """Blocks marked with cache_control anywhere inside ``value`` (tool_result contents included)."""
    if isinstance(value, dict):
        own = 1 if value.get("cache_control") else 0
        return own + sum(_count_cache_control(v) for k, v in value.items() if k != "cache_control")
    if isinstance(value, list):
        return sum(_count_cache_control(v) for v in value)
    return 0


def _validate_anthropic_messages(body: dict[str, Any]) -> None:
    for key in body:
        if key.startswith("headroom"):
            raise _BadRequest(f"{key}: Extra inputs are not permitted")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise _BadRequest("model: Field required")
    if not isinstance(body.get("max_tokens"), int):
        raise _BadRequest("max_tokens: Field required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _BadRequest("messages: at least one message is required")
    cache_blocks = _count_cache_control(body.get("system")) + _count_cache_control(body.get("tools"))
    previous_tool_use: list[str] = []
    for i, msg in enumerate(messages):
        role = msg.get("role") if isinstance(msg, dict) else None
        if role not in ("user", "assistant"):
            raise _BadRequest(
                f'messages: Unexpected role "{role}". The Messages API accepts a top-level `system` parameter, '
                "not \"system\" as an input message role." if role == "system" else
                f'messages.{i}.role: Input should be \'user\' or \'assistant\''
            )  # fmt: skip
        extra = sorted(set(msg) - {"role", "content"})
        if extra:
            raise _BadRequest(f"messages.{i}.{extra[0]}: Extra inputs are not permitted")
        content = msg.get("content")
        if isinstance(content, str):
            if not content and not (role == "assistant" and i == len(messages) - 1):
                raise _BadRequest(
                    f"messages.{i}: all messages must have non-empty content except for the optional final "
                    "assistant message"
                )
        elif not isinstance(content, list) or (not content and not (role == "assistant" and i == len(messages) - 1)):
            raise _BadRequest(f"messages.{i}.content: Input should be a valid list or string")
        blocks = _anthropic_blocks(content)
        cache_blocks += _count_cache_control(blocks)
        results = [(j, b) for j, b in enumerate(blocks) if b.get("type") == "tool_result"]
        for j, block in enumerate(blocks):
            kind = block.get("type")
            if kind == "text" and not block.get("text"):
                raise _BadRequest(f"messages.{i}.content.{j}.text: text content blocks must be non-empty")
            if kind == "tool_use" and role != "assistant":
                raise _BadRequest(f"messages.{i}.content.{j}: `tool_use` blocks are only allowed in assistant messages")
            if kind == "tool_result" and role != "user":
                raise _BadRequest(f"messages.{i}.content.{j}: `tool_result` blocks are only allowed in user messages")
        for j, block in results:
            if block.get("tool_use_id") not in previous_tool_use:
                raise _BadRequest(
                    f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{block.get('tool_use_id')}. Each `tool_result` block must have a corresponding `tool_use` "
                    "block in the previous message."
                )
        if previous_tool_use:
            answered = {b.get("tool_use_id") for _, b in results}
            missing = [tid for tid in previous_tool_use if tid not in answered]
            if missing:
                raise _BadRequest(
                    f"messages.{i - 1}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                    f"{', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` block "
                    "in the next message."
                )
        previous_tool_use = [b.get("id") for b in blocks if b.get("type") == "tool_use"] if role == "assistant" else []
    if previous_tool_use:
        raise _BadRequest(
            f"messages.{len(messages) - 1}: `tool_use` ids were found without `tool_result` blocks immediately "
            f"after: {', '.join(previous_tool_use)}. Each `tool_use` block must have a corresponding `tool_result` "
            "block in the next message."
        )
    if cache_blocks > 4:
        raise _BadRequest(f"A maximum of 4 blocks with cache_control may be provided. Found {cache_blocks}.")


# ------------------------------------------------------------------------------------------ rendering


class _Renderer:
    """Turns a :class:`Reply` into provider JSON or SSE events for one request."""

    def __init__(self, reply: Reply, body: dict[str, Any], seq: int) -> None:
        self.reply = reply
        self.body = body
        self.seq = seq
        self.model = str(body.get("model", ""))
        self.usage = reply.usage or Usage(
            input_tokens=_estimate_prompt_tokens(body),
            output_tokens=max(1, len(reply.text.split()) + 5 * len(reply.tool_calls)),
        )
        self.calls = [
            (c.call_id or f"call_{seq}_{n}", c.name, json.dumps(c.arguments, ensure_ascii=False))
            for n, c in enumerate(reply.tool_calls)
        ]
        self.anthropic_ids = [c.call_id or f"toolu_{seq}_{n}" for n, c in enumerate(reply.tool_calls)]

    # OpenAI -----------------------------------------------------------------------------------------

    def openai_usage(self) -> dict[str, Any]:
        u = self.usage
        return {
            "prompt_tokens": u.input_tokens,
            "completion_tokens": u.output_tokens,
            "total_tokens": u.input_tokens + u.output_tokens,
            "prompt_tokens_details": {"cached_tokens": u.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }

    def openai_json(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.reply.text or None, "refusal": None}
        if self.calls:
            message["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                for cid, name, args in self.calls
            ]
        return {
            "id": f"chatcmpl-scripted-{self.seq}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if self.calls else "stop",
                }
            ],
            "usage": self.openai_usage(),
            "system_fingerprint": "fp_scripted",
        }

    def openai_sse(self) -> Iterator[bytes]:
        include_usage = bool((self.body.get("stream_options") or {}).get("include_usage"))
        base = {
            "id": f"chatcmpl-scripted-{self.seq}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
            "system_fingerprint": "fp_scripted",
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            data = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            if include_usage:
                data["usage"] = None
            return f"data: {json.dumps(data)}\n\n".encode()

        yield chunk({"role": "assistant", "content": "", "refusal": None})
        for word in _words(self.reply.text):
            yield chunk({"content": word})
        for index, (cid, name, args) in enumerate(self.calls):
            yield chunk(
                {"tool_calls": [{"index": index, "id": cid, "type": "function",
                                 "function": {"name": name, "arguments": ""}}]}
            )  # fmt: skip
            for piece in _pieces(args):
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        yield chunk({}, "tool_calls" if self.calls else "stop")
        if include_usage:
            yield f"data: {json.dumps({**base, 'choices': [], 'usage': self.openai_usage()})}\n\n".encode()
        yield b"data: [DONE]\n\n"

    def openai_error(self) -> dict[str, Any]:
        r = self.reply
        return {
            "error": {
                "message": r.error_message,
                "type": r.error_type or _OPENAI_ERROR_TYPES.get(r.status, "api_error"),
                "param": None,
                "code": None,
            }
        }

    # Anthropic --------------------------------------------------------------------------------------

    def anthropic_usage(self, output_tokens: int | None = None) -> dict[str, Any]:
        u = self.usage
        return {
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens if output_tokens is None else output_tokens,
            "cache_read_input_tokens": u.cached_tokens,
            "cache_creation_input_tokens": u.cache_creation_tokens,
        }

    def anthropic_content(self) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = [{"type": "text", "text": self.reply.text}] if self.reply.text else []
        for tool_id, (_, name, args) in zip(self.anthropic_ids, self.calls, strict=True):
            blocks.append({"type": "tool_use", "id": tool_id, "name": name, "input": json.loads(args)})
        return blocks

    def anthropic_json(self) -> dict[str, Any]:
        return {
            "id": f"msg_scripted_{self.seq}",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": self.anthropic_content(),
            "stop_reason": "tool_use" if self.calls else "end_turn",
            "stop_sequence": None,
            "usage": self.anthropic_usage(),
        }

    def anthropic_sse(self) -> Iterator[bytes]:
        def event(name: str, data: dict[str, Any]) -> bytes:
            return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

        start = {**self.anthropic_json(), "content": [], "stop_reason": None, "usage": self.anthropic_usage(1)}
        yield event("message_start", {"type": "message_start", "message": start})
        yield event("ping", {"type": "ping"})
        for index, block in enumerate(self.anthropic_content()):
            if block["type"] == "text":
                yield event("content_block_start",
                            {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})  # fmt: skip
                for word in _words(block["text"]):
                    yield event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                        "delta": {"type": "text_delta", "text": word}})  # fmt: skip
            else:
                empty = {**block, "input": {}}
                yield event(
                    "content_block_start", {"type": "content_block_start", "index": index, "content_block": empty}
                )
                for piece in _pieces(json.dumps(block["input"], ensure_ascii=False)):
                    yield event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                        "delta": {"type": "input_json_delta", "partial_json": piece}})  # fmt: skip
            yield event("content_block_stop", {"type": "content_block_stop", "index": index})
        yield event(
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "tool_use" if self.calls else "end_turn",
                                                 "stop_sequence": None},
             "usage": {"output_tokens": self.usage.output_tokens}},
        )  # fmt: skip
        yield event("message_stop", {"type": "message_stop"})

    def anthropic_error(self) -> dict[str, Any]:
        r = self.reply
        error_type = r.error_type or _ANTHROPIC_ERROR_TYPES.get(r.status, "api_error")
        return {"type": "error", "error": {"type": error_type, "message": r.error_message}}


# --------------------------------------------------------------------------------------------- server


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def _send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def _send_sse(self, events: Iterator[bytes]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        if self.protocol_version == "HTTP/1.1":  # a stream without a length ends with the connection
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        delay = self.server.owner.stream_delay
        for n, data in enumerate(events):
            if delay and n:
                time.sleep(delay)
            self.wfile.write(data)
            self.wfile.flush()

    def _record(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        request = RecordedRequest(
            method=self.command,
            path=self.path.split("?", 1)[0],
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            raw=raw,
        )
        self.server.owner._add_request(request)
        return request

    def do_GET(self) -> None:
        request = self._record()
        if request.path == "/v1/models":
            self._send_json(200, {"object": "list", "data": [
                {"id": "gpt-4o-mini", "object": "model", "created": 0, "owned_by": "scripted"}]})  # fmt: skip
        else:
            self._send_json(404, {"error": {"message": f"Unknown path {request.path}", "type": "invalid_request_error",
                                            "param": None, "code": None}})  # fmt: skip

    def do_POST(self) -> None:
        request = self._record()
        try:
            if request.path == "/v1/chat/completions":
                self._chat_completions(request)
            elif request.path == "/v1/messages":
                self._messages(request)
            elif request.path == "/v1/messages/count_tokens":
                body = request.body if isinstance(request.body, dict) else {}
                self._send_json(200, {"input_tokens": _estimate_prompt_tokens(body)})
            else:
                self._send_json(404, {"error": {"message": f"Unknown path {request.path}",
                                                "type": "invalid_request_error", "param": None, "code": None}})  # fmt: skip
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _chat_completions(self, request: RecordedRequest) -> None:
        body = request.body if isinstance(request.body, dict) else {}
        try:
            _validate_openai_chat(body)
        except _BadRequest as exc:
            self._send_json(400, {"error": {"message": exc.message, "type": "invalid_request_error",
                                            "param": exc.param, "code": None}})  # fmt: skip
            return
        reply, seq = self.server.owner._next_reply()
        renderer = _Renderer(reply, body, seq)
        if reply.is_error:
            self._send_json(reply.status, renderer.openai_error(), _error_headers(reply))
        elif body.get("stream"):
            self._send_sse(renderer.openai_sse())
        else:
            self._send_json(200, renderer.openai_json())

    def _messages(self, request: RecordedRequest) -> None:
        body = request.body if isinstance(request.body, dict) else {}
        try:
            _validate_anthropic_messages(body)
        except _BadRequest as exc:
            self._send_json(400, {"type": "error", "error": {"type": "invalid_request_error", "message": exc.message}})
            return
        reply, seq = self.server.owner._next_reply()
        renderer = _Renderer(reply, body, seq)
        if reply.is_error:
            self._send_json(reply.status, renderer.anthropic_error(), _error_headers(reply))
        elif body.get("stream"):
            self._send_sse(renderer.anthropic_sse())
        else:
            self._send_json(200, renderer.anthropic_json())


class _KeepAliveHandler(_Handler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body are written separately: without NODELAY, Nagle holds the body back until
        # the client's delayed ACK of the headers (40 ms) once the connection is reused.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _error_headers(reply: Reply) -> dict[str, str]:
    headers = dict(reply.headers)
    if not any(k.lower() == "retry-after" for k in headers):
        headers["retry-after"] = "0"
    return headers


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # socketserver's 5 drops connections when many clients connect at once

    def __init__(self, owner: ScriptedServer) -> None:
        super().__init__(("127.0.0.1", 0), _KeepAliveHandler if owner.keep_alive else _Handler)
        self.owner = owner


@dataclass
class ScriptedServer:
    """An OpenAI- and Anthropic-compatible server on 127.0.0.1 that records requests and replies from a script.

    Use as a context manager (``with ScriptedServer() as srv``) or call ``start()`` / ``stop()``.
    """

    stream_delay: float = 0.0
    """Seconds to sleep between two events of a streamed reply (to observe incremental delivery)."""
    keep_alive: bool = False
    """Speak HTTP/1.1 and keep connections open between JSON replies, as real providers do (benchmarks)."""
    requests: list[RecordedRequest] = field(default_factory=list, init=False)
    _queue: deque[Reply] = field(default_factory=deque, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _httpd: _HTTPServer | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _served: int = field(default=0, init=False, repr=False)

    # lifecycle --------------------------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        if self._httpd is None:
            self._httpd = _HTTPServer(self)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="scripted-server", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
            self._thread = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # addresses --------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("ScriptedServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """Base URL for the OpenAI SDK and ``ChatOpenAI`` (ends with ``/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """Base URL for the Anthropic SDK (it appends ``/v1/messages`` itself)."""
        return f"http://127.0.0.1:{self.port}"

    # script and records -----------------------------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        """Queue replies, consumed one per chat/messages request in order."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending_replies(self) -> int:
        """Scripted replies not yet consumed."""
        with self._lock:
            return len(self._queue)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Recorded requests whose path is ``path`` (e.g. ``"/v1/messages"``)."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    @property
    def last_request(self) -> RecordedRequest:
        with self._lock:
            if not self.requests:
                raise AssertionError("the scripted server received no request")
            return self.requests[-1]

    def unknown_params(self) -> set[str]:
        """Top-level keys of recorded chat/messages requests the real provider does not accept."""
        found: set[str] = set()
        with self._lock:
            for r in self.requests:
                if not isinstance(r.body, dict):
                    continue
                if r.path == "/v1/chat/completions":
                    found |= set(r.body) - OPENAI_CHAT_PARAMS
                elif r.path == "/v1/messages":
                    found |= set(r.body) - ANTHROPIC_MESSAGES_PARAMS
        return found

    def reset(self) -> None:
        """Forget recorded requests and queued replies."""
        with self._lock:
            self.requests.clear()
            self._queue.clear()

    def _add_request(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_reply(self) -> tuple[Reply, int]:
        with self._lock:
            self._served += 1
            reply = self._queue.popleft() if self._queue else text_reply("ok")
            return reply, self._served


def scripted_server() -> Iterator[ScriptedServer]:
    """Generator for a pytest fixture: ``srv = pytest.fixture(scripted_server)`` or wrap it in your own."""
    with ScriptedServer() as srv:
        yield srv
