"""The pipeline: cache alignment -> content compression -> context fitting -> provider cache hints.

One function, :func:`run_pipeline`, runs the stages in order on a copy of the messages and
returns a :class:`CompressResult`. Each stage lives in its own module; this one only sequences
them, measures, and fails open: an error in any stage leaves that stage's input unchanged.

Cache mode (``optimization_mode="cache"``) adds prefix freezing around the stages: the input
messages an earlier request of the same conversation already sent are replaced by exactly what
was sent for them, and only the new messages are compressed.
"""

from __future__ import annotations

import difflib
import logging
import time
from dataclasses import dataclass
from typing import Any

from headroom import metrics
from headroom.ccr.retrieval import RETRIEVE_TOOL_NAME
from headroom.compressors.base import CompressionContext
from headroom.compressors.router import compress_content
from headroom.config import HeadroomConfig, HeadroomMode
from headroom.extensions import run_extensions
from headroom.messages import copy_messages, iter_text_slots, last_user_index, question_for, validate_messages
from headroom.models import ModelRegistry
from headroom.result import CompressResult, ContentReport, LazyMapping, TokenFigures
from headroom.tokens import get_counter

__all__ = ["ContentTiming", "run_pipeline"]

log = logging.getLogger("headroom.pipeline")

_COMPRESSIBLE_ROLES = frozenset({"tool", "function", "user", "assistant"})


@dataclass(frozen=True)
class ContentTiming:
    """Time spent on one piece of content in the content stage (reported in ``extras["content_timings"]``)."""

    message_index: int
    cache_hit: bool
    """True when the router's result cache already held the outcome (content seen before)."""
    ms: float


def _compress_contents(
    messages: list[dict[str, Any]],
    config: HeadroomConfig,
    *,
    model: str,
    query: str | None,
    store: Any,
    persist: bool,
    frozen_count: int,
    timings: list[ContentTiming] | None = None,
) -> tuple[list[ContentReport], list[str], int]:
    """Stage 2: replace each compressible text by its compressed form, in place.

    Each tool output is judged against the question that led to it (``question_for``), unless
    ``query`` overrides it. Messages before ``frozen_count`` and the last user message are kept.
    """
    counter = get_counter(model)
    reports: list[ContentReport] = []
    reasons: list[str] = []
    errors = 0
    last_user = last_user_index(messages)
    for slot in list(iter_text_slots(messages, _COMPRESSIBLE_ROLES)):
        i = slot.message_index
        role = messages[i].get("role")
        if i < frozen_count or i == last_user:
            continue  # the question itself and turns frozen by cache mode are never rewritten
        if role in ("user", "assistant") and len(slot.text) < 2000:
            continue
        if slot.tool_name == RETRIEVE_TOOL_NAME:
            continue  # what the model asked to get back must reach it whole
        if config.skips_tool(slot.tool_name):
            reasons.append(f"messages[{i}]: tool {slot.tool_name!r} has skip_compression")
            continue
        started = time.perf_counter()
        crusher = config.crusher_for_tool(slot.tool_name)
        ctx = CompressionContext(
            config=config,
            counter=counter,
            query=query if query is not None else question_for(messages, i),
            tool_name=slot.tool_name,
            crusher=crusher,
            store=store,
            persist=persist,
            lossless_only=crusher.lossless_only or not config.ccr.enabled,
        )
        out, kind, reason, hit = compress_content(slot.text, ctx)
        try:
            if out is None:
                if "error" in reason:
                    errors += 1
                if reason and kind.value not in ("empty",):
                    reasons.append(f"messages[{i}]: {reason}")
                continue
            # Length decides here; exact tokens are counted only when the report is read.
            if len(out.text) >= len(slot.text):
                reasons.append(f"messages[{i}]: {out.transform} would not make it smaller; kept original")
                continue
            slot.write(messages[i], out.text)
            reports.append(
                ContentReport(i, slot.tool_name, out.transform, slot.text, out.text, counter, out.ccr_key, out.details)
            )
        finally:
            if timings is not None:
                timings.append(ContentTiming(i, hit, (time.perf_counter() - started) * 1000))
    return reports, reasons, errors


def run_pipeline(
    messages: list[dict[str, Any]],
    *,
    model: str,
    config: HeadroomConfig,
    mode: HeadroomMode,
    query: str | None = None,
    store: Any = None,
    session_id: str | None = None,
) -> CompressResult:
    """Run every stage on a copy of ``messages`` and report what it did (see module docs)."""
    from headroom.conversation import cache_aligner, cache_hints, fitting, prefix_freeze
    from headroom.conversation.session import derive_session_id

    started = time.perf_counter()
    notes = validate_messages(messages)
    counter = get_counter(model)
    registry = ModelRegistry.for_config(config)
    provider = registry.get(model).provider
    original = copy_messages(messages)
    work = copy_messages(messages)
    persist = mode is not HeadroomMode.SIMULATE
    transforms: list[str] = []
    reports: list[ContentReport] = []
    timings: list[ContentTiming] = []
    errors = 0
    extras: dict[str, Any] = {}
    diffs: list[str] = []
    dropped = 0
    fit_keys: tuple[str, ...] = ()

    def stage(name: str, fn: Any) -> None:
        nonlocal work, errors
        before = work
        try:
            work = fn(copy_messages(work))
        except Exception as exc:  # fail open per stage
            errors += 1
            metrics.increment(f"errors.pipeline.{name}")
            log.exception("pipeline stage %s failed; its input is kept", name)
            notes.append(f"{name} error ({type(exc).__name__}: {exc}); stage skipped")
            work = before
            return
        if config.generate_diff_artifact and work != before:
            diffs.append(_diff(name, before, work))

    aligner = config.cache_aligner

    def system_head(message: dict[str, Any]) -> dict[str, Any]:
        """A system message as the aligner leaves it, without its dynamic tail (stable across requests)."""
        content = message.get("content")
        if not aligner.enabled or not isinstance(content, str):
            return message
        aligned, _ = cache_aligner.align_text(content, aligner)
        return {**message, "content": aligned.partition(aligner.dynamic_tail_separator)[0]}

    session_key = derive_session_id([system_head(m) for m in messages[:8]], session_id)
    extras["session_id"] = session_key

    cache_mode = config.optimization_mode == "cache" and config.prefix_freeze.enabled
    frozen = prefix_freeze.FrozenPrefix()
    digests: tuple[str, ...] = ()
    if cache_mode:
        try:
            digests = prefix_freeze.input_digests(messages, system_head if aligner.enabled else None)
            frozen = prefix_freeze.lookup(digests, session_key=session_key, config=config.prefix_freeze)
        except Exception as exc:  # fail open: compress as in token mode
            errors += 1
            metrics.increment("errors.pipeline.prefix_freeze")
            log.exception("prefix freeze lookup failed; nothing frozen")
            notes.append(f"prefix_freeze error ({type(exc).__name__}: {exc}); nothing frozen")
    frozen_count = frozen.input_count

    if aligner.enabled:

        def _align(msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
            out, applied = cache_aligner.align_system_messages(msgs, aligner)
            transforms.extend(applied)
            return out

        stage("cache_aligner", _align)

    store_for_content = store if config.ccr.enabled else None

    def _contents(msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal errors
        got, reasons, errs = _compress_contents(
            msgs,
            config,
            model=model,
            query=query,
            store=store_for_content,
            persist=persist,
            frozen_count=frozen_count,
            timings=timings,
        )
        reports.extend(got)
        notes.extend(reasons)
        errors += errs
        transforms.extend(r.transform for r in got)
        return msgs

    stage("content", _contents)

    if config.discover_pipeline_extensions:

        def _extensions(msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
            out, applied = run_extensions(msgs, model=model, config=config)
            transforms.extend(applied)
            return out

        stage("extensions", _extensions)

    if frozen_count:
        stage("prefix_freeze", lambda msgs: prefix_freeze.replay(msgs, frozen))
        transforms.append(f"prefix_freeze:replayed:{len(frozen.messages)}")

    window = registry.context_window(model)
    limit = window - config.output_buffer_tokens
    target = limit - int(window * config.prefix_freeze.refit_free_fraction) if cache_mode else limit

    def _fit(msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal dropped, fit_keys
        fitted = fitting.fit_to_window(
            msgs,
            limit=limit,
            target=max(target, 0),
            counter=counter,
            keep_turns=config.keep_turns,
            store=store_for_content,
            persist=persist,
        )
        dropped = fitted.dropped_messages
        fit_keys = fitted.ccr_keys
        transforms.extend(fitted.transforms)
        extras["fitting"] = fitted.report
        return fitted.messages

    stage("fitting", _fit)

    if cache_mode and mode is HeadroomMode.OPTIMIZE:
        try:
            held = prefix_freeze.remember(
                digests, work, session_key=session_key, frozen=frozen, config=config.prefix_freeze
            )
            extras["prefix_freeze"] = {"frozen_input_messages": frozen_count, "prefix_held": held}
            if not held:
                metrics.increment("prefix_freeze.broken")
                notes.append(
                    "prefix_freeze: the window overflowed, earlier turns were cut (the cached prefix changes once)"
                )
        except Exception as exc:
            errors += 1
            metrics.increment("errors.pipeline.prefix_freeze")
            log.exception("prefix freeze could not remember this request")
            notes.append(f"prefix_freeze error ({type(exc).__name__}: {exc})")

    if config.cache_optimizer.enabled:

        def _hints(msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
            hinted = cache_hints.apply_cache_hints(
                msgs,
                provider=provider,
                config=config.cache_optimizer,
                counter=counter,
                session_key=f"{model}|{session_key}",
            )
            transforms.extend(hinted.transforms)
            return hinted.messages

        stage("cache_hints", _hints)

    to_send = original if mode is HeadroomMode.AUDIT else work
    observation = None
    if config.cache_optimizer.enabled:
        try:
            observation = cache_hints.observe_request(
                to_send,
                provider=provider,
                session_key=f"{model}|{session_key}",
                record=persist,
                max_sessions=config.prefix_freeze.max_sessions,
            )
        except Exception as exc:
            errors += 1
            metrics.increment("errors.pipeline.cache_estimate")
            log.exception("cache observation failed; cached tokens reported as 0")
            notes.append(f"cache estimate error ({type(exc).__name__}: {exc})")

    def _cache_report() -> dict[str, Any]:
        assert observation is not None
        try:
            estimate = observation.estimate(counter)
        except Exception as exc:  # accounting only: report nothing cached rather than fail the caller
            metrics.increment("errors.pipeline.cache_estimate")
            log.exception("cached-token estimate failed; reported as 0")
            return {"provider": provider, "cached_tokens": 0, "uncached_tokens": None, "error": repr(exc)}
        metrics.increment("cache.cached_tokens", estimate.cached_tokens)
        metrics.increment("cache.uncached_tokens", estimate.uncached_tokens)
        return {
            "provider": provider,
            "cached_tokens": estimate.cached_tokens,
            "uncached_tokens": estimate.uncached_tokens,
            "common_prefix_messages": estimate.common_prefix_messages,
            **estimate.details,
        }

    cache_report = LazyMapping(_cache_report) if observation is not None else None
    if cache_report is not None:
        extras["cache"] = cache_report
    figures = TokenFigures(
        counter=counter,
        original=original,
        optimized=work,
        audit=mode is HeadroomMode.AUDIT,
        cost=lambda tokens, cached: registry.cost(model, tokens, cached_input_tokens=cached),
        cached=(lambda: int(cache_report["cached_tokens"])) if cache_report is not None else None,
    )
    extras["content_timings"] = tuple(timings)
    metrics.increment("compress.calls")
    metrics.increment("compress.errors", errors)
    return CompressResult(
        messages=to_send,
        figures=figures,
        mode=mode.value,
        model=model,
        transforms_applied=tuple(transforms),
        ccr_keys=tuple(dict.fromkeys([*(r.ccr_key for r in reports if r.ccr_key), *fit_keys])),
        reports=tuple(reports),
        passthrough_reasons=tuple(notes),
        errors=errors,
        dropped_messages=dropped,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        exact_tokens=counter.exact,
        diff_artifacts=tuple(diffs),
        extras=extras,
        model_info=registry.get(model),
    )


def _diff(stage: str, before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    import json

    a = json.dumps(before, indent=1, ensure_ascii=False, default=str).splitlines()
    b = json.dumps(after, indent=1, ensure_ascii=False, default=str).splitlines()
    return "\n".join(difflib.unified_diff(a, b, f"{stage}:before", f"{stage}:after", lineterm="", n=1))
