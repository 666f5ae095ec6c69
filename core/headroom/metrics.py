"""Process-wide counters of what the pipeline did, including the errors it failed open on."""

from __future__ import annotations

import threading
from collections import Counter

__all__ = ["counters", "increment", "snapshot"]

_lock = threading.Lock()
counters: Counter[str] = Counter()


def increment(name: str, by: int = 1) -> None:
    """Add ``by`` to the counter ``name`` (thread-safe)."""
    with _lock:
        counters[name] += by


def snapshot() -> dict[str, int]:
    """A copy of all counters, e.g. ``{"compress.calls": 12, "errors.smart_crusher": 1}``."""
    with _lock:
        return dict(counters)
