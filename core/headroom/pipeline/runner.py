"""The pipeline's order of stages, and the runner that applies them to one request.

``STAGES`` is the one place to read the flow. Each stage is a small class in its own module under
:mod:`headroom.pipeline.stages`; the runner gives a stage that rewrites messages its own copy and,
when the stage raises, keeps that stage's input (fail open: the error is logged, counted and noted
in the result), so one broken stage never costs the caller a request.
"""

from __future__ import annotations

import difflib
import json
import logging
import time
from typing import Any

from headroom import metrics
from headroom.config import HeadroomConfig, HeadroomMode
from headroom.conversation.cache_aligner import system_head
from headroom.conversation.session import derive_session_id
from headroom.messages import copy_messages, validate_messages
from headroom.models import ModelRegistry
from headroom.pipeline.context import RequestContext
from headroom.pipeline.stages import Stage
from headroom.pipeline.stages.alignment import CacheAlignment
from headroom.pipeline.stages.cache_hints import CacheHints
from headroom.pipeline.stages.cache_observation import CacheObservation
from headroom.pipeline.stages.content import ContentCompression
from headroom.pipeline.stages.extensions import Extensions
from headroom.pipeline.stages.fitting import ContextFitting
from headroom.pipeline.stages.prefix_lookup import FrozenPrefixLookup
from headroom.pipeline.stages.prefix_replay import FrozenPrefixReplay
from headroom.result import CompressResult, TokenFigures
from headroom.tokens import get_counter

__all__ = ["STAGES", "run_pipeline", "run_stages"]

log = logging.getLogger("headroom.pipeline")

STAGES: tuple[Stage, ...] = (
    FrozenPrefixLookup(),  # cache mode: which leading messages an earlier request already compressed
    CacheAlignment(),  # system prompts: dynamic values to a tail, a byte-stable head
    ContentCompression(),  # each tool output / long text through the content router
    Extensions(),  # transforms other packages registered
    FrozenPrefixReplay(),  # cache mode: frozen messages in the form first sent; remember this request's forms
    ContextFitting(),  # fit the window; compact once to the low-water mark when it overflows
    CacheHints(),  # provider cache breakpoints
    CacheObservation(),  # expected cached tokens, compared with the conversation's previous request
)


def run_stages(ctx: RequestContext, stages: tuple[Stage, ...] = STAGES) -> RequestContext:
    """Apply ``stages`` in order to ``ctx`` (each fails open on its own) and return it."""
    for stage in stages:
        if not stage.applies(ctx):
            continue
        before = ctx.messages
        if stage.rewrites:
            ctx.messages = copy_messages(before)
        try:
            stage.run(ctx)
        except Exception as exc:  # fail open per stage
            ctx.errors += 1
            metrics.increment(f"errors.pipeline.{stage.name}")
            log.exception("pipeline stage %s failed; its input is kept", stage.name)
            ctx.notes.append(f"{stage.name} error ({type(exc).__name__}: {exc}); stage skipped")
            ctx.messages = before
            continue
        if ctx.config.generate_diff_artifact and stage.rewrites and ctx.messages != before:
            ctx.diffs.append(_diff(stage.name, before, ctx.messages))
    return ctx


def run_pipeline(
    messages: list[dict[str, Any]],
    *,
    model: str,
    config: HeadroomConfig,
    mode: HeadroomMode,
    query: str | None = None,
    store: Any = None,
    session_id: str | None = None,
    store_unavailable: str | None = None,
) -> CompressResult:
    """Run every stage on a copy of ``messages`` and report what it did (see module docs).

    ``store_unavailable`` says why the CCR store could not be opened: then nothing may be dropped
    that could not be retrieved, so only lossless compression runs and context fitting is skipped
    (the original conversation goes out, as fail-open promises), and the result's notes say so.
    """
    started = time.perf_counter()
    notes = validate_messages(messages)
    counter = get_counter(model)
    registry = ModelRegistry.for_config(config)
    original = copy_messages(messages)  # refuses messages nested too deep or containing themselves
    aligner = config.cache_aligner
    session_key = derive_session_id([system_head(m, aligner) for m in original[:8]], session_id)
    ctx = RequestContext(
        original=original,
        messages=copy_messages(original),
        model=model,
        config=config,
        mode=mode,
        counter=counter,
        registry=registry,
        provider=registry.get(model).provider,
        session_key=session_key,
        query=query,
        store=store if config.ccr.enabled else None,
        notes=notes,
    )
    ctx.extras["session_id"] = session_key
    if store_unavailable:
        ctx.state["store_unavailable"] = True
        ctx.notes.append(
            f"the CCR store is unavailable ({store_unavailable}): compressed losslessly, nothing dropped or fitted"
        )
    run_stages(ctx)
    return _result(ctx, started)


def _result(ctx: RequestContext, started: float) -> CompressResult:
    cache_report = ctx.extras.get("cache")
    model, registry = ctx.model, ctx.registry
    figures = TokenFigures(
        counter=ctx.counter,
        original=ctx.original,
        optimized=ctx.messages,
        audit=ctx.mode is HeadroomMode.AUDIT,
        cost=lambda tokens, cached: registry.cost(model, tokens, cached_input_tokens=cached),
        cached=(lambda: int(cache_report["cached_tokens"])) if cache_report is not None else None,
    )
    ctx.extras["content_timings"] = tuple(ctx.timings)
    metrics.increment("compress.calls")
    metrics.increment("compress.errors", ctx.errors)
    keys = [*(r.ccr_key for r in ctx.reports if r.ccr_key), *ctx.ccr_keys]
    return CompressResult(
        messages=ctx.to_send,
        figures=figures,
        mode=ctx.mode.value,
        model=model,
        transforms_applied=tuple(ctx.transforms),
        ccr_keys=tuple(dict.fromkeys(keys)),
        reports=tuple(ctx.reports),
        passthrough_reasons=tuple(ctx.notes),
        errors=ctx.errors,
        dropped_messages=ctx.dropped_messages,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        exact_tokens=ctx.counter.exact,
        diff_artifacts=tuple(ctx.diffs),
        extras=ctx.extras,
        model_info=registry.get(model),
    )


def _diff(stage: str, before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    a = json.dumps(before, indent=1, ensure_ascii=False, default=str).splitlines()
    b = json.dumps(after, indent=1, ensure_ascii=False, default=str).splitlines()
    return "\n".join(difflib.unified_diff(a, b, f"{stage}:before", f"{stage}:after", lineterm="", n=1))
