"""The CCR store: originals of lossy compressions, keyed by content hash, behind a SQLAlchemy URL.

The default is a SQLite file; ``sqlite://`` (and ``HEADROOM_STATELESS=true``) keeps everything
in process memory. SQLite files run in WAL mode with a busy timeout, and inserts are idempotent
(same content, same key), so several threads and processes may write at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing.util import Finalize
from pathlib import Path
from typing import Any

from sqlalchemy import (
    create_engine,
    delete,
    event,
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from headroom.ccr.feedback import FEEDBACK_TTL, PendingCounts, add_feedback, flush_pending, write_counts
from headroom.ccr.schema import (
    ENTRY_COLUMNS,
    ENTRY_INDEXES,
    SQLITE_PUT,
    ccr_entries,
    metadata,
    metrics_table,
    tool_feedback,
)
from headroom.config import CCRConfig, HeadroomConfig
from headroom.errors import ConfigurationError, RetrievalError, StoreError

__all__ = ["CCREntry", "CCRStore", "ccr_key", "get_store", "resolve_store_url"]

log = logging.getLogger("headroom.ccr")

KEY_PREFIX = "hr_"


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


def resolve_store_url(config: HeadroomConfig | None = None, store_url: str | None = None) -> str:
    """The SQLAlchemy URL to open: in memory when stateless, relative SQLite paths under the workspace."""
    cfg = config
    if store_url is None:
        if cfg is None:
            cfg = HeadroomConfig()
        if cfg.stateless:
            return "sqlite://"
        store_url = cfg.store_url
    if cfg is None:
        return _resolve(store_url, HeadroomConfig().workspace_dir)[0]
    # Every compress() call resolves its store: remember the answer per (URL, workspace), and
    # only check that the workspace directory is still there.
    known = _resolved.get((store_url, cfg.workspace_dir))
    if known is not None and (known[1] is None or os.path.isdir(known[1])):
        return known[0]
    resolved = _resolve(store_url, cfg.workspace_dir)
    _resolved[(store_url, cfg.workspace_dir)] = resolved
    return resolved[0]


_resolved: dict[tuple[str, str], tuple[str, str | None]] = {}


def _resolve(store_url: str, workspace_dir: str) -> tuple[str, str | None]:
    """The URL to open and, for a SQLite file under the workspace, the directory it lives in."""
    try:
        url = make_url(store_url)
    except ArgumentError:
        raise ConfigurationError(
            "store_url", store_url, "a SQLAlchemy URL such as sqlite:////abs/path/headroom.db"
        ) from None
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return store_url, None
    path = Path(url.database)
    if path.is_absolute():
        return store_url, None
    workspace = _writable_workspace(workspace_dir)
    return str(url.set(database=str(workspace / path))), str(workspace)


_workspaces: dict[str, Path] = {}


def _writable_workspace(workspace_dir: str) -> Path:
    """The workspace directory, created and checked for writing once per process; a temp dir if it is read-only."""
    known = _workspaces.get(workspace_dir)
    if known is not None and known.is_dir():
        return known
    workspace = Path(workspace_dir).expanduser()
    try:
        workspace.mkdir(parents=True, exist_ok=True)
        probe = workspace / ".headroom-write-probe"
        probe.touch()
        probe.unlink()
    except OSError:
        workspace = Path(tempfile.gettempdir()) / "headroom"
        workspace.mkdir(parents=True, exist_ok=True)
    _workspaces[workspace_dir] = workspace
    return workspace


def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            return create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class CCRStore:
    """Originals by key, with TTL and size limits; also holds metrics and retrieval feedback."""

    def __init__(self, url: str = "sqlite://", config: CCRConfig | None = None) -> None:
        self.url = url
        self.config = config or CCRConfig()
        self._puts = 0
        self._lock = threading.RLock()
        self._feedback_cache: dict[str, tuple[float, tuple[int, int]]] = {}
        self._pending = PendingCounts()
        self._sqlite = make_url(url).get_backend_name() == "sqlite"
        try:
            self.engine = _make_engine(url)
            self._retry(lambda: metadata.create_all(self.engine))
            for index in ENTRY_INDEXES:  # stores created before the indexes existed get them too
                self._retry(lambda index=index: index.create(self.engine, checkfirst=True))
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open the Headroom store at {url!r}: {exc}") from exc
        # Counts not written yet are written when the store is collected or the process exits
        # (multiprocessing's exit hook also runs in forked workers, where atexit does not).
        Finalize(self, flush_pending, args=(self.engine, self._sqlite, self._pending, os.getpid()), exitpriority=0)

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
        """Store ``content`` (idempotent) and return its key."""
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
                    return
                exists = conn.execute(select(ccr_entries.c.key).where(ccr_entries.c.key == key)).first()
                inserted = 0
                if not exists:
                    try:
                        with conn.begin_nested():
                            inserted = conn.execute(ccr_entries.insert().values(**row)).rowcount
                    except IntegrityError:
                        pass  # another writer stored the same content first: same key, same bytes
                if not inserted:
                    conn.execute(
                        update(ccr_entries)
                        .where(ccr_entries.c.key == key)
                        .values(expires_at=row["expires_at"], last_access=now)
                    )

        try:
            self._retry(_write)
        except SQLAlchemyError as exc:
            self._pending.requeue(due)
            raise StoreError(f"cannot write to the Headroom store: {exc}") from exc
        with self._lock:
            self._puts += 1
            check_limits = self._puts % 64 == 1
        if check_limits:
            self.enforce_limits()
        return key

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
        """The stored original of ``key``; RetrievalError when unknown or expired."""
        key = key.strip()
        try:
            with self.engine.connect() as conn:
                row = conn.execute(select(ccr_entries).where(ccr_entries.c.key == key)).first()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the Headroom store: {exc}") from exc
        if row is None:
            raise RetrievalError(f"no content stored under CCR key {key!r} (unknown, or evicted by the size limits)")
        if row.expires_at < time.time():
            raise RetrievalError(f"CCR key {key!r} expired (ccr.ttl_seconds={self.config.ttl_seconds})")
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
        if not isinstance(key, str):
            return False
        try:
            self.get_entry(key)
        except RetrievalError:
            return False
        return True

    def enforce_limits(self) -> int:
        """Delete expired entries, then the least recently used beyond the count/size limits."""
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
                    select(ccr_entries.c.key, ccr_entries.c.size).order_by(ccr_entries.c.last_access.asc())
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
            log.warning("could not enforce CCR limits: %s", exc)
        return removed

    def stats(self) -> dict[str, Any]:
        """What the store holds: entries, bytes, retrievals, and the totals of recorded metrics."""
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
            "url": self.url,
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
            log.warning("could not record metrics: %s", exc)

    def metrics(
        self, *, source: str | None = None, since: float | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Recorded requests, newest first."""
        q = select(metrics_table).order_by(metrics_table.c.id.desc()).limit(limit)
        if source:
            q = q.where(metrics_table.c.source == source)
        if since:
            q = q.where(metrics_table.c.ts >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
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
            with self.engine.connect() as conn:
                row = conn.execute(select(tool_feedback).where(tool_feedback.c.tool_name == tool_name)).first()
            value = (0, 0) if row is None else (int(row.compressions), int(row.retrievals))
            self._feedback_cache[tool_name] = (now, value)
        return value[0] + self._pending.get(tool_name), value[1]

    def close(self) -> None:
        self.flush()
        self.engine.dispose()


_stores: dict[str, CCRStore] = {}
_stores_lock = threading.Lock()


def get_store(config: HeadroomConfig | None = None, store_url: str | None = None) -> CCRStore:
    """The process-wide store for the resolved URL (opened once, shared by threads)."""
    url = resolve_store_url(config, store_url)
    key = f"{os.getpid()}:{url}"
    store = _stores.get(key)
    if store is None:
        with _stores_lock:
            store = _stores.get(key)
            if store is None:
                store = CCRStore(url, config.ccr if config else None)
                _stores[key] = store
    return store
