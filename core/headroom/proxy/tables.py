"""The proxy's own tables in the shared store: counters and daily spend.

They live on the CCR store's engine (SQLite in WAL mode on one machine, PostgreSQL across
machines), so every worker and every machine that shares a ``store_url`` adds to the same
totals and spends from the same budget. Both tables are written with single-statement
increments (``value = value + x``), which the database serialises: no lost updates.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Column, Float, MetaData, String, Table, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

__all__ = ["add_many", "add_to", "counters_table", "create_tables", "spend_table"]

metadata = MetaData()

counters_table = Table(
    "headroom_proxy_counters",
    metadata,
    Column("series", String(512), primary_key=True),
    Column("value", Float, nullable=False, default=0.0),
)
"""One row per Prometheus series (``name{label="value"}``) with its total over all workers."""

spend_table = Table(
    "headroom_proxy_spend",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("spent_usd", Float, nullable=False, default=0.0),
)
"""US dollars spent (or reserved for requests in flight) per local day, ``YYYY-MM-DD``."""


def create_tables(engine: Engine) -> None:
    """Create the proxy's tables if they are missing (idempotent; safe when several workers start at once)."""
    for attempt in range(5):
        try:
            metadata.create_all(engine, checkfirst=True)
            return
        except SQLAlchemyError:
            # Another worker created a table between the check and the CREATE, or holds the lock.
            if attempt == 4:
                raise
            time.sleep(0.05 * 2**attempt)


def add_to(conn: Connection, table: Table, key: str, amount: float) -> None:
    """``table[key] += amount`` in one statement, creating the row at ``amount`` when it is missing."""
    add_many(conn, table, {key: amount})


def add_many(conn: Connection, table: Table, amounts: dict[str, float]) -> None:
    """``table[key] += amount`` for every key, in one statement run for all rows (keys in sorted order,
    the same in every writer, so two writers never wait on each other's rows in opposite orders)."""
    key_col, value_col = list(table.columns)
    rows = [{key_col.name: key, value_col.name: amounts[key]} for key in sorted(amounts)]
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        from sqlalchemy.dialects import postgresql, sqlite

        dialect_insert: Any = sqlite.insert if dialect == "sqlite" else postgresql.insert
        stmt: Any = dialect_insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[key_col], set_={value_col.name: value_col + stmt.excluded[value_col.name]}
        )
        conn.execute(stmt, rows)
        return
    for row in rows:  # other databases: update, else insert
        key, amount = row[key_col.name], row[value_col.name]
        done = conn.execute(update(table).where(key_col == key).values({value_col.name: value_col + amount})).rowcount
        if not done:
            conn.execute(table.insert().values(row))
