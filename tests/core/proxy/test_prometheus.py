"""/metrics text and /stats JSON from the counters' totals."""

from __future__ import annotations

from pathlib import Path

from headroom.proxy.prometheus import render_prometheus, stats_json
from headroom.proxy.stats import ProxyStats
from sqlalchemy import create_engine


def _stats(tmp_path: Path) -> ProxyStats:
    return ProxyStats(create_engine(f"sqlite:///{tmp_path / 's.db'}"))


def test_histogram_buckets_are_cumulative_and_counted(tmp_path: Path) -> None:
    stats = _stats(tmp_path)
    for ms in (0.1, 0.9, 1.0, 3.0, 7000.0):
        stats.observe_added_ms(ms)
    text = render_prometheus(stats.totals())
    assert 'headroom_proxy_added_latency_ms_bucket{le="0.25"} 1' in text
    assert 'headroom_proxy_added_latency_ms_bucket{le="1"} 3' in text
    assert 'headroom_proxy_added_latency_ms_bucket{le="5"} 4' in text
    assert 'headroom_proxy_added_latency_ms_bucket{le="5000"} 4' in text
    assert 'headroom_proxy_added_latency_ms_bucket{le="+Inf"} 5' in text
    assert "headroom_proxy_added_latency_ms_count 5" in text
    assert "# TYPE headroom_proxy_added_latency_ms histogram" in text


def test_counters_add_up_across_writers(tmp_path: Path) -> None:
    one, two = _stats(tmp_path), _stats(tmp_path)
    one.add("headroom_proxy_requests_total", endpoint="chat", provider="openai")
    two.add("headroom_proxy_requests_total", endpoint="chat", provider="openai")
    two.add("headroom_proxy_errors_total", kind="upstream")
    one.flush()
    totals = two.totals()
    assert totals['headroom_proxy_requests_total{endpoint="chat",provider="openai"}'] == 2
    text = render_prometheus(totals)
    assert "# TYPE headroom_proxy_requests_total counter" in text
    assert 'headroom_proxy_errors_total{kind="upstream"} 1' in text


def test_stats_json_groups_the_totals() -> None:
    totals = {
        'headroom_proxy_requests_total{endpoint="chat",provider="openai"}': 3.0,
        'headroom_proxy_requests_total{endpoint="messages",provider="anthropic"}': 1.0,
        'headroom_proxy_tokens_before_total{provider="openai"}': 1000.0,
        'headroom_proxy_tokens_after_total{provider="openai"}': 250.0,
        "headroom_proxy_added_latency_ms_sum": 6.0,
        "headroom_proxy_added_latency_ms_count": 4.0,
    }
    out = stats_json(totals)
    assert out["requests"] == {"total": 4, "by_endpoint": {"chat": 3, "messages": 1},
                               "by_provider": {"openai": 3, "anthropic": 1}, "compressed": 0}  # fmt: skip
    assert out["tokens"]["saved"] == 750 and out["tokens"]["saved_ratio"] == 0.75
    assert out["added_latency_ms"] == {"count": 4, "mean": 1.5}


def test_label_values_are_escaped(tmp_path: Path) -> None:
    stats = _stats(tmp_path)
    stats.add("headroom_proxy_errors_total", kind='say "no"\\')
    assert 'kind="say \\"no\\"\\\\"' in render_prometheus(stats.totals())
