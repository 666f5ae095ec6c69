"""HeadroomClient: wrap an OpenAI or Anthropic SDK client once and keep calling it as before.

    >>> from openai import OpenAI                                            # doctest: +SKIP
    >>> from headroom import HeadroomClient, OpenAIProvider                  # doctest: +SKIP
    >>> client = HeadroomClient(original_client=OpenAI(), provider=OpenAIProvider(),
    ...                         default_mode="optimize")                     # doctest: +SKIP
    >>> client.chat.completions.create(model="gpt-4o", messages=messages)  # doctest: +SKIP

``client.chat.completions.create`` (OpenAI) and ``client.messages.create`` / ``.stream``
(Anthropic), sync and async, streaming included, go through Headroom; everything else
(``client.models.list()``, ``client.messages.count_tokens``, ``with_raw_response``, ...) is the
original client's, unchanged. Per call, by mode:

- ``audit``: the request is sent unchanged; what optimize would have saved is recorded.
- ``optimize``: the compressed request (plus provider cache hints) is sent.
- ``simulate``: nothing is sent; a :class:`SimulationResult` with the plan is returned.

Per-request overrides (``headroom_mode``, ``headroom_output_buffer_tokens``,
``headroom_keep_turns``, ``headroom_tool_profiles``, ``headroom_optimization_mode`` and
``headroom_session_id``) are taken out of the request before it reaches the provider. Every call
is recorded in the Headroom store (``client.get_stats()``, ``headroom stats``). Provider errors
reach the caller as the SDK's own exceptions; Headroom's own failures never do (fail open).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from headroom import metrics
from headroom.ccr.store import CCRStore, get_store
from headroom.config import CacheOptimizerConfig, HeadroomConfig, HeadroomMode, parse_mode
from headroom.errors import BudgetExceededError, ConfigurationError, InvalidArgumentError
from headroom.models import ModelRegistry
from headroom.providers.accounting import METRICS_SOURCE, persisted_totals, spent_today_usd
from headroom.providers.base import Provider, ProviderUsage, StreamUsageTracker
from headroom.providers.records import RequestRecord, SimulationResult
from headroom.providers.request_compression import compress_request, split_overrides
from headroom.providers.streams import AsyncStreamProxy, StreamManagerProxy, SyncStreamProxy
from headroom.result import CompressResult
from headroom.semantic_cache import CacheHit, CacheKey, SemanticCache

__all__ = ["METRICS_SOURCE", "HeadroomClient", "RequestRecord", "SimulationResult"]

log = logging.getLogger("headroom.client")


@dataclass
class _Prepared:
    config: HeadroomConfig
    mode: HeadroomMode
    model: str
    request: dict[str, Any]
    stream: bool
    result: CompressResult | None = None
    hints: list[str] = field(default_factory=list)
    cache_key: CacheKey | None = None
    cache_hit: CacheHit | None = None
    sent_original: bool = False
    """True when the optimized request could not be built and the caller's request went out."""
    started: float = field(default_factory=time.perf_counter)


def _is_async_client(client: Any) -> bool:
    for module, name in (("openai", "AsyncOpenAI"), ("anthropic", "AsyncAnthropic")):
        try:
            cls = getattr(__import__(module), name)
        except (ImportError, AttributeError):
            continue
        if isinstance(client, cls):
            return True
    return type(client).__name__.startswith("Async")


class HeadroomClient:
    """An OpenAI / Anthropic SDK client that compresses requests, records savings and may cache responses.

    Parameters follow the configuration reference: ``original_client`` and ``provider`` are
    required; ``default_mode`` ("audit" unless ``config`` or ``HEADROOM_DEFAULT_MODE`` say
    otherwise), ``enable_cache_optimizer`` (provider cache hints, on unless ``config`` turns them
    off), ``enable_semantic_cache`` (off), ``model_context_limits`` (merged over the config's),
    ``store_url`` (the config's, a SQLite file under the workspace by default). ``config`` is a
    full :class:`HeadroomConfig`; the named arguments override its fields. The semantic cache
    keeps responses ``semantic_cache_ttl_seconds`` and matches near-duplicates only when
    ``semantic_cache_similarity_threshold`` is given; it holds at most ``semantic_cache_max_entries``
    responses (the oldest are evicted).
    """

    def __init__(
        self,
        original_client: Any,
        provider: Provider,
        default_mode: HeadroomMode | str | None = None,
        enable_cache_optimizer: bool | None = None,
        enable_semantic_cache: bool = False,
        model_context_limits: dict[str, int] | None = None,
        store_url: str | None = None,
        config: HeadroomConfig | None = None,
        *,
        semantic_cache_ttl_seconds: float = 3600.0,
        semantic_cache_similarity_threshold: float | None = None,
        semantic_cache_max_entries: int = 10_000,
    ) -> None:
        if not isinstance(provider, Provider):
            raise InvalidArgumentError(
                f"provider must be OpenAIProvider() or AnthropicProvider(), got {type(provider).__name__}"
            )
        if config is not None and not isinstance(config, HeadroomConfig):
            raise InvalidArgumentError(f"config must be a HeadroomConfig, got {type(config).__name__}")
        provider.check_client(original_client)
        self._original = original_client
        self.provider = provider
        self.is_async = _is_async_client(original_client)
        self.config = self._build_config(config, default_mode, enable_cache_optimizer, model_context_limits, store_url)
        self.store: CCRStore = get_store(self.config)
        self._registry = ModelRegistry.for_config(self.config)  # per-request overrides never change models or prices
        self.semantic_cache: SemanticCache | None = None
        if enable_semantic_cache:
            self.semantic_cache = SemanticCache(
                self.store.engine,
                ttl_seconds=semantic_cache_ttl_seconds,
                similarity_threshold=semantic_cache_similarity_threshold,
                max_entries=semantic_cache_max_entries,
            )
        self.last_record: RequestRecord | None = None
        """The figures of the most recent completed call (None before the first)."""
        self._lock = threading.Lock()
        self._session: dict[str, float] = {}
        from headroom.providers.namespaces import build_namespaces

        for name, namespace in build_namespaces(self).items():
            setattr(self, name, namespace)

    @staticmethod
    def _build_config(
        config: HeadroomConfig | None,
        default_mode: HeadroomMode | str | None,
        enable_cache_optimizer: bool | None,
        model_context_limits: dict[str, int] | None,
        store_url: str | None,
    ) -> HeadroomConfig:
        cfg = config if config is not None else HeadroomConfig()
        updates: dict[str, Any] = {}
        if default_mode is not None:
            updates["default_mode"] = parse_mode(default_mode, "HeadroomClient.default_mode")
        if model_context_limits:
            if not isinstance(model_context_limits, dict) or not all(
                isinstance(v, int) and v > 0 for v in model_context_limits.values()
            ):
                raise ConfigurationError(
                    "HeadroomClient.model_context_limits", model_context_limits, "a dict of model name -> positive int"
                )
            updates["model_context_limits"] = {**cfg.model_context_limits, **model_context_limits}
        if store_url is not None:
            if not isinstance(store_url, str) or not store_url:
                raise ConfigurationError("HeadroomClient.store_url", store_url, "a SQLAlchemy URL string")
            updates["store_url"] = store_url
        if enable_cache_optimizer is not None:
            updates["cache_optimizer"] = CacheOptimizerConfig(
                **{**cfg.cache_optimizer.model_dump(), "enabled": bool(enable_cache_optimizer)}
            )
        return cfg.model_copy(update=updates, deep=True) if updates else cfg

    def with_options(self, **options: Any) -> HeadroomClient:
        """The SDK's ``with_options`` (timeouts, retries, headers), still wrapped by Headroom.

        The copy shares this client's configuration, store and semantic cache; its session totals
        start at zero.
        """
        clone = HeadroomClient(self._original.with_options(**options), self.provider, config=self.config)
        clone.semantic_cache = self.semantic_cache
        return clone

    @property
    def original_client(self) -> Any:
        """The wrapped SDK client."""
        return self._original

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes HeadroomClient does not define: the original client's.
        if name.startswith("__") or name == "_original":
            raise AttributeError(name)
        return getattr(self._original, name)

    def __repr__(self) -> str:
        return (f"HeadroomClient({type(self._original).__name__}, {self.provider!r}, "
                f"default_mode={self.config.default_mode.value!r}, semantic_cache={self.semantic_cache is not None})")  # fmt: skip

    # -- preparing a request ---------------------------------------------------------------------
    def _prepare(self, kwargs: dict[str, Any], *, force_stream: bool = False) -> _Prepared:
        """Take out the overrides, check the budget, compress, place hints, look up the cache."""
        request, overrides, session_id = split_overrides(dict(kwargs))
        cfg = self.config.with_overrides(**overrides)
        mode = cfg.default_mode
        model = request.get("model")
        prep = _Prepared(cfg, mode, model if isinstance(model, str) else "", request,
                         stream=force_stream or bool(request.get("stream")))  # fmt: skip
        if mode is not HeadroomMode.SIMULATE:
            self._check_budget(cfg)
        compressed = compress_request(
            self.provider, request, config=cfg, mode=mode, store=self.store, session_id=session_id
        )
        core = compressed.core
        prep.result, prep.request, prep.hints = compressed.result, compressed.request, list(compressed.hints)
        prep.sent_original = compressed.sent_original
        if self.semantic_cache is not None and not prep.stream and core is not None:
            try:
                prep.cache_key = self.semantic_cache.key_for(
                    self.provider.name, prep.model, core, self.provider.tools_of(request), request
                )
                prep.cache_hit = self.semantic_cache.get(prep.cache_key, count_hit=mode is not HeadroomMode.SIMULATE)
            except Exception as exc:
                metrics.increment("errors.client.semantic_cache")
                log.warning("semantic cache lookup failed (%s: %s)", type(exc).__name__, exc)
        return prep

    def _check_budget(self, cfg: HeadroomConfig) -> None:
        if cfg.budget_usd is None:
            return
        spent = self.spent_today_usd()
        if spent >= cfg.budget_usd:
            raise BudgetExceededError(
                f"daily budget of ${cfg.budget_usd:.2f} (HEADROOM_BUDGET) is spent: ${spent:.4f} recorded since "
                "local midnight in the Headroom store; no request was sent"
            )

    def spent_today_usd(self) -> float:
        """US dollars recorded by HeadroomClient calls since local midnight (all clients of this store)."""
        return spent_today_usd(self.store)

    def _simulation(self, prep: _Prepared) -> SimulationResult:
        r = prep.result
        return SimulationResult(
            provider=self.provider.name,
            model=prep.model,
            transforms=tuple(r.transforms_applied) + tuple(prep.hints) if r else tuple(prep.hints),
            tokens_before=r.tokens_before if r else 0,
            tokens_after=r.tokens_after if r else 0,
            estimated_cost_before_usd=r.cost_before_usd if r else None,
            estimated_cost_after_usd=r.cost_after_usd if r else None,
            messages=list(prep.request.get("messages") or []),
            request=prep.request,
            cache_hints=tuple(prep.hints),
            semantic_cache_hit=prep.cache_hit is not None,
            compress_result=r,
        )

    # -- after the call ----------------------------------------------------------------------------
    def _finish(self, prep: _Prepared, usage: ProviderUsage | None, response: Any = None) -> RequestRecord:
        """Record the call's figures in the store and the session; store the response in the cache."""
        r = prep.result
        tokens_before = r.tokens_before if r else (usage.input_tokens if usage else 0)
        optimized = r.optimized_tokens if r and r.optimized_tokens is not None else tokens_before
        cache_hit = prep.cache_hit is not None and response is None
        sent_compressed = r is not None and not prep.sent_original
        tokens_after = 0 if cache_hit else (r.tokens_after if r is not None and sent_compressed else tokens_before)
        if usage is None and not cache_hit:
            usage = ProviderUsage(tokens_after, 0, estimated=True)
        registry = self._registry
        cost = 0.0 if cache_hit or usage is None else self.provider.cost(registry, prep.model, usage)
        cost_before = r.cost_before_usd if r else None
        cost_after = 0.0 if cache_hit else (r.cost_after_usd if r is not None and sent_compressed else cost_before)
        record = RequestRecord(
            provider=self.provider.name, model=prep.model, mode=prep.mode.value, tokens_before=tokens_before,
            tokens_after=tokens_after, optimized_tokens=optimized, usage=usage, cost_usd=cost,
            cost_before_usd=cost_before, cost_after_usd=cost_after, cache_hit=cache_hit, stream=prep.stream,
            transforms=tuple(r.transforms_applied) if r else (), cache_hints=tuple(prep.hints),
        )  # fmt: skip
        self.store.record_metrics(
            source=METRICS_SOURCE, model=prep.model, mode=prep.mode.value, tokens_before=tokens_before,
            tokens_after=tokens_after, cached_tokens=usage.cached_tokens if usage else 0,
            cost_before=cost_before, cost_after=cost_after,
            data={
                "provider": self.provider.name, "usage": usage.to_dict() if usage else None, "cost_usd": cost,
                "optimized_tokens": optimized, "potential_tokens_saved": tokens_before - optimized,
                "transforms": list(record.transforms), "cache_hints": list(prep.hints), "cache_hit": cache_hit,
                "cache_similarity": prep.cache_hit.similarity if prep.cache_hit else None, "stream": prep.stream,
                "compress_errors": r.errors if r else 1, "latency_ms": round((time.perf_counter() - prep.started) * 1000, 2),
            },
        )  # fmt: skip
        if response is not None and prep.cache_key is not None and self.semantic_cache is not None:
            try:
                self.semantic_cache.put(prep.cache_key, self.provider.response_to_json(response))
            except Exception as exc:
                metrics.increment("errors.client.semantic_cache")
                log.warning("could not store a response in the semantic cache (%s: %s)", type(exc).__name__, exc)
        self._count(record)
        self.last_record = record
        return record

    def _count(self, record: RequestRecord) -> None:
        with self._lock:
            s = self._session
            for key, value in (
                ("requests", 1), ("tokens_before", record.tokens_before), ("tokens_after", record.tokens_after),
                ("potential_tokens_saved", record.potential_tokens_saved),
                ("cached_tokens", record.usage.cached_tokens if record.usage else 0),
                ("cost_usd", record.cost_usd or 0.0), ("cache_hits", 1 if record.cache_hit else 0),
                ("cost_saved_usd", (record.cost_before_usd or 0.0) - (record.cost_after_usd or 0.0)),
            ):  # fmt: skip
                s[key] = s.get(key, 0) + value

    def _record(self, prep: _Prepared, response: Any = None) -> None:
        """``_finish`` for a completed call; bookkeeping failures are logged, never raised."""
        try:
            usage = self.provider.parse_usage(response) if response is not None else None
            self._finish(prep, usage, response)
        except Exception as exc:  # the caller already has a good response: do not lose it
            metrics.increment("errors.client.metrics")
            log.warning("could not record this call's metrics (%s: %s)", type(exc).__name__, exc)

    def _finish_stream(self, prep: _Prepared) -> Any:
        def done(tracker: StreamUsageTracker) -> None:
            estimate = prep.result.tokens_after if prep.result else 0
            self._finish(prep, tracker.usage(estimate, prep.model))

        return done

    # -- the calls (used by the namespaces in headroom.providers.namespaces) ------------------------
    def _call(self, create: Any, kwargs: dict[str, Any]) -> Any:
        prep = self._prepare(kwargs)
        if prep.mode is HeadroomMode.SIMULATE:
            return self._simulation(prep)
        if prep.cache_hit is not None:
            response = self.provider.response_from_json(prep.cache_hit.response)
            self._record(prep, None)
            return response
        response = create(**prep.request)
        if prep.stream:
            return SyncStreamProxy(response, self.provider.stream_tracker(), self._finish_stream(prep))
        self._record(prep, response=response)
        return response

    async def _acall(self, create: Any, kwargs: dict[str, Any]) -> Any:
        prep = await asyncio.to_thread(self._prepare, kwargs)
        if prep.mode is HeadroomMode.SIMULATE:
            return self._simulation(prep)
        if prep.cache_hit is not None:
            response = self.provider.response_from_json(prep.cache_hit.response)
            await asyncio.to_thread(self._record, prep, None)
            return response
        response = await create(**prep.request)
        if prep.stream:
            return AsyncStreamProxy(response, self.provider.stream_tracker(), self._finish_stream(prep))
        await asyncio.to_thread(self._record, prep, response=response)
        return response

    def _stream_manager(self, open_stream: Any, kwargs: dict[str, Any]) -> Any:
        """A stream helper (``messages.stream(...)``) whose request is prepared on entering ``with``."""
        holder: dict[str, _Prepared] = {}

        def _checked(prep: _Prepared) -> _Prepared:
            if prep.mode is HeadroomMode.SIMULATE:
                raise InvalidArgumentError("simulate mode returns a plan, not a stream: call create() instead")
            holder["prep"] = prep
            return prep

        def open_sync() -> Any:
            return open_stream(**_checked(self._prepare(kwargs, force_stream=True)).request)

        async def open_async() -> Any:
            prep = _checked(await asyncio.to_thread(self._prepare, kwargs, force_stream=True))
            return open_stream(**prep.request)

        def read_usage(stream: Any) -> ProviderUsage | None:
            snapshot = getattr(stream, "current_message_snapshot", None) or getattr(
                stream, "current_completion_snapshot", None
            )
            return self.provider.parse_usage(snapshot) if snapshot is not None else None

        def estimate(prompt_tokens: int, model: str) -> ProviderUsage:
            return ProviderUsage(prompt_tokens, 0, estimated=True)

        def done(tracker: StreamUsageTracker) -> None:
            if "prep" in holder:
                self._finish_stream(holder["prep"])(tracker)

        return StreamManagerProxy(open_async if self.is_async else open_sync, read_usage, estimate, done)

    # -- stats ---------------------------------------------------------------------------------------
    def get_stats(self, *, recent: int = 20) -> dict[str, Any]:
        """Savings of this client (``session``), of every HeadroomClient call in the store
        (``persisted``), the store's totals (``store``), the semantic cache, and the last calls."""
        persisted, rows = persisted_totals(self.store)
        with self._lock:
            session = dict(self._session)
        session.setdefault("requests", 0)
        session["tokens_saved"] = session.get("tokens_before", 0) - session.get("tokens_after", 0)
        return {
            "session": session,
            "persisted": persisted,
            "store": self.store.stats(),
            "semantic_cache": self.semantic_cache.stats() if self.semantic_cache else None,
            "recent": rows[:recent],
        }
