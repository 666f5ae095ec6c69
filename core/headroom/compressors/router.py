"""The content router: detects what a text is and hands it to the compressor of that kind.

It only routes. Each compressor lives in its own module; this module keeps the table from
content type to compressor, the fail-open guard and the content-hash result cache that lets
an agent loop pay once for a tool output it re-sends every turn.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

from headroom import metrics
from headroom.ccr.store import ccr_key
from headroom.compressors.base import Compressed, CompressionContext, Compressor, NotJSON, PassThrough
from headroom.compressors.detection import ContentType, detect_content_type
from headroom.errors import StoreError

__all__ = ["ResultCache", "compress_content", "register", "result_cache"]

log = logging.getLogger("headroom.router")

_registry: dict[ContentType, Compressor] = {}


def register(kind: ContentType, compressor: Compressor) -> None:
    """Route content of ``kind`` to ``compressor`` (replaces an earlier registration).

    Text routed as JSON is only known to open and close like JSON: a JSON compressor parses
    it and raises :class:`~headroom.compressors.base.NotJSON` when that fails, and the router
    then routes the text by its other cues.
    """
    _registry[kind] = compressor


def _ensure_registered() -> None:
    if _registry:
        return
    from headroom.compressors import default_compressors

    for kind, compressor in default_compressors().items():
        _registry.setdefault(kind, compressor)


@dataclass(frozen=True)
class _Outcome:
    compressed: Compressed | None
    kind: ContentType
    reason: str
    cacheable: bool = True
    """False when the outcome depends on the moment (the store failed), not on the content."""


class ResultCache:
    """LRU of compression outcomes keyed by content hash, query, tool and settings."""

    def __init__(self, size: int = 4096) -> None:
        self._data: OrderedDict[bytes, _Outcome] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: bytes) -> _Outcome | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return hit

    def put(self, key: bytes, outcome: _Outcome) -> None:
        with self._lock:
            self._data[key] = outcome
            if len(self._data) > self._size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0


result_cache = ResultCache()


def _cache_key(text: str, ctx: CompressionContext) -> bytes:
    h = hashlib.blake2b(digest_size=20)
    h.update(ccr_key(text).encode())  # the content's hash, reused by the compressor and the store
    h.update(b"\0" + ctx.query.encode("utf-8", "surrogatepass"))
    h.update(b"\0" + (ctx.tool_name or "").encode("utf-8", "surrogatepass"))
    h.update(b"\0" + ctx.crusher_config.model_dump_json().encode())
    h.update(b"\0" + ctx.config.ccr.model_dump_json().encode())
    h.update(b"\0" + ctx.config.content.model_dump_json().encode())
    h.update(f"\0{ctx.lossless_only}\0{ctx.config.intercept_tool_results}\0{ctx.counter.model}\0{ctx.level}".encode())
    return h.digest()


def _run(text: str, ctx: CompressionContext, *, json_allowed: bool = True) -> _Outcome:
    # JSON is confirmed by the JSON compressor's own parse, not parsed twice.
    kind = detect_content_type(text, parse_json=False, json_allowed=json_allowed)
    compressor = _registry.get(kind)
    if compressor is None:
        return _Outcome(None, kind, f"no compressor for {kind.value} content")
    try:
        out = compressor.compress(text, ctx)
    except NotJSON as why:
        if kind is ContentType.JSON and json_allowed:
            return _run(text, ctx, json_allowed=False)  # it only looked like JSON: route it as text
        return _Outcome(None, kind, f"{compressor.name}: {why}; passed through")
    except PassThrough as why:
        return _Outcome(None, kind, f"{compressor.name}: {why}; passed through")
    except RecursionError:
        metrics.increment(f"errors.{compressor.name}")
        return _Outcome(None, kind, f"{compressor.name}: nesting too deep, passed through")
    except StoreError as exc:  # the original could not be stored: nothing may be dropped
        metrics.increment("errors.router.store")
        log.warning("CCR store unavailable, content passed through: %s", exc)
        return _Outcome(None, kind, f"CCR store unavailable ({exc}); passed through", cacheable=False)
    except Exception as exc:  # fail open: the original goes to the model unchanged
        metrics.increment(f"errors.{compressor.name}")
        log.exception("%s failed; content passed through unchanged", compressor.name)
        return _Outcome(None, kind, f"{compressor.name} error ({type(exc).__name__}: {exc}); passed through")
    if out is None:
        return _Outcome(None, kind, f"{compressor.name}: nothing to gain")
    if out.lossy and ctx.lossless_only:
        metrics.increment(f"errors.{compressor.name}.lossy_when_protected")
        return _Outcome(None, kind, f"{compressor.name} dropped content of a protected tool; passed through")
    return _Outcome(out, kind, "")


def compress_content(text: str, ctx: CompressionContext) -> tuple[Compressed | None, ContentType, str, bool]:
    """Compress one text: (result or None, detected type, pass-through reason, cache hit).

    Never raises for content: any compressor error is logged, counted and passed through. A
    lossy result is returned only when its marker's key is retrievable from ``ctx.store`` at
    that moment (see :func:`_original_kept`); simulate mode (``ctx.persist`` false) only
    computes keys.
    """
    _ensure_registered()
    key = _cache_key(text, ctx)
    cached = result_cache.get(key)
    if cached is None:
        outcome = _run(text, ctx)
        if outcome.cacheable:
            result_cache.put(key, outcome)
        hit = False
    else:
        outcome, hit = cached, True
    out = outcome.compressed
    if out is not None and out.lossy and ctx.persist:
        problem = _original_kept(text, out, outcome.kind, ctx, hit)
        if problem:
            return None, outcome.kind, problem, hit
    return out, outcome.kind, outcome.reason, hit


def _original_kept(text: str, out: Compressed, kind: ContentType, ctx: CompressionContext, hit: bool) -> str:
    """Make sure the original of a lossy result is in ``ctx.store``; the pass-through reason when it cannot be.

    A new result was stored by its compressor. A cached one was stored earlier, perhaps in
    another store, or has since expired or been evicted: the store is asked (one indexed read,
    which also keeps the entry alive) and the original is stored again when it is gone.
    """
    if ctx.store is None or not out.ccr_key:
        metrics.increment("errors.router.no_store")
        return f"{out.transform} would omit content but no CCR store is open; passed through"
    if not hit:
        return ""
    try:
        if not ctx.store.keep_alive(out.ccr_key):
            ctx.store_original(text, out.details.get("kind", kind.value))
    except Exception as exc:  # a store that fails now: a marker must never name a missing original
        metrics.increment("errors.router.store")
        log.warning("CCR store unavailable, content passed through: %s", exc)
        return f"CCR store unavailable ({exc}); passed through"
    return ""
