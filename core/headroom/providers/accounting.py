"""HeadroomClient's bookkeeping in the store: today's spend (for HEADROOM_BUDGET) and the totals of its calls.

Each call is one row of the store's metrics table with ``source="client"``; the provider's usage,
the actual cost (``cost_usd``), cache hits and what audit mode would have saved live in its
``data`` JSON.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from sqlalchemy import select

from headroom.ccr.store import CCRStore, metrics_table

__all__ = ["METRICS_SOURCE", "persisted_totals", "spent_today_usd"]

METRICS_SOURCE = "client"
"""``source`` of the rows HeadroomClient writes to the store's metrics table."""


def _local_midnight() -> float:
    now = _dt.datetime.now().astimezone()
    return now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def spent_today_usd(store: CCRStore) -> float:
    """US dollars of HeadroomClient calls recorded in ``store`` since local midnight."""
    query = select(metrics_table.c.data).where(
        metrics_table.c.source == METRICS_SOURCE, metrics_table.c.ts >= _local_midnight()
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    total = 0.0
    for row in rows:
        try:
            total += float(json.loads(row.data or "{}").get("cost_usd") or 0.0)
        except (ValueError, TypeError, AttributeError):
            continue
    return total


def persisted_totals(store: CCRStore, *, limit: int = 100_000) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Totals over the HeadroomClient rows of ``store`` (newest ``limit``), and those rows, newest first."""
    rows = store.metrics(source=METRICS_SOURCE, limit=limit)
    totals: dict[str, Any] = {
        "requests": len(rows), "tokens_before": 0, "tokens_after": 0, "cached_tokens": 0,
        "potential_tokens_saved": 0, "cache_hits": 0, "cost_usd": 0.0, "cost_saved_usd": 0.0, "by_mode": {},
    }  # fmt: skip
    for row in rows:
        data = row.get("data") or {}
        totals["tokens_before"] += row["tokens_before"]
        totals["tokens_after"] += row["tokens_after"]
        totals["cached_tokens"] += row["cached_tokens"] or 0
        totals["potential_tokens_saved"] += int(data.get("potential_tokens_saved") or 0)
        totals["cache_hits"] += 1 if data.get("cache_hit") else 0
        totals["cost_usd"] += float(data.get("cost_usd") or 0.0)
        totals["cost_saved_usd"] += (row["cost_before"] or 0.0) - (row["cost_after"] or 0.0)
        totals["by_mode"][row["mode"]] = totals["by_mode"].get(row["mode"], 0) + 1
    totals["tokens_saved"] = totals["tokens_before"] - totals["tokens_after"]
    return totals, rows
