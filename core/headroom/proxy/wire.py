"""Wire: what differs between the OpenAI and the Anthropic HTTP APIs, as far as the proxy is concerned.

The pipeline and the provider adapters (:mod:`headroom.providers`) already translate messages;
a Wire adds what only a proxy needs: the provider's error shape, where the ``headroom_retrieve``
tool goes in a request, how a response calls it, how a conversation continues after the proxy
answered those calls, how usage is summed over the rounds, and how a streamed answer is filtered
(:meth:`Wire.stream_filter`). Requests and responses are plain JSON dicts; nothing is mutated in
place.
"""

from __future__ import annotations

import abc
from typing import Any, Protocol

from starlette.responses import Response

from headroom.ccr.retrieval import RETRIEVE_TOOL_NAME
from headroom.providers.base import Provider, ProviderUsage
from headroom.proxy.sse import SSEEvent

__all__ = ["RetrieveCall", "StreamFilter", "Wire", "add_numbers", "obj"]

RetrieveCall = tuple[str, Any]
"""A ``headroom_retrieve`` call of the model: its id and its arguments (dict or JSON text)."""


class StreamFilter(Protocol):
    """Passes a streamed answer to the client event by event, holding back ``headroom_retrieve`` calls.

    Between rounds the proxy calls :meth:`next_round`; when the stream ends it asks
    :meth:`wants_retrieval` and either continues the conversation upstream or releases what
    it held with :meth:`finish`.
    """

    def feed(self, event: SSEEvent) -> list[bytes]:
        """The bytes to send to the client for one upstream event (often the event itself)."""

    def wants_retrieval(self) -> bool:
        """True when the round ended by calling only ``headroom_retrieve``."""

    def retrieve_calls(self) -> list[RetrieveCall]:
        """The retrieve calls of the round that just ended."""

    def assistant_turn(self) -> dict[str, Any]:
        """The round's assistant message in the provider's format (to continue the conversation)."""

    def next_round(self) -> None:
        """Forget the last round's calls: a continuation's stream follows."""

    def finish(self) -> list[bytes]:
        """What was held back, released at the end of the last round (usage summed over rounds)."""

    def usage(self) -> ProviderUsage | None:
        """Usage of the round that just ended, as the provider reported it (None when it did not)."""


class Wire(abc.ABC):
    """One provider's HTTP API."""

    name: str
    provider: Provider

    @abc.abstractmethod
    def error(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
        """An error response in this provider's shape."""

    # -- requests -------------------------------------------------------------------------------
    @abc.abstractmethod
    def tool_names(self, request: dict[str, Any]) -> set[str]:
        """Names of the tools a request defines."""

    @abc.abstractmethod
    def with_retrieve_tool(self, request: dict[str, Any]) -> dict[str, Any]:
        """``request`` offering ``headroom_retrieve`` after its own tools."""

    @abc.abstractmethod
    def for_final_round(self, request: dict[str, Any]) -> dict[str, Any]:
        """``request`` for the last round the proxy answers: the model may not call headroom_retrieve."""

    @abc.abstractmethod
    def max_output_tokens(self, request: dict[str, Any]) -> int | None:
        """The output limit the request sets, if any."""

    def offers_retrieval(self, request: dict[str, Any]) -> bool:
        """Whether the proxy may add the tool: the client does not define one of that name itself."""
        return RETRIEVE_TOOL_NAME not in self.tool_names(request)

    # -- responses ------------------------------------------------------------------------------
    @abc.abstractmethod
    def retrieve_calls(self, response: dict[str, Any]) -> list[RetrieveCall]:
        """The ``headroom_retrieve`` calls of a (non-streamed) response."""

    @abc.abstractmethod
    def has_other_calls(self, response: dict[str, Any]) -> bool:
        """True when the response also calls the client's own tools."""

    @abc.abstractmethod
    def continuation(
        self, request: dict[str, Any], assistant: dict[str, Any], answers: list[tuple[str, str]]
    ) -> dict[str, Any]:
        """``request`` extended by the assistant turn and the answers to its retrieve calls."""

    @abc.abstractmethod
    def assistant_turn(self, response: dict[str, Any]) -> dict[str, Any]:
        """The assistant message of a response, in the request format."""

    @abc.abstractmethod
    def without_retrieve_calls(self, response: dict[str, Any]) -> dict[str, Any]:
        """The response as the client sees it: no ``headroom_retrieve`` call in it."""

    @abc.abstractmethod
    def with_usage_of(self, response: dict[str, Any], earlier: list[dict[str, Any]]) -> dict[str, Any]:
        """The response with the usage of the earlier rounds (their ``usage`` objects) added to its own."""

    def usage(self, response: dict[str, Any]) -> ProviderUsage | None:
        """The usage a response reports."""
        raw = response.get("usage")
        return self.provider.usage_from(raw) if isinstance(raw, dict) else None

    @abc.abstractmethod
    def stream_error(self, body: bytes) -> bytes:
        """An upstream error body as an event of this provider's streams (its SDK raises it)."""

    @abc.abstractmethod
    def stream_filter(self, hold_retrieve: bool) -> StreamFilter:
        """A filter for one streamed answer (``hold_retrieve``: the proxy offered headroom_retrieve)."""


def obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (wire data is read defensively)."""
    return value if isinstance(value, dict) else {}


def add_numbers(total: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``total`` with every number of ``extra`` added (nested objects too); other values kept."""
    out = dict(total)
    for key, value in extra.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, (int, float)):
            current = out.get(key)
            out[key] = (current if isinstance(current, (int, float)) and not isinstance(current, bool) else 0) + value
        elif isinstance(value, dict):
            current = out.get(key)
            out[key] = add_numbers(current if isinstance(current, dict) else {}, value)
    return out
