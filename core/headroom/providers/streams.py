"""Transparent wrappers around SDK streams that report usage once the stream ends.

The wrapped object is the SDK's own ``Stream`` / ``AsyncStream`` (or a stream manager); every
chunk is handed to the caller unchanged, a tracker looks at it on the way, and ``on_done`` runs
exactly once: when iteration finishes, when the caller closes the stream, or when it leaves the
``with`` block. Attributes the wrapper does not define come from the wrapped object.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from headroom import metrics
from headroom.providers.base import StreamUsageTracker

__all__ = ["AsyncStreamProxy", "StreamManagerProxy", "SyncStreamProxy"]

log = logging.getLogger("headroom.client")


class _Once:
    """Runs the completion callback once and never lets it raise into the caller's loop."""

    def __init__(self, on_done: Callable[[StreamUsageTracker], None], tracker: StreamUsageTracker) -> None:
        self._on_done = on_done
        self.tracker = tracker
        self._done = False

    def observe(self, item: Any) -> None:
        try:
            self.tracker.observe(item)
        except Exception:  # bookkeeping must not break the caller's stream
            metrics.increment("errors.client.stream_tracking")
            log.exception("could not read usage from a stream item")

    def finish(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._on_done(self.tracker)
        except Exception:
            metrics.increment("errors.client.stream_metrics")
            log.exception("could not record the metrics of a streamed response")


class SyncStreamProxy:
    """Wraps ``openai.Stream`` / ``anthropic.Stream``: same items, usage recorded at the end."""

    def __init__(self, stream: Any, tracker: StreamUsageTracker, on_done: Callable[[StreamUsageTracker], None]) -> None:
        self._stream = stream
        self._once = _Once(on_done, tracker)
        self._iter: Iterator[Any] | None = None

    def __iter__(self) -> Iterator[Any]:
        try:
            for item in self._stream:
                self._once.observe(item)
                yield item
        finally:
            self._once.finish()

    def __next__(self) -> Any:
        if self._iter is None:
            self._iter = iter(self)
        return next(self._iter)

    def __enter__(self) -> SyncStreamProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._once.finish()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class AsyncStreamProxy:
    """Wraps ``openai.AsyncStream`` / ``anthropic.AsyncStream``: same items, usage recorded at the end."""

    def __init__(self, stream: Any, tracker: StreamUsageTracker, on_done: Callable[[StreamUsageTracker], None]) -> None:
        self._stream = stream
        self._once = _Once(on_done, tracker)
        self._iter: AsyncIterator[Any] | None = None

    async def _items(self) -> AsyncIterator[Any]:
        try:
            async for item in self._stream:
                self._once.observe(item)
                yield item
        finally:
            self._once.finish()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._items()

    async def __anext__(self) -> Any:
        if self._iter is None:
            self._iter = self._items()
        return await self._iter.__anext__()

    async def __aenter__(self) -> AsyncStreamProxy:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        try:
            await self._stream.close()
        finally:
            self._once.finish()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _SnapshotTracker(StreamUsageTracker):
    """Usage from a stream helper's final snapshot (``current_message_snapshot`` and the like)."""

    def __init__(self, read_usage: Callable[[Any], Any], estimate: Callable[[int, str], Any]) -> None:
        self._read = read_usage
        self._estimate = estimate
        self.stream: Any = None

    def observe(self, item: Any) -> None:
        self.stream = item

    def usage(self, prompt_tokens_estimate: int, model: str) -> Any:
        found = self._read(self.stream) if self.stream is not None else None
        return found if found is not None else self._estimate(prompt_tokens_estimate, model)


class StreamManagerProxy:
    """Wraps a stream helper's manager (``client.messages.stream(...)``), sync or async.

    ``open_manager`` creates the SDK manager (for async clients it may be a coroutine function:
    the request is prepared when the ``async with`` block is entered).
    """

    def __init__(
        self,
        open_manager: Callable[[], Any],
        read_usage: Callable[[Any], Any],
        estimate: Callable[[int, str], Any],
        on_done: Callable[[StreamUsageTracker], None],
    ) -> None:
        self._open = open_manager
        self._manager: Any = None
        self._tracker = _SnapshotTracker(read_usage, estimate)
        self._once = _Once(on_done, self._tracker)

    def __enter__(self) -> Any:
        self._manager = self._open()
        stream = self._manager.__enter__()
        self._tracker.stream = stream
        return stream

    def __exit__(self, *exc: Any) -> Any:
        try:
            return self._manager.__exit__(*exc)
        finally:
            self._once.finish()

    async def __aenter__(self) -> Any:
        manager = self._open()
        if hasattr(manager, "__await__"):
            manager = await manager
        self._manager = manager
        stream = await manager.__aenter__()
        self._tracker.stream = stream
        return stream

    async def __aexit__(self, *exc: Any) -> Any:
        try:
            return await self._manager.__aexit__(*exc)
        finally:
            self._once.finish()
