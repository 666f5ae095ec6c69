"""Compress one standalone text: a retrieved chunk, a document, a tool output outside a chat.

Integrations call :func:`compress_text` for content that is not part of a chat request
(LlamaIndex nodes, LangChain documents). The text goes through the same content router as the
pipeline (JSON crushed, logs templated, prose de-duplicated, each judged against ``query``).
When ``max_tokens`` is given and the result is still larger, :func:`fit_text` trims it: the
units the query names (JSON items, lines) first, then the beginning, kept in their original
order, followed by a marker naming the CCR key under which the untrimmed text is stored.

    >>> from headroom.text import compress_text
    >>> result = compress_text("a short note", query="note")
    >>> result.text, result.changed
    ('a short note', False)
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from headroom import metrics
from headroom.ccr.retrieval import RETRIEVE_TOOL_NAME
from headroom.ccr.store import ccr_key, get_store
from headroom.compressors.base import CompressionContext
from headroom.compressors.router import compress_content
from headroom.config import HeadroomConfig
from headroom.errors import HeadroomError, InvalidArgumentError
from headroom.relevance import BM25, query_identifiers
from headroom.tokens import TokenCounter, get_counter

__all__ = ["TextCompressResult", "compress_text", "fit_text", "open_store"]

log = logging.getLogger("headroom.text")

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WINDOW_CHARS = 400
_MIN_UNITS = 4


@dataclass(frozen=True)
class TextCompressResult:
    """What :func:`compress_text` or :func:`fit_text` did to one text.

    The token counts are exact and counted when first read (then kept): compressing does not
    need them, and tokenizing a large tool output costs more than compressing it.
    """

    text: str
    """The text to use: compressed or trimmed, or the input itself when nothing was gained."""
    source: str = field(repr=False)
    """The text that was given (what ``tokens_before`` counts)."""
    counter: TokenCounter = field(repr=False, compare=False)
    transforms: tuple[str, ...] = ()
    """What was applied, e.g. ``("smart_crusher:lossy", "trim:json_items")``; empty when unchanged."""
    ccr_keys: tuple[str, ...] = ()
    """Keys under which omitted originals are stored (``headroom.retrieve(key)`` returns them)."""
    passthrough_reason: str = ""
    """Why the text was left unchanged or not trimmed to ``max_tokens`` (empty when it was)."""
    errors: int = 0
    """Internal errors this call failed open on."""

    @property
    def tokens_before(self) -> int:
        return self.counter.count(self.source)

    @property
    def tokens_after(self) -> int:
        return self.counter.count(self.text)

    @property
    def changed(self) -> bool:
        """True when ``text`` differs from the input."""
        return bool(self.transforms)

    @property
    def tokens_saved(self) -> int:
        return self.tokens_before - self.tokens_after


def _fits(text: str, max_tokens: int, counter: TokenCounter) -> bool:
    """``text`` is at most ``max_tokens`` tokens (a text whose upper bound fits is not tokenized)."""
    return counter.upper_bound(text) <= max_tokens or counter.count(text) <= max_tokens


def open_store(config: HeadroomConfig) -> Any:
    """The CCR store for ``config``, or None when CCR is off or the store cannot be opened (logged, counted)."""
    if not config.ccr.enabled:
        return None
    try:
        return get_store(config)
    except HeadroomError as exc:
        metrics.increment("errors.text.store")
        log.warning("CCR store unavailable (%s); only lossless compression will run", exc)
        return None


def compress_text(
    text: str,
    *,
    query: str = "",
    model: str = "gpt-4o",
    config: HeadroomConfig | None = None,
    max_tokens: int | None = None,
    tool_name: str | None = None,
) -> TextCompressResult:
    """Compress ``text`` with the content router, then trim it to ``max_tokens`` when given.

    Never raises for content: an internal error leaves the text unchanged and is logged and
    counted. Raises :class:`InvalidArgumentError` for arguments of the wrong type.
    """
    _check_args(text, query, max_tokens)
    cfg = config or HeadroomConfig()
    counter = get_counter(model)
    store = open_store(cfg)
    if cfg.skips_tool(tool_name) or tool_name == RETRIEVE_TOOL_NAME:
        return TextCompressResult(text, text, counter, passthrough_reason=f"tool {tool_name!r} is not compressed")
    current, transforms, keys, reason, errors = text, [], [], "", 0
    crusher = cfg.crusher_for_tool(tool_name)
    ctx = CompressionContext(
        config=cfg,
        counter=counter,
        query=query,
        tool_name=tool_name,
        crusher=crusher,
        store=store,
        persist=True,
        lossless_only=crusher.lossless_only or store is None,
    )
    try:
        out, _kind, reason, _hit = compress_content(text, ctx)
    except Exception as exc:  # the router fails open itself; this guards its own bookkeeping
        metrics.increment("errors.text.router")
        log.exception("content router failed; text passed through")
        out, reason, errors = None, f"router error ({type(exc).__name__}: {exc})", 1
    if out is not None:
        # Length decides, as in the pipeline: exact tokens are counted only when the result is read.
        if len(out.text) < len(text):
            current = out.text
            transforms.append(out.transform)
            if out.ccr_key:
                keys.append(out.ccr_key)
        else:
            reason = f"{out.transform} would not make it smaller; kept original"
    metrics.increment("text.calls")
    if max_tokens is not None and not _fits(current, max_tokens, counter):
        fitted = _fit(current, max_tokens, query=query, counter=counter, ctx=ctx, original=text)
        if fitted.changed:
            current = fitted.text
            transforms.extend(fitted.transforms)
            keys.extend(k for k in fitted.ccr_keys if k not in keys)
        reason = fitted.passthrough_reason or reason
        errors += fitted.errors
    return TextCompressResult(
        text=current,
        source=text,
        counter=counter,
        transforms=tuple(transforms),
        ccr_keys=tuple(keys),
        passthrough_reason="" if transforms and not reason.startswith("cannot") else reason,
        errors=errors,
    )


def fit_text(
    text: str,
    max_tokens: int,
    *,
    query: str = "",
    model: str = "gpt-4o",
    config: HeadroomConfig | None = None,
    original: str | None = None,
) -> TextCompressResult:
    """Trim ``text`` to at most ``max_tokens``, keeping what ``query`` names; the original goes to CCR.

    ``original`` is the text ``text`` was compressed from, if it was: then the marker names the
    original's key, so one key always restores what the source held (not an intermediate form).

    JSON (an array, or an object holding one) keeps whole items and stays valid JSON before the
    marker line; other text keeps whole lines (sentences or fixed windows for one long line).
    Without a CCR store (``ccr.enabled=False``) nothing may be dropped and the text is returned
    unchanged with a ``passthrough_reason``.
    """
    _check_args(text, query, max_tokens)
    cfg = config or HeadroomConfig()
    counter = get_counter(model)
    store = open_store(cfg)
    ctx = CompressionContext(config=cfg, counter=counter, query=query, store=store, lossless_only=store is None)
    return _fit(text, max_tokens, query=query, counter=counter, ctx=ctx, original=original)


def _check_args(text: object, query: object, max_tokens: object) -> None:
    if not isinstance(text, str):
        raise InvalidArgumentError(f"text must be a string, got {type(text).__name__}")
    if not isinstance(query, str):
        raise InvalidArgumentError(f"query must be a string, got {type(query).__name__}")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0):
        raise InvalidArgumentError(f"max_tokens must be a non-negative int or None, got {max_tokens!r}")


def _fit(
    text: str,
    max_tokens: int,
    *,
    query: str,
    counter: TokenCounter,
    ctx: CompressionContext,
    original: str | None = None,
) -> TextCompressResult:
    if _fits(text, max_tokens, counter):
        return TextCompressResult(text, text, counter)
    if ctx.lossless_only:
        return TextCompressResult(
            text, text, counter, passthrough_reason="cannot trim: CCR is disabled, so nothing may be dropped"
        )
    try:
        source = original if original is not None else text
        trimmed = _trim(text, max_tokens, query=query, counter=counter, key=ccr_key(source))
        if trimmed is None:
            return TextCompressResult(
                text, text, counter, passthrough_reason=f"cannot trim: no part of the text fits in {max_tokens} tokens"
            )
        key = ctx.store_original(source, "text", {"trimmed_to_tokens": max_tokens})
    except Exception as exc:  # fail open: the untrimmed text is still correct, only larger
        metrics.increment("errors.text.trim")
        log.exception("trimming a text to %d tokens failed; kept it whole", max_tokens)
        return TextCompressResult(
            text, text, counter, passthrough_reason=f"trim error ({type(exc).__name__}: {exc})", errors=1
        )
    metrics.increment("text.trimmed")
    return TextCompressResult(trimmed[0], text, counter, (trimmed[1],), (key,))


def _marker(omitted: int, total: int, unit: str, max_tokens: int, key: str) -> str:
    return (
        f"[headroom: {omitted} of {total} {unit} omitted to fit {max_tokens} tokens "
        f"(the ones matching the question were kept); the full original is stored under "
        f"key {key}: call headroom_retrieve with that key to read it]"
    )


def _json_units(text: str) -> tuple[Any, list[Any], str | None] | None:
    """(parsed document, the item list to trim, the key holding it or None for a top-level array)."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        return None
    try:
        data = json.loads(stripped)
    except (ValueError, RecursionError):
        return None
    if isinstance(data, list) and len(data) > 1:
        return data, data, None
    if isinstance(data, dict):
        arrays = [(k, v) for k, v in data.items() if isinstance(v, list) and len(v) > 1]
        if arrays:
            name, items = max(arrays, key=lambda kv: len(kv[1]))
            return data, items, name
    return None


def _text_units(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if len(lines) >= _MIN_UNITS:
        return lines
    sentences = [s for s in _SENTENCE_END.split(text) if s]
    if len(sentences) >= _MIN_UNITS:
        return [s + " " for s in sentences[:-1]] + [sentences[-1]]
    return [text[i : i + _WINDOW_CHARS] for i in range(0, len(text), _WINDOW_CHARS)]


def _priority(units: list[str], query: str) -> list[int]:
    """Unit indices in the order they are kept: query matches (best first), then from the start."""
    relevant: list[tuple[float, int]] = []
    if query.strip():
        scores = BM25(units).scores(query)
        idents = [i for i in query_identifiers(query) if i]
        for i, (unit, score) in enumerate(zip(units, scores, strict=True)):
            bonus = 10.0 * sum(1 for ident in idents if ident in unit)
            if score + bonus > 0:
                relevant.append((score + bonus, i))
    relevant.sort(key=lambda x: (-x[0], x[1]))
    chosen = [i for _, i in relevant]
    seen = set(chosen)
    return chosen + [i for i in range(len(units)) if i not in seen]


def _select(costs: list[int], order: list[int], budget: int) -> list[int]:
    """Units that fit ``budget``, taken in priority ``order``; returned in that order."""
    kept: list[int] = []
    used = 0
    for i in order:
        if used + costs[i] <= budget:
            kept.append(i)
            used += costs[i]
    return kept


def _shallow(item: Any) -> dict[str, Any] | None:
    """An object item without its nested objects and arrays (ids, names, states stay), or None."""
    if not isinstance(item, dict):
        return None
    flat = {k: v for k, v in item.items() if not isinstance(v, (dict, list))}
    return flat if flat and len(flat) < len(item) else None


def _trim_json(
    parsed: tuple[Any, list[Any], str | None], max_tokens: int, *, query: str, counter: TokenCounter, key: str
) -> str | None:
    """Whole items by priority; an item too big to fit whole may go in without its nested fields."""
    data, items, field = parsed

    def dump(obj: Any) -> str:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))

    rendered = [dump(item) for item in items]
    shell = dump({**data, field: []} if field is not None else [])
    longest = _marker(len(items), len(items), "items", max_tokens, key) + " (nested fields of 999 items dropped)"
    room = max_tokens - counter.count(shell) - counter.count(longest) - len(items) // 8 - 4
    if room <= 0:
        return None
    chosen: dict[int, Any] = {}
    for i in _priority(rendered, query):
        cost = counter.count(rendered[i]) + 1
        if cost <= room:
            chosen[i] = items[i]
            room -= cost
            continue
        flat = _shallow(items[i])
        if flat is not None:
            cost = counter.count(dump(flat)) + 1
            if cost <= room:
                chosen[i] = flat
                room -= cost
    if not chosen:
        return None
    kept = [chosen[i] for i in sorted(chosen)]
    flattened = sum(1 for i in chosen if chosen[i] is not items[i])
    marker = _marker(len(items) - len(chosen), len(items), "items", max_tokens, key)
    if flattened:
        marker = marker[:-1] + f" (nested fields of {flattened} kept items dropped)]"
    out = dump({**data, field: kept} if field is not None else kept) + "\n" + marker
    return out if counter.count(out) <= max_tokens else None


def _trim(text: str, max_tokens: int, *, query: str, counter: TokenCounter, key: str) -> tuple[str, str] | None:
    """The trimmed text and its transform name, or None when no unit fits beside the marker."""
    parsed = _json_units(text)
    if parsed is not None:
        fitted = _trim_json(parsed, max_tokens, query=query, counter=counter, key=key)
        # Fragments of JSON cut at arbitrary characters tell a model little: no item fits, no trim.
        return (fitted, "trim:json_items") if fitted is not None else None
    units = _text_units(text)
    unit_name = "lines" if len(text.splitlines()) >= _MIN_UNITS else "parts"
    marker = _marker(len(units), len(units), unit_name, max_tokens, key)
    budget = max_tokens - counter.count(marker) - 2
    kept = _select([counter.count(u) for u in units], _priority(units, query), budget) if budget > 0 else []
    while True:
        body = "".join(units[i] for i in sorted(kept))
        sep = "" if not body or body.endswith("\n") else "\n"
        out = body + sep + _marker(len(units) - len(kept), len(units), unit_name, max_tokens, key)
        if not kept:
            return None
        if counter.count(out) <= max_tokens:
            return out, "trim:" + unit_name
        kept = kept[:-1]  # joined units can count a few tokens more than their parts; drop the least wanted
