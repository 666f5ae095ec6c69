"""DailyBudget: HEADROOM_BUDGET enforced over every worker and machine that shares the store.

Before a request goes upstream, its cost is estimated from above (the prompt as sent, plus the
output limit the request sets, or ``output_buffer_tokens`` when it sets none) and *reserved*:
one conditional ``UPDATE ... SET spent = spent + estimate WHERE spent + estimate <= limit``,
which the database runs atomically, so concurrent requests in several workers cannot together
pass the limit, and the very first request cannot overshoot it either. When the answer is in,
the reservation is replaced by the cost the provider's usage reports (or released when the
upstream refused the request). A day is the proxy's local calendar day; spend resets at local
midnight, as HeadroomClient's budget does.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from headroom.proxy.tables import add_to, create_tables, spend_table

__all__ = ["DailyBudget", "Reservation", "seconds_to_midnight"]

log = logging.getLogger("headroom.proxy")


def _today() -> str:
    return _dt.datetime.now().astimezone().strftime("%Y-%m-%d")


def seconds_to_midnight() -> int:
    """Seconds until the local day ends (when the budget resets)."""
    now = _dt.datetime.now().astimezone()
    tomorrow = (now + _dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds()))


@dataclass(frozen=True)
class Reservation:
    """US dollars set aside for one upstream call on ``day``."""

    day: str
    amount: float


class DailyBudget:
    """A daily USD limit kept in the store's ``headroom_proxy_spend`` table."""

    def __init__(self, engine: Engine, limit_usd: float) -> None:
        self.engine = engine
        self.limit_usd = float(limit_usd)
        create_tables(engine)

    def reserve(self, amount: float) -> Reservation | None:
        """Set ``amount`` aside if today's spend stays within the limit; None when it would not."""
        day = _today()
        amount = max(0.0, float(amount))
        t = spend_table
        with self.engine.begin() as conn:
            add_to(conn, t, day, 0.0)  # the row exists (and, in SQLite, the write lock is ours)
            done = conn.execute(
                update(t)
                .where(t.c.day == day, t.c.spent_usd + amount <= self.limit_usd)
                .values(spent_usd=t.c.spent_usd + amount)
            ).rowcount
        return Reservation(day, amount) if done else None

    def settle(self, reservation: Reservation, actual_usd: float | None) -> None:
        """Replace a reservation by what the call cost (``None``: keep the estimate, as nothing better is known)."""
        if actual_usd is None:
            return
        delta = float(actual_usd) - reservation.amount
        if delta == 0.0:
            return
        try:
            with self.engine.begin() as conn:
                add_to(conn, spend_table, reservation.day, delta)
        except Exception as exc:  # the estimate stays booked, which errs on the safe side
            log.warning("could not settle a budget reservation (%s: %s)", type(exc).__name__, exc)

    def spent_today(self) -> float:
        """US dollars spent (and reserved for calls in flight) today, over all workers."""
        with self.engine.connect() as conn:
            value = conn.execute(select(spend_table.c.spent_usd).where(spend_table.c.day == _today())).scalar()
        return float(value or 0.0)

    def status(self) -> dict[str, Any]:
        """Today's figures, for ``/stats``."""
        spent = self.spent_today()
        return {
            "day": _today(),
            "limit_usd": self.limit_usd,
            "spent_usd": round(spent, 6),
            "remaining_usd": round(max(0.0, self.limit_usd - spent), 6),
        }
