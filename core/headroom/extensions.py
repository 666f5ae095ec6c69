"""Pipeline extensions: transforms other packages register under the ``headroom.pipeline_extensions``
entry-point group, loaded when ``HeadroomConfig.discover_pipeline_extensions`` is on.

An extension is a callable ``(messages, *, model, config) -> messages``; it receives a copy and
returns the messages to continue with. A failing extension is skipped (the pipeline fails open).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from headroom import metrics

__all__ = ["ENTRY_POINT_GROUP", "discover_extensions", "run_extensions"]

ENTRY_POINT_GROUP = "headroom.pipeline_extensions"
log = logging.getLogger("headroom.extensions")

_cache: list[tuple[str, Callable[..., Any]]] | None = None


def discover_extensions(refresh: bool = False) -> list[tuple[str, Callable[..., Any]]]:
    """(name, callable) of every installed extension, loaded once per process."""
    global _cache
    if _cache is not None and not refresh:
        return _cache
    found: list[tuple[str, Callable[..., Any]]] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found.append((ep.name, ep.load()))
        except Exception:  # a broken plug-in must not break compression
            metrics.increment("errors.extensions.load")
            log.exception("could not load pipeline extension %s", ep.name)
    _cache = sorted(found, key=lambda x: x[0])
    return _cache


def run_extensions(
    messages: list[dict[str, Any]], *, model: str, config: Any
) -> tuple[list[dict[str, Any]], list[str]]:
    """Apply each extension in name order; return the messages and the names of those that ran."""
    applied: list[str] = []
    for name, fn in discover_extensions():
        try:
            out = fn(messages, model=model, config=config)
        except Exception:
            metrics.increment(f"errors.extensions.{name}")
            log.exception("pipeline extension %s failed; skipped", name)
            continue
        if isinstance(out, list):
            messages = out
            applied.append(f"extension:{name}")
    return messages, applied
