"""Server-sent events: cut a byte stream into events as they arrive, and write events.

Only what the proxy must look into is parsed (the answers in which it may have to hold back a
``headroom_retrieve`` call); an event it does not change is forwarded as the bytes it came in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["SSEEvent", "SSEParser", "encode_event"]

_SEPARATORS = (b"\r\n\r\n", b"\n\n", b"\r\r")


@dataclass(frozen=True)
class SSEEvent:
    """One event: its bytes as received (blank-line terminator included), its name and its data."""

    raw: bytes
    name: str | None
    data: str

    def json(self) -> Any:
        """The data parsed as JSON (None when it is not JSON, e.g. ``[DONE]``)."""
        try:
            return json.loads(self.data)
        except ValueError:
            return None


def _parse(raw: bytes) -> SSEEvent:
    name: str | None = None
    data: list[str] = []
    for line in raw.decode("utf-8", "replace").splitlines():
        if not line or line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    return SSEEvent(raw, name, "\n".join(data))


class SSEParser:
    """Feed it chunks of a stream; it returns the events completed so far."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        start = max(0, len(self._buffer) - 3)  # a separator may straddle the old end; nothing before it
        self._buffer += chunk
        events: list[SSEEvent] = []
        while True:
            cut = -1
            width = 0
            for sep in _SEPARATORS:
                at = self._buffer.find(sep, start)
                if at != -1 and (cut == -1 or at < cut):
                    cut, width = at, len(sep)
            if cut == -1:
                return events
            raw, self._buffer = self._buffer[: cut + width], self._buffer[cut + width :]
            start = 0
            if raw.strip():
                events.append(_parse(raw))

    def close(self) -> list[SSEEvent]:
        """The last event when the stream ended without its blank line."""
        rest, self._buffer = self._buffer, b""
        return [_parse(rest + b"\n\n")] if rest.strip() else []


def encode_event(data: Any, name: str | None = None) -> bytes:
    """An event whose data is ``data`` as compact JSON (``name`` adds an ``event:`` line)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {text}\n\n".encode()
