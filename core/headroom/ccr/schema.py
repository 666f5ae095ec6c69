"""The tables of the Headroom store: stored originals, request metrics, retrieval feedback per tool."""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, LargeBinary, MetaData, String, Table, Text

__all__ = [
    "ENTRY_COLUMNS",
    "ENTRY_INDEXES",
    "SQLITE_EXPIRY",
    "SQLITE_PUT",
    "ccr_entries",
    "metadata",
    "metrics_table",
    "tool_feedback",
]

metadata = MetaData()

ccr_entries = Table(
    "headroom_ccr_entries",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("content", LargeBinary, nullable=False),
    Column("size", Integer, nullable=False),
    Column("kind", String(32), nullable=False, default="text"),
    Column("tool_name", String(256), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("last_access", Float, nullable=False),
    Column("retrievals", Integer, nullable=False, default=0),
    Column("meta", Text, nullable=True),
)

# The limits are checked every few writes (see headroom.ccr.store). Rows hold their content before
# ``size`` and the times, so without these covering indexes each check would read every stored byte.
ENTRY_INDEXES = (
    Index("ix_headroom_ccr_expires", ccr_entries.c.expires_at),
    Index("ix_headroom_ccr_lru", ccr_entries.c.last_access, ccr_entries.c.size),
)

metrics_table = Table(
    "headroom_metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False, index=True),
    Column("source", String(64), nullable=False),
    Column("model", String(256), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("tokens_before", Integer, nullable=False),
    Column("tokens_after", Integer, nullable=False),
    Column("cached_tokens", Integer, nullable=False, default=0),
    Column("cost_before", Float, nullable=True),
    Column("cost_after", Float, nullable=True),
    Column("data", Text, nullable=True),
)

tool_feedback = Table(
    "headroom_tool_feedback",
    metadata,
    Column("tool_name", String(256), primary_key=True),
    Column("compressions", Integer, nullable=False, default=0),
    Column("retrievals", Integer, nullable=False, default=0),
)


ENTRY_COLUMNS = tuple(c.name for c in ccr_entries.columns)
SQLITE_PUT = (
    f"INSERT INTO {ccr_entries.name} ({', '.join(ENTRY_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in ENTRY_COLUMNS)}) "
    "ON CONFLICT(key) DO UPDATE SET expires_at = excluded.expires_at, last_access = excluded.last_access"
)
SQLITE_EXPIRY = f"SELECT expires_at, last_access FROM {ccr_entries.name} WHERE key = ?"
