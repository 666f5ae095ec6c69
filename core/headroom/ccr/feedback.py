"""Retrieval feedback per tool: how often its outputs were compressed, and how often retrieved.

SmartCrusher keeps more items for tools whose omitted items the model keeps asking for. Counting
compressions costs a write per compression, so this process counts them in memory and writes
them in batches inside store writes that happen anyway (a second table touched by every write
doubled what SQLite's commit cost); counts not written yet are written at exit.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from headroom.ccr.schema import tool_feedback

__all__ = ["FEEDBACK_BATCH", "FEEDBACK_TTL", "PendingCounts", "add_feedback", "flush_pending", "write_counts"]

log = logging.getLogger("headroom.ccr")

FEEDBACK_TTL = 2.0
"""Seconds a tool's counts read from the database are trusted (other processes' counts show up after that)."""
FEEDBACK_BATCH = 32
"""Compressions counted per tool are written with every 32nd store write (or after FEEDBACK_TTL)."""
SQLITE_ADD_COMPRESSIONS = (
    f"INSERT INTO {tool_feedback.name} (tool_name, compressions, retrievals) VALUES (?, ?, 0) "
    "ON CONFLICT(tool_name) DO UPDATE SET compressions = compressions + excluded.compressions"
)


class PendingCounts:
    """Compressions per tool counted by this process and not yet written to the store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._since = 0.0

    def add(self, tool_name: str | None) -> dict[str, int]:
        """Count one compression of ``tool_name``; the counts due now (a full batch, or old ones)."""
        with self._lock:
            if tool_name:
                if not self._counts:
                    self._since = time.monotonic()
                self._counts[tool_name] = self._counts.get(tool_name, 0) + 1
            if self._counts and (
                sum(self._counts.values()) >= FEEDBACK_BATCH or time.monotonic() - self._since >= FEEDBACK_TTL
            ):
                due, self._counts = self._counts, {}
                return due
            return {}

    def take(self) -> dict[str, int]:
        with self._lock:
            counts, self._counts = self._counts, {}
            return counts

    def requeue(self, counts: dict[str, int]) -> None:
        with self._lock:
            for tool, n in counts.items():
                self._counts[tool] = self._counts.get(tool, 0) + n

    def get(self, tool_name: str) -> int:
        with self._lock:
            return self._counts.get(tool_name, 0)


def add_feedback(conn: Any, tool_name: str, *, compressions: int = 0, retrievals: int = 0) -> None:
    """Add to a tool's feedback counters (any database: update, else insert) in the caller's transaction."""
    bump = (
        update(tool_feedback)
        .where(tool_feedback.c.tool_name == tool_name)
        .values(
            compressions=tool_feedback.c.compressions + compressions,
            retrievals=tool_feedback.c.retrievals + retrievals,
        )
    )
    if conn.execute(bump).rowcount:
        return
    try:
        with conn.begin_nested():
            conn.execute(
                tool_feedback.insert().values(tool_name=tool_name, compressions=compressions, retrievals=retrievals)
            )
    except IntegrityError:
        conn.execute(bump)


def write_counts(conn: Any, sqlite: bool, counts: dict[str, int]) -> None:
    """Add compression counts to the feedback table inside the caller's transaction."""
    for tool, n in counts.items():
        if sqlite:
            conn.exec_driver_sql(SQLITE_ADD_COMPRESSIONS, (tool, n))
        else:
            add_feedback(conn, tool, compressions=n)


def flush_pending(engine: Engine, sqlite: bool, pending: PendingCounts, pid: int) -> None:
    """Write what ``pending`` holds (the store's finalizer: it must not refer to the store).

    A forked child inherits the parent's finalizers and pending counts; only the process that
    counted them writes them (and never over a connection it inherited).
    """
    if os.getpid() != pid:
        return
    counts = pending.take()
    if not counts:
        return
    try:
        with engine.begin() as conn:
            write_counts(conn, sqlite, counts)
    except Exception as exc:  # at exit or collection: log, never raise
        log.warning("could not record tool feedback at exit: %s", exc)
