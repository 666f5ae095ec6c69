"""The CCR store: originals of lossy compressions, keyed by content hash, behind a SQLAlchemy URL.

The default is a SQLite file under the workspace (owner-only permissions); ``sqlite://`` (and
``HEADROOM_STATELESS=true``) keeps everything in process memory; ``postgresql://user@host/db``
(the ``postgres`` extra) lets several machines share one store. SQLite files run in WAL mode
with a busy timeout, and inserts are idempotent (same content, same key), so several threads,
processes and machines may write at once. How the database is opened is in
:mod:`headroom.ccr.engine`.

Limits (``CCRConfig``): entries expire ``ttl_seconds`` after they were last stored or kept
alive. Each process checks the count and size limits on its first write, then after every
``min(64, max_entries // 16)`` writes or ``max_total_bytes // 16`` bytes written, whichever
comes first; a check deletes expired entries, then the least recently used ones, but never an
entry stored or used in the last :data:`EVICTION_GRACE_SECONDS` (a marker just handed out stays
retrievable). So between two checks one process exceeds ``max_entries`` by fewer than
``min(64, max_entries // 16)`` entries and ``max_total_bytes`` by less than a sixteenth plus one
entry; entries of the last minute may exceed them further.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from multiprocessing.util import Finalize
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from headroom.ccr.engine import describe_error, open_engine, resolve_store_url, safe_url
from headroom.ccr.feedback import FEEDBACK_TTL, PendingCounts, add_feedback, flush_pending, write_counts
from headroom.ccr.schema import (
    ENTRY_COLUMNS,
    SQLITE_EXPIRY,
    SQLITE_PUT,
    ccr_entries,
    metrics_table,
    tool_feedback,
)
from headroom.config import CCRConfig, HeadroomConfig
from headroom.errors import InvalidArgumentError, RetrievalError, StoreError

__all__ = [
    "EVICTION_GRACE_SECONDS",
    "TOUCH_INTERVAL_SECONDS",
    "CCREntry",
    "CCRStore",
    "ccr_key",
    "get_store",
    "resolve_store_url",
]

log = logging.getLogger("headroom.ccr")

KEY_PREFIX = "hr_"
_KEY_SHAPE = re.compile(r"hr_[0-9a-f]{16}")

EVICTION_GRACE_SECONDS = 60.0
"""Entries stored or used this recently are never evicted by the count and size limits."""
TOUCH_INTERVAL_SECONDS = 30.0
"""An entry kept alive by :meth:`CCRStore.keep_alive` has its last use written at most this often."""


_last_key: tuple[str, str] | None = None


def ccr_key(content: str) -> str:
    """The key of ``content``: a short hash, identical for identical content.

    One text is keyed several times on its way through a compression (the router's result
    cache, the compressor's marker, the store), so the key of the last text is remembered for
    that same object (an identity check: it costs nothing and cannot confuse two texts).
    """
    global _last_key
    last = _last_key
    if last is not None and last[0] is content:
        return last[1]
    key = KEY_PREFIX + hashlib.blake2b(content.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    _last_key = (content, key)
    return key


def _checked_key(key: object) -> str:
    """``key`` stripped; InvalidArgumentError for a non-string, RetrievalError for a string no key can be."""
    if not isinstance(key, str):
        raise InvalidArgumentError(f"a CCR key must be a string, got {type(key).__name__}")
    key = key.strip()
    if not _KEY_SHAPE.fullmatch(key):
        shown = key if len(key) <= 40 else key[:40] + f"... ({len(key):,} characters)"
        raise RetrievalError(f"{shown!r} is not a CCR key (keys look like hr_0123456789abcdef)")
    return key


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{max(1, math.ceil(seconds))} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


@dataclass(frozen=True)
class CCREntry:
    """One stored original and what is known about it."""

    key: str
    content: str
    kind: str
    tool_name: str | None
    created_at: float
    expires_at: float
    retrievals: int
    meta: dict[str, Any]


class CCRStore:
    """Originals by key, with TTL and size limits; also holds metrics and retrieval feedback.

    Opening raises :class:`StoreError` (one sentence) when the store cannot be used; so do the
    methods a caller relies on (put, get, stats), while bookkeeping (metrics, feedback) only logs.
    """

    def __init__(self, url: str = "sqlite://", config: CCRConfig | None = None) -> None:
        self.url = url
        self.config = config or CCRConfig()
        self._lock = threading.RLock()
        self._feedback_cache: dict[str, tuple[float, tuple[int, int]]] = {}
        self._pending = PendingCounts()
        self._backend = make_url(url).get_backend_name()
        self._sqlite = self._backend == "sqlite"
        self._checked_once = False
        self._unchecked_entries = 0
        self._unchecked_bytes = 0
        self._check_every = max(1, min(64, self.config.max_entries // 16))
        self._check_bytes = max(1, self.config.max_total_bytes // 16)
        self._alive: dict[str, float] = {}  # key -> until when keep_alive may answer without asking
        self.engine = open_engine(url)
        # Counts not written yet are written when the store is collected or the process exits
        # (multiprocessing's exit hook also runs in forked workers, where atexit does not).
        Finalize(self, flush_pending, args=(self.engine, self._sqlite, self._pending, os.getpid()), exitpriority=0)

    def with_config(self, config: CCRConfig) -> CCRStore:
        """This store (the same database, connections and pending counts) under other limits.

        One process opens a store URL once; callers whose ``CCRConfig`` differs (a shorter TTL,
        a smaller entry limit) get a view that applies their limits to what they write.
        """
        if config == self.config:
            return self
        view = copy.copy(self)
        view.config = config
        view._checked_once = False
        view._unchecked_entries = view._unchecked_bytes = 0
        view._check_every = max(1, min(64, config.max_entries // 16))
        view._check_bytes = max(1, config.max_total_bytes // 16)
        return view

    @property
    def shown_url(self) -> str:
        """The store's URL as it may be shown or logged (password masked)."""
        return safe_url(self.url)

    def _error(self, doing: str, exc: BaseException) -> StoreError:
        return StoreError(f"cannot {doing} the Headroom store {self.shown_url}: {describe_error(exc)}")

    @staticmethod
    def _retry(fn: Any, attempts: int = 8) -> Any:
        """Run ``fn``; retry briefly when another writer holds the SQLite lock."""
        for i in range(attempts):
            try:
                return fn()
            except OperationalError as exc:
                if "locked" not in str(exc).lower() or i == attempts - 1:
                    raise
                time.sleep(0.05 * (2**i))
        return None

    # -- originals -------------------------------------------------------------------------
    def put(
        self, content: str, *, kind: str = "text", tool_name: str | None = None, meta: dict[str, Any] | None = None
    ) -> str:
        """Store ``content`` (idempotent: storing it again refreshes its expiry) and return its key."""
        key = ccr_key(content)
        data = content.encode("utf-8", "surrogatepass")
        if len(data) > self.config.max_entry_bytes:
            raise StoreError(f"content of {len(data)} bytes exceeds ccr.max_entry_bytes={self.config.max_entry_bytes}")
        now = time.time()
        row = {
            "key": key,
            "content": data,
            "size": len(data),
            "kind": kind,
            "tool_name": tool_name,
            "created_at": now,
            "expires_at": now + self.config.ttl_seconds,
            "last_access": now,
            "retrievals": 0,
            "meta": json.dumps(meta or {}, ensure_ascii=False, default=str),
        }

        due = self._pending.add(tool_name)  # compression counts due to be written with this put

        def _write() -> None:
            with self.engine.begin() as conn:
                self._write_feedback(conn, due)
                if self._sqlite:
                    conn.exec_driver_sql(SQLITE_PUT, tuple(row[c] for c in ENTRY_COLUMNS))
                elif self._backend == "postgresql":
                    from sqlalchemy.dialects.postgresql import insert

                    stmt = insert(ccr_entries).values(**row)
                    conn.execute(
                        stmt.on_conflict_do_update(
                            index_elements=[ccr_entries.c.key],
                            set_={"expires_at": stmt.excluded.expires_at, "last_access": stmt.excluded.last_access},
                        )
                    )
                else:
                    self._put_portable(conn, row)

        try:
            self._retry(_write)
        except SQLAlchemyError as exc:
            self._pending.requeue(due)
            raise self._error("write to", exc) from exc
        if self._limits_due(len(data)):
            self.enforce_limits()
        return key

    @staticmethod
    def _put_portable(conn: Any, row: dict[str, Any]) -> None:
        """Insert ``row`` or refresh the entry of its key, on a database without an upsert we know."""
        from sqlalchemy.exc import IntegrityError

        key = row["key"]
        inserted = 0
        if not conn.execute(select(ccr_entries.c.key).where(ccr_entries.c.key == key)).first():
            try:
                with conn.begin_nested():
                    inserted = conn.execute(ccr_entries.insert().values(**row)).rowcount
            except IntegrityError:
                pass  # another writer stored the same content first: same key, same bytes
        if not inserted:
            conn.execute(
                update(ccr_entries)
                .where(ccr_entries.c.key == key)
                .values(expires_at=row["expires_at"], last_access=row["last_access"])
            )

    def _limits_due(self, size: int) -> bool:
        """Whether this write is due to check the limits (see the module docs for how often)."""
        with self._lock:
            self._unchecked_entries += 1
            self._unchecked_bytes += size
            due = (
                not self._checked_once
                or self._unchecked_entries >= self._check_every
                or self._unchecked_bytes >= self._check_bytes
            )
            if due:
                self._checked_once = True
                self._unchecked_entries = self._unchecked_bytes = 0
            return due

    def keep_alive(self, key: str) -> bool:
        """True when ``key`` is stored and unexpired; its expiry and last use are then refreshed.

        The router calls this for every tool output it has compressed before (its hot path). It
        reads one indexed row and writes only when the entry's last use is older than
        :data:`TOUCH_INTERVAL_SECONDS` or half its lifetime is gone. After that answer it needs
        no database at all until the entry could expire or leave the eviction grace period
        (no process evicts an entry used in the last :data:`EVICTION_GRACE_SECONDS`), so an agent
        loop re-sending one output pays the read about once a minute. False means the caller
        must store the original again (it expired, was evicted, or was never stored here).
        """
        now = time.time()
        if self._alive.get(key, 0.0) > now:
            return True
        try:
            row = self._expiry_of(key)
        except Exception as exc:  # sqlite3 errors from the raw read, SQLAlchemy's from the others
            raise self._error("read", exc) from exc
        if row is None or row[0] <= now:
            self._alive.pop(key, None)
            return False
        expires_at, last_access = row
        if now - last_access >= TOUCH_INTERVAL_SECONDS or expires_at - now <= self.config.ttl_seconds / 2:
            try:
                if not self._retry(lambda: self._touch(key, now)):
                    return False  # evicted between the read and the write
            except SQLAlchemyError as exc:  # a read-only store still serves what it holds
                log.debug("could not refresh CCR entry %s: %s", key, describe_error(exc))
            else:
                expires_at, last_access = max(expires_at, now + self.config.ttl_seconds), now
        if len(self._alive) >= 65_536:
            self._alive.clear()
        self._alive[key] = min(last_access + EVICTION_GRACE_SECONDS - 10.0, expires_at)
        return True

    def _touch(self, key: str, now: float) -> int:
        """Refresh ``key``'s expiry and last use; the number of rows changed (0: it is gone)."""
        later = now + self.config.ttl_seconds
        expiry = (
            func.max(ccr_entries.c.expires_at, later)
            if self._sqlite
            else func.greatest(ccr_entries.c.expires_at, later)
        )
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(ccr_entries).where(ccr_entries.c.key == key).values(expires_at=expiry, last_access=now)
            ).rowcount
        return int(changed or 0)

    def _expiry_of(self, key: str) -> tuple[float, float] | None:
        """(expires_at, last_access) of ``key``, or None; on SQLite one raw indexed read (no ORM layer)."""
        if self._sqlite:
            raw = self.engine.raw_connection()
            try:
                cur = raw.cursor()
                cur.execute(SQLITE_EXPIRY, (key,))
                found = cur.fetchone()
                cur.close()
            finally:
                raw.close()
        else:
            with self.engine.connect() as conn:
                found = conn.execute(
                    select(ccr_entries.c.expires_at, ccr_entries.c.last_access).where(ccr_entries.c.key == key)
                ).first()
        return None if found is None else (float(found[0]), float(found[1]))

    # -- compression counts per tool (the feedback hint's denominator) ---------------------
    def _write_feedback(self, conn: Any, counts: dict[str, int]) -> None:
        for tool in counts:
            self._feedback_cache.pop(tool, None)  # read again: the database now holds these counts
        write_counts(conn, self._sqlite, counts)

    def flush(self) -> None:
        """Write the compression counts not written yet (also done at exit and by :meth:`close`)."""
        counts = self._pending.take()
        if not counts:
            return

        def _write() -> None:
            with self.engine.begin() as conn:
                self._write_feedback(conn, counts)

        try:
            self._retry(_write)
        except SQLAlchemyError as exc:
            self._pending.requeue(counts)
            log.warning("could not record tool feedback: %s", exc)

    def get_entry(self, key: str) -> CCREntry:
        """The stored original of ``key``; RetrievalError when unknown or expired (or not a key at all)."""
        key = _checked_key(key)
        try:
            with self.engine.connect() as conn:
                row = conn.execute(select(ccr_entries).where(ccr_entries.c.key == key)).first()
        except SQLAlchemyError as exc:
            raise self._error("read", exc) from exc
        if row is None:
            raise RetrievalError(f"no content stored under CCR key {key!r} (unknown, or evicted by the size limits)")
        now = time.time()
        if row.expires_at < now:
            raise RetrievalError(
                f"CCR key {key!r} expired {_ago(now - row.expires_at)} ago (it was kept until {_when(row.expires_at)})"
            )
        return CCREntry(
            key=row.key,
            content=bytes(row.content).decode("utf-8", "surrogatepass"),
            kind=row.kind,
            tool_name=row.tool_name,
            created_at=row.created_at,
            expires_at=row.expires_at,
            retrievals=row.retrievals,
            meta=json.loads(row.meta or "{}"),
        )

    def get(self, key: str, *, record_retrieval: bool = True) -> str:
        """The original content of ``key``, exactly as it was stored."""
        entry = self.get_entry(key)
        if record_retrieval:
            try:

                def _touch() -> None:
                    with self.engine.begin() as conn:
                        conn.execute(
                            update(ccr_entries)
                            .where(ccr_entries.c.key == entry.key)
                            .values(retrievals=ccr_entries.c.retrievals + 1, last_access=time.time())
                        )

                self._retry(_touch)
                if entry.tool_name:
                    self._bump_feedback(entry.tool_name, retrievals=1)
            except SQLAlchemyError as exc:  # bookkeeping only: the content was read
                log.warning("could not record a CCR retrieval: %s", exc)
        return entry.content

    def original_meta(self, key: str) -> dict[str, Any] | None:
        """What was recorded with the original of ``key`` when it was stored; None when it is not (or no longer) there.

        Reads one indexed row without the content, so compressors can ask cheaply how content
        they compressed before was compressed then.
        """
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(ccr_entries.c.meta, ccr_entries.c.expires_at).where(ccr_entries.c.key == key)
                ).first()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the Headroom store: {exc}") from exc
        if row is None or row.expires_at < time.time():
            return None
        meta = json.loads(row.meta or "{}")
        return meta if isinstance(meta, dict) else None

    def __contains__(self, key: object) -> bool:
        """True when ``key`` is stored and unexpired (one indexed read; the content is not loaded)."""
        if not isinstance(key, str) or not _KEY_SHAPE.fullmatch(key.strip()):
            return False
        try:
            found = self._expiry_of(key.strip())
        except Exception as exc:
            raise self._error("read", exc) from exc
        return found is not None and found[0] > time.time()

    def enforce_limits(self, *, grace_seconds: float | None = None) -> int:
        """Delete expired entries, then the least recently used beyond the count/size limits.

        Entries stored or used in the last ``grace_seconds`` (default :data:`EVICTION_GRACE_SECONDS`)
        are not evicted for the limits.
        """
        if grace_seconds is None:
            grace_seconds = EVICTION_GRACE_SECONDS
        if grace_seconds < EVICTION_GRACE_SECONDS:
            self._alive.clear()  # keep_alive's answers assumed the grace period
        now = time.time()
        removed = 0

        def _run() -> int:
            n = 0
            with self.engine.begin() as conn:
                n += conn.execute(delete(ccr_entries).where(ccr_entries.c.expires_at < now)).rowcount or 0
                count, total = conn.execute(select(func.count(), func.coalesce(func.sum(ccr_entries.c.size), 0))).one()
                if count <= self.config.max_entries and total <= self.config.max_total_bytes:
                    return n
                rows = conn.execute(
                    select(ccr_entries.c.key, ccr_entries.c.size)
                    .where(ccr_entries.c.last_access < now - grace_seconds)
                    .order_by(ccr_entries.c.last_access.asc())
                ).all()
                victims = []
                for row in rows:
                    if count <= self.config.max_entries and total <= self.config.max_total_bytes:
                        break
                    victims.append(row.key)
                    count -= 1
                    total -= row.size
                for i in range(0, len(victims), 500):
                    n += (
                        conn.execute(delete(ccr_entries).where(ccr_entries.c.key.in_(victims[i : i + 500]))).rowcount
                        or 0
                    )
            return n

        try:
            removed = self._retry(_run) or 0
        except SQLAlchemyError as exc:
            log.warning("could not enforce CCR limits on %s: %s", self.shown_url, describe_error(exc))
        return removed

    def stats(self) -> dict[str, Any]:
        """What the store holds: entries, bytes, retrievals, and the totals of recorded metrics."""
        try:
            return self._stats()
        except SQLAlchemyError as exc:
            raise self._error("read", exc) from exc

    def _stats(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            count, total, retrievals = conn.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(ccr_entries.c.size), 0),
                    func.coalesce(func.sum(ccr_entries.c.retrievals), 0),
                )
            ).one()
            m = conn.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(metrics_table.c.tokens_before), 0),
                    func.coalesce(func.sum(metrics_table.c.tokens_after), 0),
                    func.coalesce(func.sum(metrics_table.c.cached_tokens), 0),
                    func.coalesce(func.sum(metrics_table.c.cost_before), 0.0),
                    func.coalesce(func.sum(metrics_table.c.cost_after), 0.0),
                )
            ).one()
        return {
            "url": self.shown_url,
            "entries": int(count),
            "bytes": int(total),
            "retrievals": int(retrievals),
            "requests": int(m[0]),
            "tokens_before": int(m[1]),
            "tokens_after": int(m[2]),
            "tokens_saved": int(m[1]) - int(m[2]),
            "cached_tokens": int(m[3]),
            "cost_before_usd": float(m[4]),
            "cost_after_usd": float(m[5]),
            "cost_saved_usd": float(m[4]) - float(m[5]),
        }

    # -- metrics ---------------------------------------------------------------------------
    def record_metrics(
        self,
        *,
        source: str,
        model: str,
        mode: str,
        tokens_before: int,
        tokens_after: int,
        cached_tokens: int = 0,
        cost_before: float | None = None,
        cost_after: float | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Append one request's figures (failures are logged, never raised: metrics are bookkeeping)."""
        row = {
            "ts": time.time(),
            "source": source,
            "model": model,
            "mode": mode,
            "tokens_before": tokens_before,
            "tokens_after": tokens_after,
            "cached_tokens": cached_tokens,
            "cost_before": cost_before,
            "cost_after": cost_after,
            "data": json.dumps(data or {}, ensure_ascii=False, default=str),
        }
        try:

            def _write() -> None:
                with self.engine.begin() as conn:
                    conn.execute(metrics_table.insert().values(**row))

            self._retry(_write)
        except SQLAlchemyError as exc:
            log.warning("could not record metrics in %s: %s", self.shown_url, describe_error(exc))

    def metrics(
        self, *, source: str | None = None, since: float | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Recorded requests, newest first."""
        q = select(metrics_table).order_by(metrics_table.c.id.desc()).limit(limit)
        if source:
            q = q.where(metrics_table.c.source == source)
        if since:
            q = q.where(metrics_table.c.ts >= since)
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(q).all()
        except SQLAlchemyError as exc:
            raise self._error("read", exc) from exc
        out = []
        for r in rows:
            d = dict(r._mapping)
            d["data"] = json.loads(d["data"] or "{}")
            out.append(d)
        return out

    # -- retrieval feedback ----------------------------------------------------------------
    def _bump_feedback_in(self, conn: Any, tool_name: str, *, compressions: int = 0, retrievals: int = 0) -> None:
        """Add to a tool's feedback counters inside the caller's transaction."""
        if retrievals:
            self._feedback_cache.pop(tool_name, None)  # a retrieval changes the hint at once
        add_feedback(conn, tool_name, compressions=compressions, retrievals=retrievals)

    def _bump_feedback(self, tool_name: str, *, compressions: int = 0, retrievals: int = 0) -> None:
        def _write() -> None:
            with self.engine.begin() as conn:
                self._bump_feedback_in(conn, tool_name, compressions=compressions, retrievals=retrievals)

        try:
            self._retry(_write)
        except SQLAlchemyError as exc:
            log.warning("could not record tool feedback: %s", exc)

    def tool_feedback(self, tool_name: str) -> tuple[int, int]:
        """(compressions, retrievals) recorded for ``tool_name``.

        Read on every compression of a tool's output, so what the database holds is kept for
        ``FEEDBACK_TTL`` seconds (other processes' counts show up within that time); this
        process's own counts not written yet are always added.
        """
        now = time.monotonic()
        cached = self._feedback_cache.get(tool_name)
        if cached is not None and now - cached[0] < FEEDBACK_TTL:
            value = cached[1]
        else:
            try:
                with self.engine.connect() as conn:
                    row = conn.execute(select(tool_feedback).where(tool_feedback.c.tool_name == tool_name)).first()
            except SQLAlchemyError as exc:  # a hint only: compress as if nothing were recorded
                log.warning("could not read tool feedback from %s: %s", self.shown_url, describe_error(exc))
                row = None
            value = (0, 0) if row is None else (int(row.compressions), int(row.retrievals))
            self._feedback_cache[tool_name] = (now, value)
        return value[0] + self._pending.get(tool_name), value[1]

    def close(self) -> None:
        self.flush()
        self.engine.dispose()


_stores: dict[str, CCRStore] = {}
_failed: dict[str, tuple[float, StoreError]] = {}
_stores_lock = threading.Lock()

STORE_RETRY_SECONDS = 30.0
"""After a store failed to open, get_store raises the same StoreError for this long before trying again."""


def get_store(config: HeadroomConfig | None = None, store_url: str | None = None) -> CCRStore:
    """The process-wide store for the resolved URL (opened once, shared by threads).

    Raises :class:`StoreError` (one sentence naming the store) when it cannot be opened; the
    failure is remembered for :data:`STORE_RETRY_SECONDS`, so callers that fail open are not
    slowed down by a new attempt on every call.
    """
    try:
        url = resolve_store_url(config, store_url)
    except OSError as exc:  # no writable workspace and no private temp folder either
        raise StoreError(f"cannot find a writable folder for the Headroom store: {describe_error(exc)}") from None
    key = f"{os.getpid()}:{url}"
    store = _stores.get(key)
    if store is not None:
        return _with_limits(store, config)
    with _stores_lock:
        store = _stores.get(key)
        if store is not None:
            return store
        failed = _failed.get(key)
        if failed is not None and time.monotonic() - failed[0] < STORE_RETRY_SECONDS:
            raise failed[1]
        try:
            store = CCRStore(url, config.ccr if config else None)
        except StoreError as exc:
            _failed[key] = (time.monotonic(), exc)
            raise
        _failed.pop(key, None)
        _stores[key] = store
    return _with_limits(store, config)


_views: dict[tuple[int, str], CCRStore] = {}


def _with_limits(store: CCRStore, config: HeadroomConfig | None) -> CCRStore:
    """``store`` under ``config``'s CCR limits (a view remembered per store and limits)."""
    if config is None or config.ccr == store.config:
        return store
    key = (id(store), config.ccr.model_dump_json())
    view = _views.get(key)
    if view is None:
        view = _views.setdefault(key, store.with_config(config.ccr))
    return view
