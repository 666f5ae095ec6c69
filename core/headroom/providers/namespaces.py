"""The SDK-shaped attributes of HeadroomClient: ``client.chat.completions`` and ``client.messages``.

Each namespace defines only the calls Headroom handles (``create`` and the ``stream`` helper);
every other attribute (``with_raw_response``, ``count_tokens``, ``batches``, ``parse``, ...) is the
original SDK's, reached through ``__getattr__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headroom.client import HeadroomClient

__all__ = ["build_namespaces"]


class _Delegating:
    def __init__(self, owner: HeadroomClient, original: Any) -> None:
        self._owner = owner
        self._original = original

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_original":
            raise AttributeError(name)
        return getattr(self._original, name)


class _Completions(_Delegating):
    """``client.chat.completions``: ``create`` goes through Headroom (sync client)."""

    def create(self, **kwargs: Any) -> Any:
        return self._owner._call(self._original.create, kwargs)

    def stream(self, **kwargs: Any) -> Any:
        return self._owner._stream_manager(self._original.stream, kwargs)


class _AsyncCompletions(_Delegating):
    """``client.chat.completions``: ``create`` goes through Headroom (async client)."""

    async def create(self, **kwargs: Any) -> Any:
        return await self._owner._acall(self._original.create, kwargs)

    def stream(self, **kwargs: Any) -> Any:
        return self._owner._stream_manager(self._original.stream, kwargs)


class _Chat(_Delegating):
    """``client.chat``: holds ``completions``."""

    def __init__(self, owner: HeadroomClient, original: Any) -> None:
        super().__init__(owner, original)
        cls = _AsyncCompletions if owner.is_async else _Completions
        self.completions = cls(owner, original.completions)


class _Messages(_Delegating):
    """``client.messages``: ``create`` and ``stream`` go through Headroom (sync client)."""

    def create(self, **kwargs: Any) -> Any:
        return self._owner._call(self._original.create, kwargs)

    def stream(self, **kwargs: Any) -> Any:
        return self._owner._stream_manager(self._original.stream, kwargs)


class _AsyncMessages(_Delegating):
    """``client.messages``: ``create`` and ``stream`` go through Headroom (async client)."""

    async def create(self, **kwargs: Any) -> Any:
        return await self._owner._acall(self._original.create, kwargs)

    def stream(self, **kwargs: Any) -> Any:
        return self._owner._stream_manager(self._original.stream, kwargs)


def build_namespaces(owner: HeadroomClient) -> dict[str, Any]:
    """The attributes to set on ``owner`` for its provider (``chat`` or ``messages``)."""
    original = owner.original_client
    if owner.provider.name == "anthropic":
        return {"messages": (_AsyncMessages if owner.is_async else _Messages)(owner, original.messages)}
    return {"chat": _Chat(owner, original.chat)}
