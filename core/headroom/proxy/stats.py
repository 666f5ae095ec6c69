"""ProxyStats: the proxy's counters, kept in the shared store so every worker reports the same totals.

A request only touches memory: counters are added to a dictionary under a lock, and the token
figures of a compression are left for later (:meth:`ProxyStats.account_tokens` keeps the
result, whose counts are computed on first read). A background thread wakes every second,
counts those tokens, and adds everything pending to the store in one transaction, so token
counting and database writes never sit between a client and its answer. Reading the totals
(``/metrics``, ``/stats``) first writes what this worker holds; other workers' last second
may still be on its way.

Series are Prometheus series names: ``headroom_proxy_requests_total{endpoint="chat",provider="openai"}``.
The added-latency histogram is stored per bucket and made cumulative when rendered.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections import defaultdict
from collections.abc import Callable

from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine

from headroom import metrics
from headroom.proxy.tables import add_to, counters_table, create_tables
from headroom.result import CompressResult

__all__ = ["LATENCY_BUCKETS_MS", "ProxyStats", "series", "stored_totals"]

log = logging.getLogger("headroom.proxy")

LATENCY_BUCKETS_MS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0, 5000.0)
"""Upper bounds of the added-latency histogram buckets (the last bucket, +Inf, is implicit)."""


def series(name: str, **labels: str) -> str:
    """The series name of ``name`` with ``labels`` (sorted, quoted the Prometheus way)."""
    if not labels:
        return name
    inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class ProxyStats:
    """Counters of this worker, added to the store's totals every ``interval`` seconds."""

    def __init__(self, engine: Engine, *, interval: float = 1.0) -> None:
        self.engine = engine
        self.interval = interval
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending: defaultdict[str, float] = defaultdict(float)
        self._jobs: list[Callable[[], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bucket_series = [
            series("headroom_proxy_added_latency_ms_bucket", le=_le(b)) for b in (*LATENCY_BUCKETS_MS, float("inf"))
        ]
        create_tables(engine)

    # -- recording (request path: memory only) ---------------------------------------------
    def add(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` to the series ``name{labels}``."""
        key = series(name, **labels)
        with self._lock:
            self._pending[key] += amount

    def observe_added_ms(self, ms: float) -> None:
        """One observation of the latency the proxy itself added to a request."""
        bucket = self._bucket_series[bisect.bisect_left(LATENCY_BUCKETS_MS, ms)]
        with self._lock:
            self._pending[bucket] += 1
            self._pending["headroom_proxy_added_latency_ms_sum"] += ms
            self._pending["headroom_proxy_added_latency_ms_count"] += 1

    def account_tokens(self, result: CompressResult, *, sent_compressed: bool, provider: str) -> None:
        """Count the prompt tokens of a compression later, off the request path."""
        self.defer(lambda: self._count(result, sent_compressed, provider))

    def defer(self, job: Callable[[], None]) -> None:
        """Run ``job`` (bookkeeping that adds to the counters) in the writer thread, before the next write."""
        with self._lock:
            self._jobs.append(job)

    # -- writing ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the background writer (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="headroom-proxy-stats", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def close(self) -> None:
        """Stop the writer and write what is pending."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.flush()

    def flush(self) -> None:
        """Count pending token figures and add every pending amount to the store (never raises)."""
        with self._flush_lock:
            with self._lock:
                jobs, self._jobs = self._jobs, []
            for job in jobs:
                try:
                    job()
                except Exception as exc:  # accounting only
                    metrics.increment("errors.proxy.accounting")
                    log.warning("proxy accounting failed (%s: %s)", type(exc).__name__, exc)
            with self._lock:
                pending, self._pending = dict(self._pending), defaultdict(float)
            if not pending:
                return
            try:
                with self.engine.begin() as conn:
                    for key in sorted(pending):  # one order in every worker: no lock-order deadlocks
                        add_to(conn, counters_table, key, pending[key])
            except Exception as exc:
                metrics.increment("errors.proxy.stats")
                log.warning("could not write the proxy's counters to the store (%s: %s); kept for the next try",
                            type(exc).__name__, exc)  # fmt: skip
                with self._lock:
                    for key, value in pending.items():
                        self._pending[key] += value

    def _count(self, result: CompressResult, sent_compressed: bool, provider: str) -> None:
        before = result.tokens_before
        after = result.tokens_after if sent_compressed else before
        cached = result.cached_tokens if sent_compressed else 0
        with self._lock:
            self._pending[series("headroom_proxy_tokens_before_total", provider=provider)] += before
            self._pending[series("headroom_proxy_tokens_after_total", provider=provider)] += after
            self._pending[series("headroom_proxy_cached_tokens_estimated_total", provider=provider)] += cached

    # -- reading ------------------------------------------------------------------------------
    def totals(self) -> dict[str, float]:
        """Every series with its total over all workers (this worker's pending amounts written first)."""
        self.flush()
        return stored_totals(self.engine)


def stored_totals(engine: Engine) -> dict[str, float]:
    """The proxies' totals a store holds (empty when no proxy ever wrote to it; nothing is created)."""
    if not inspect(engine).has_table(counters_table.name):
        return {}
    with engine.connect() as conn:
        rows = conn.execute(select(counters_table.c.series, counters_table.c.value)).all()
    return {row.series: float(row.value) for row in rows}


def _le(bound: float) -> str:
    if bound == float("inf"):
        return "+Inf"
    return f"{bound:g}"
