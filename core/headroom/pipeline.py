"""The pipeline: cache alignment -> content compression -> context fitting -> provider cache hints.

One function, :func:`run_pipeline`, runs the stages in order on a copy of the messages and
returns a :class:`CompressResult`. Each stage lives in its own module; this one only sequences
them, measures, and fails open: an error in any stage leaves that stage's input unchanged.
"""

from __future__ import annotations

import difflib
import logging
import time
from typing import Any

from headroom import metrics
from headroom.compressors.base import CompressionContext
from headroom.compressors.router import compress_content
from headroom.config import HeadroomConfig, HeadroomMode
from headroom.extensions import run_extensions
from headroom.messages import copy_messages, iter_text_slots, last_user_index, question_for, validate_messages
from headroom.models import ModelRegistry
from headroom.result import CompressResult, ContentReport
from headroom.tokens import get_counter

__all__ = ["run_pipeline"]

log = logging.getLogger("headroom.pipeline")

_COMPRESSIBLE_ROLES = frozenset({"tool", "function", "user", "assistant"})


def _registry_for(config: HeadroomConfig) -> ModelRegistry:
    return ModelRegistry(
        config_dir=config.config_dir,
        limits_source=config.model_limits_source,
        context_limits=config.model_context_limits,
    )


def _compress_contents(
    messages: list[dict[str, Any]],
    config: HeadroomConfig,
    *,
    model: str,
    query: str | None,
    store: Any,
    persist: bool,
    frozen_count: int,
) -> tuple[list[ContentReport], list[str], int]:
    """Stage 2: replace each compressible text by its compressed form, in place."""
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
        if config.skips_tool(slot.tool_name):
            reasons.append(f"messages[{i}]: tool {slot.tool_name!r} has skip_compression")
            continue
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
        out, kind, reason, _hit = compress_content(slot.text, ctx)
        if out is None:
            if "error" in reason:
                errors += 1
            if reason and kind.value not in ("empty",):
                reasons.append(f"messages[{i}]: {reason}")
            continue
        before, after = counter.count(slot.text), counter.count(out.text)
        if after >= before:
            reasons.append(f"messages[{i}]: {out.transform} would not save tokens; kept original")
            continue
        slot.write(messages[i], out.text)
        reports.append(ContentReport(i, slot.tool_name, out.transform, before, after, out.ccr_key, out.details))
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
    started = time.perf_counter()
    notes = validate_messages(messages)
    counter = get_counter(model)
    registry = _registry_for(config)
    original = copy_messages(messages)
    work = copy_messages(messages)
    persist = mode is not HeadroomMode.SIMULATE
    transforms: list[str] = []
    reports: list[ContentReport] = []
    errors = 0
    extras: dict[str, Any] = {}
    diffs: list[str] = []
    dropped = 0
    cached_tokens = 0

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

    from headroom.conversation import cache_aligner, cache_hints, fitting, prefix_freeze

    frozen_count = 0
    if config.optimization_mode == "cache" and config.prefix_freeze.enabled:
        frozen_count = prefix_freeze.frozen_prefix_length(work, session_id=session_id, config=config)

    if config.cache_aligner.enabled:
        def _align(msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
            out, applied = cache_aligner.align_system_messages(msgs, config.cache_aligner, frozen_count=frozen_count)
            transforms.extend(applied)
            return out
        stage("cache_aligner", _align)

    store_for_content = store if config.ccr.enabled else None

    def _contents(msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal errors
        got, reasons, errs = _compress_contents(
            msgs, config, model=model, query=query, store=store_for_content, persist=persist, frozen_count=frozen_count
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

    limit = registry.context_window(model) - config.output_buffer_tokens

    def _fit(msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal dropped
        fitted = fitting.fit_to_window(
            msgs, limit=limit, counter=counter, keep_turns=config.keep_turns,
            store=store_for_content, persist=persist, frozen_count=frozen_count,
        )
        dropped = fitted.dropped_messages
        transforms.extend(fitted.transforms)
        extras["fitting"] = fitted.report
        return fitted.messages

    stage("fitting", _fit)

    if config.cache_optimizer.enabled:
        def _hints(msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
            nonlocal cached_tokens
            hinted = cache_hints.apply_cache_hints(
                msgs, model=model, provider=registry.get(model).provider, config=config.cache_optimizer,
                counter=counter, session_id=session_id,
            )
            cached_tokens = hinted.expected_cached_tokens
            transforms.extend(hinted.transforms)
            return hinted.messages
        stage("cache_hints", _hints)

    if config.optimization_mode == "cache" and config.prefix_freeze.enabled and persist:
        prefix_freeze.remember_sent(work, session_id=session_id, config=config)

    tokens_before = counter.count_messages(original)
    optimized = counter.count_messages(work)
    to_send = original if mode is HeadroomMode.AUDIT else work
    tokens_after = tokens_before if mode is HeadroomMode.AUDIT else optimized
    cost_before = registry.cost(model, tokens_before)
    cost_after = registry.cost(model, tokens_after, cached_input_tokens=min(cached_tokens, tokens_after))
    metrics.increment("compress.calls")
    metrics.increment("compress.errors", errors)
    return CompressResult(
        messages=to_send,
        tokens_before=tokens_before,
        tokens_after=tokens_after,
        mode=mode.value,
        model=model,
        transforms_applied=tuple(transforms),
        ccr_keys=tuple(dict.fromkeys(r.ccr_key for r in reports if r.ccr_key).keys())
        + tuple(k for k in extras.get("fitting", {}).get("ccr_keys", ()) if k),
        optimized_tokens=optimized,
        cost_before_usd=cost_before,
        cost_after_usd=cost_after,
        cached_tokens=cached_tokens,
        reports=tuple(reports),
        passthrough_reasons=tuple(notes),
        errors=errors,
        dropped_messages=dropped,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        exact_tokens=counter.exact,
        diff_artifacts=tuple(diffs),
        extras=extras,
    )


def _diff(stage: str, before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    import json

    a = json.dumps(before, indent=1, ensure_ascii=False, default=str).splitlines()
    b = json.dumps(after, indent=1, ensure_ascii=False, default=str).splitlines()
    return "\n".join(difflib.unified_diff(a, b, f"{stage}:before", f"{stage}:after", lineterm="", n=1))
