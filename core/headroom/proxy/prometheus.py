"""``/metrics`` and ``/stats``: the store's counter totals as Prometheus text and as JSON."""

from __future__ import annotations

from typing import Any

from headroom.proxy.stats import LATENCY_BUCKETS_MS, series

__all__ = ["METRICS", "render_prometheus", "stats_json"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

METRICS: dict[str, tuple[str, str]] = {
    "headroom_proxy_requests_total": ("counter", "Requests handled, by endpoint and provider."),
    "headroom_proxy_compressed_requests_total": ("counter", "Requests sent upstream in compressed form."),
    "headroom_proxy_tokens_before_total": ("counter", "Prompt tokens as the clients wrote them (Headroom's count)."),
    "headroom_proxy_tokens_after_total": ("counter", "Prompt tokens sent upstream (Headroom's count)."),
    "headroom_proxy_cached_tokens_estimated_total": (
        "counter",
        "Prompt tokens sent that Headroom expects the provider to read from its prompt cache.",
    ),
    "headroom_proxy_provider_cached_tokens_total": (
        "counter",
        "Prompt tokens the provider reported as read from its prompt cache.",
    ),
    "headroom_proxy_upstream_responses_total": ("counter", "Upstream responses by HTTP status."),
    "headroom_proxy_errors_total": (
        "counter",
        "Errors by kind (compression and compress_timeout failed open: the original request was sent).",
    ),
    "headroom_proxy_retrieval_rounds_total": ("counter", "headroom_retrieve rounds the proxy answered itself."),
    "headroom_proxy_budget_rejections_total": ("counter", "Requests refused because the daily budget was spent."),
    "headroom_proxy_cost_usd_total": ("counter", "US dollars spent upstream, from reported usage and model prices."),
    "headroom_proxy_added_latency_ms": ("histogram", "Milliseconds the proxy itself added to a request."),
}


def _base(key: str) -> str:
    name = key.split("{", 1)[0]
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in METRICS:
            return name[: -len(suffix)]
    return name


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render_prometheus(totals: dict[str, float]) -> str:
    """The Prometheus text exposition (format 0.0.4) of ``totals``; histogram buckets made cumulative."""
    grouped: dict[str, list[str]] = {}
    for key in sorted(totals):
        grouped.setdefault(_base(key), []).append(key)
    hist = "headroom_proxy_added_latency_ms"
    grouped.setdefault(hist, [])
    lines: list[str] = []
    for name in sorted(grouped):
        kind, help_text = METRICS.get(name, ("untyped", ""))
        if help_text:
            lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        if name == hist:
            running = 0.0
            for bound in (*LATENCY_BUCKETS_MS, float("inf")):
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                running += totals.get(series(f"{hist}_bucket", le=le), 0.0)
                lines.append(f'{hist}_bucket{{le="{le}"}} {_number(running)}')
            lines.append(f"{hist}_sum {_number(totals.get(f'{hist}_sum', 0.0))}")
            lines.append(f"{hist}_count {_number(totals.get(f'{hist}_count', 0.0))}")
            continue
        for key in grouped[name]:
            lines.append(f"{key} {_number(totals[key])}")
    return "\n".join(lines) + "\n"


def _labels(key: str) -> dict[str, str]:
    if "{" not in key:
        return {}
    inner = key.split("{", 1)[1].rstrip("}")
    out: dict[str, str] = {}
    for part in inner.split('",'):
        name, _, value = part.partition('="')
        out[name] = value.rstrip('"')
    return out


def _by(totals: dict[str, float], name: str, label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in totals.items():
        if key.split("{", 1)[0] == name:
            out[_labels(key).get(label, "")] = out.get(_labels(key).get(label, ""), 0.0) + value
    return out


def _sum(totals: dict[str, float], name: str) -> float:
    return sum(v for k, v in totals.items() if k.split("{", 1)[0] == name)


def stats_json(totals: dict[str, float]) -> dict[str, Any]:
    """The totals grouped for people: requests, tokens, errors, latency, retrieval, budget rejections."""
    before = _sum(totals, "headroom_proxy_tokens_before_total")
    after = _sum(totals, "headroom_proxy_tokens_after_total")
    count = totals.get("headroom_proxy_added_latency_ms_count", 0.0)
    return {
        "requests": {
            "total": int(_sum(totals, "headroom_proxy_requests_total")),
            "by_endpoint": {k: int(v) for k, v in _by(totals, "headroom_proxy_requests_total", "endpoint").items()},
            "by_provider": {k: int(v) for k, v in _by(totals, "headroom_proxy_requests_total", "provider").items()},
            "compressed": int(_sum(totals, "headroom_proxy_compressed_requests_total")),
        },
        "tokens": {
            "before": int(before),
            "after": int(after),
            "saved": int(before - after),
            "saved_ratio": round((before - after) / before, 4) if before else 0.0,
            "cached_estimated": int(_sum(totals, "headroom_proxy_cached_tokens_estimated_total")),
            "provider_cached": int(_sum(totals, "headroom_proxy_provider_cached_tokens_total")),
        },
        "upstream_responses": {
            k: int(v) for k, v in _by(totals, "headroom_proxy_upstream_responses_total", "status").items()
        },
        "errors": {k: int(v) for k, v in _by(totals, "headroom_proxy_errors_total", "kind").items()},
        "retrieval_rounds": int(_sum(totals, "headroom_proxy_retrieval_rounds_total")),
        "budget_rejections": int(_sum(totals, "headroom_proxy_budget_rejections_total")),
        "cost_usd": round(_sum(totals, "headroom_proxy_cost_usd_total"), 6),
        "added_latency_ms": {
            "count": int(count),
            "mean": round(totals.get("headroom_proxy_added_latency_ms_sum", 0.0) / count, 3) if count else None,
        },
    }
