"""Instruments of one measured ``compress`` call: tokenizer time, counting cost, cold caches, logs.

These reach into the shared token counter of the model (its tokenizing method and its
content-hash cache) because that is where the pipeline spends its counting time; every hook
degrades to "not measured" if the counter's internals change.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from headroom.tokens import TokenCounter

__all__ = ["TokenizerTimer", "captured_warnings", "forget_counts", "report_count_ms"]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().splitlines()[0] if record.getMessage() else record.levelname
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        if text not in self.messages:
            self.messages.append(text)


@contextmanager
def captured_warnings() -> Iterator[list[str]]:
    """Collect what Headroom logs at WARNING or above (instead of printing tracebacks mid-table)."""
    handler = _Collect()
    logger = logging.getLogger("headroom")
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


class TokenizerTimer:
    """Times every tokenizer call of the shared counter during one measured ``compress`` call.

    The pipeline counts with the process-wide counter of the model; its tokenizing method is
    wrapped on that instance for the duration of the call and restored afterwards.
    """

    def __init__(self, counter: TokenCounter) -> None:
        self.counter = counter
        self.seconds = 0.0
        self.active = hasattr(counter, "_count_uncached")

    def __enter__(self) -> TokenizerTimer:
        if self.active:
            tokenize = self.counter._count_uncached

            def timed(text: str) -> int:
                started = time.perf_counter()
                try:
                    return tokenize(text)
                finally:
                    self.seconds += time.perf_counter() - started

            self.counter._count_uncached = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        if self.active:
            del self.counter._count_uncached

    @property
    def ms(self) -> float | None:
        return self.seconds * 1000 if self.active else None


def report_count_ms(model: str, before: list[dict[str, Any]], after: list[dict[str, Any]]) -> float:
    """Time to count the request's tokens before and after with a cold counter (the report's figures)."""
    fresh = TokenCounter(model)
    started = time.perf_counter()
    fresh.count_messages(before)
    fresh.count_messages(after)
    return (time.perf_counter() - started) * 1000


def forget_counts(counter: TokenCounter) -> None:
    """Empty the shared counter's content-hash cache, so a repeated run tokenizes again."""
    cache = getattr(counter, "_cache", None)
    if cache is not None and hasattr(cache, "clear"):
        cache.clear()
