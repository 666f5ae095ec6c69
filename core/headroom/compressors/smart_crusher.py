"""SmartCrusher: compresses JSON arrays in tool outputs, keeping the items that matter.

For every array of at least ``min_items_to_analyze`` items (at the top level, or nested in an
envelope such as ``{"total_count": 593, "workflow_runs": [...]}``) it keeps, verbatim:

- items that carry errors or failures, rare categorical values, numeric outliers and change points;
- items that match the question (identifiers it names, BM25 over the items);
- the first and last items (``first_fraction`` / ``last_fraction`` of K);
- and fills the rest of K with the items least like those already kept.

K grows with the logarithm of the array's length and reaches ``max_items_after_crush`` at 8,192
items (arrays of 30 keep 6 plus the must-keep items). The output is valid JSON of the
original shape: kept items in their original order followed by one marker element that says how
many items were omitted and the CCR key that returns the original. A lossless re-encoding
(minified, or a column table for uniform objects) is chosen instead when it saves at least
``lossless_min_savings_ratio`` of the bytes and dropping items would not save that much more;
with ``lossless_only`` nothing is ever dropped.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from headroom.ccr.store import ccr_key
from headroom.compressors.base import Compressed, CompressionContext, NotJSON, PassThrough
from headroom.compressors.json_analysis import analyse_array
from headroom.compressors.json_diversity import fill_by_diversity
from headroom.compressors.json_lossless import encode_tables, is_uniform, minified
from headroom.compressors.json_spans import parse_with_item_texts
from headroom.config import SmartCrusherConfig
from headroom.relevance import query_identifiers, query_terms

__all__ = ["MARKER_KEY", "SmartCrusher", "adaptive_k"]

MARKER_KEY = "_headroom"
_FULL_K_AT = 8192
_MAX_SEARCH_DEPTH = 4


def adaptive_k(n: int, cfg: SmartCrusherConfig, boost: float = 1.0) -> int:
    """How many items of an ``n``-item array to keep before must-keep items are added."""
    if n <= 1:
        return n
    base = cfg.max_items_after_crush * min(1.0, math.log2(n) / math.log2(_FULL_K_AT))
    k = math.ceil(base * boost)
    return max(min(3, n), min(k, math.ceil(cfg.max_items_after_crush * boost), n))


@dataclass
class _ArrayCrush:
    path: tuple[Any, ...]
    before: int
    kept: list[int]
    reasons: dict[str, int] = field(default_factory=dict)


def _find_arrays(data: Any, min_items: int) -> list[tuple[Any, ...]]:
    """Paths of the arrays worth crushing: the root array, or arrays inside nested objects."""
    if isinstance(data, list):
        return [()] if len(data) >= max(min_items, 2) else []
    found: list[tuple[Any, ...]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), data)]
    while stack:
        path, node = stack.pop()
        if len(path) > _MAX_SEARCH_DEPTH or not isinstance(node, dict):
            continue
        for key, value in node.items():
            if isinstance(value, list) and len(value) >= max(min_items, 2):
                found.append((*path, key))
            elif isinstance(value, dict):
                stack.append(((*path, key), value))
    return sorted(found, key=lambda p: [str(x) for x in p])


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        data = data[step]
    return data


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = _get(data, path[:-1])
    parent[path[-1]] = value
    return data


def _summary(items: list[Any], omitted: list[int], fields: tuple[str, ...], numeric: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in fields:
        counts: dict[str, int] = {}
        for i in omitted:
            it = items[i]
            if isinstance(it, dict) and key in it and not isinstance(it[key], (dict, list)):
                label = json.dumps(it[key], ensure_ascii=False)
                counts[label] = counts.get(label, 0) + 1
        if counts:
            out[key] = counts
    for key in numeric:
        vals = [
            items[i][key] for i in omitted if isinstance(items[i], dict) and isinstance(items[i].get(key), (int, float))
        ]
        if vals:
            out[key] = {"min": min(vals), "max": max(vals)}
    return out


class SmartCrusher:
    """The JSON compressor; see the module documentation for what it keeps."""

    name = "smart_crusher"

    def compress(self, text: str, ctx: CompressionContext) -> Compressed | None:
        cfg = ctx.crusher_config
        if not cfg.enabled:
            raise PassThrough("SmartCrusher disabled")
        if len(text) < cfg.min_tokens_to_crush or (
            len(text) < 8 * cfg.min_tokens_to_crush and ctx.counter.count(text) < cfg.min_tokens_to_crush
        ):
            return None
        try:
            data, item_texts = parse_with_item_texts(text)
        except json.JSONDecodeError as exc:
            raise NotJSON(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
        if not isinstance(data, (list, dict)):
            return None
        original_len = len(text)
        ratio = cfg.lossless_min_savings_ratio
        too_big = len(text.encode("utf-8", "surrogatepass")) > ctx.config.ccr.max_entry_bytes
        if ctx.lossless_only or cfg.lossless_only or too_big:
            return self._lossless(data, original_len, ratio)
        crushed = self._crush(data, text, ctx, cfg, item_texts)
        if crushed is None:
            return self._lossless(data, original_len, ratio)
        lossy_text, details = crushed
        if len(lossy_text) >= original_len:
            return self._lossless(data, original_len, ratio)
        # Lossless wins when it saves ``ratio`` and dropping items would not save ``ratio`` more.
        # Re-encoding costs more than crushing, so it is only done when a cheap lower bound of
        # its size says it could win, and a tighter one (escapes counted exactly) agrees.
        if (_lossless_lower_bound(data, text) - len(lossy_text)) / original_len < ratio and (
            _lossless_lower_bound(data, text, exact_escapes=True) - len(lossy_text)
        ) / original_len < ratio:
            lossless = self._lossless(data, original_len, ratio)
            if lossless is not None and (len(lossless.text) - len(lossy_text)) / original_len < ratio:
                return lossless
        meta = {"arrays": details["arrays"], "feedback_boost": details["feedback_boost"]}
        key = ctx.store_original(text, "json", meta=meta)
        return Compressed(lossy_text, "smart_crusher:lossy", lossy=True, ccr_key=key, details=details)

    @staticmethod
    def _lossless(data: Any, original_len: int, ratio: float) -> Compressed | None:
        """The best lossless re-encoding (minified, or tables for uniform arrays), if it saves ``ratio``."""
        plain = minified(data)
        text, form = plain, "minified"
        paths = [p for p in _find_arrays(data, 3) if is_uniform(_get(data, p))]
        if paths:
            # encode_tables rewrites in place: work on a parsed copy, never on ``data``.
            table = minified(encode_tables(json.loads(plain), paths))
            if len(table) < len(plain) * 0.97:
                text, form = table, "table"
        if 1 - len(text) / original_len < ratio:
            return None
        return Compressed(text, f"smart_crusher:lossless:{form}", lossy=False, details={"kind": "json", "form": form})

    def _crush(
        self,
        data: Any,
        text: str,
        ctx: CompressionContext,
        cfg: SmartCrusherConfig,
        item_texts: dict[tuple[Any, ...], list[str]],
    ) -> tuple[str, dict[str, Any]] | None:
        paths = _find_arrays(data, cfg.min_items_to_analyze)
        if not paths:
            return None
        key = ccr_key(text)
        boost = self._feedback_boost(ctx, cfg, key)
        crushes: list[_ArrayCrush] = []
        replaced: list[tuple[tuple[Any, ...], list[Any]]] = []
        crushed_data = data
        for path in paths:
            items = _get(data, path)
            new_items, crush = self._crush_array(items, path, ctx, cfg, boost, key, item_texts.get(path))
            if crush is not None:
                crushed_data = _set(data, path, new_items)
                replaced.append((path, items))
                crushes.append(crush)
        output = minified(crushed_data) if crushes else ""
        for path, items in reversed(replaced):  # leave ``data`` as parsed, for the lossless path
            _set(data, path, items)
        if not crushes:
            return None
        details = {
            "kind": "json",
            "arrays": [
                {
                    "path": "/".join(str(p) for p in c.path) or "/",
                    "items_before": c.before,
                    "items_after": len(c.kept),
                    "kept_positions": c.kept,
                    "reasons": c.reasons,
                }
                for c in crushes
            ],
            "items_before": sum(c.before for c in crushes),
            "items_after": sum(len(c.kept) for c in crushes),
            "feedback_boost": boost,
        }
        return output, details

    @staticmethod
    def _feedback_boost(ctx: CompressionContext, cfg: SmartCrusherConfig, key: str) -> float:
        """Keep more items for tools whose omitted items the model keeps retrieving.

        Feedback shapes only content compressed for the first time: content already stored keeps
        the boost it was first compressed with (recorded with its original), so an output sent
        once is sent the same way again, in this process or another one sharing the store, and
        the provider's prompt cache still matches it.
        """
        if not cfg.use_feedback_hints or ctx.store is None or not ctx.tool_name:
            return 1.0
        try:
            first = ctx.store.original_meta(key)
        except Exception:
            first = None
        if first is not None and isinstance(first.get("feedback_boost"), (int, float)):
            return float(first["feedback_boost"])
        try:
            compressions, retrievals = ctx.store.tool_feedback(ctx.tool_name)
        except Exception:
            return 1.0
        confidence = compressions / (compressions + 5)
        if compressions == 0 or confidence < cfg.toin_confidence_threshold:
            return 1.0
        return 1.0 + min(retrievals / compressions, 1.0)

    def _crush_array(
        self,
        items: list[Any],
        path: tuple[Any, ...],
        ctx: CompressionContext,
        cfg: SmartCrusherConfig,
        boost: float,
        key: str,
        texts: list[str] | None = None,
    ) -> tuple[list[Any], _ArrayCrush | None]:
        n = len(items)
        k = adaptive_k(n, cfg, boost)
        if n <= k or _already_crushed(items):
            return items, None
        # Serialised items are only needed to match the question against them.
        needs_text = bool(query_terms(ctx.query) or query_identifiers(ctx.query))
        if not needs_text:
            docs: list[str] = []
        elif texts is not None and len(texts) == n:
            docs = texts  # the items' own source text, sliced while parsing
        else:
            docs = [minified(it) for it in items]
        analysis = analyse_array(items, docs, ctx.query, cfg)
        reasons: dict[str, int] = {}
        chosen: set[int] = set()

        def take(i: int, why: str) -> None:
            if i not in chosen:
                chosen.add(i)
                reasons[why] = reasons.get(why, 0) + 1

        n_first = max(1, round(k * cfg.first_fraction)) if cfg.first_fraction > 0 else 0
        n_last = max(1, round(k * cfg.last_fraction)) if cfg.last_fraction > 0 else 0
        for i in range(min(n_first, n)):
            take(i, "first")
        for i in range(max(n - n_last, 0), n):
            take(i, "last")
        statistical = 0
        for i in sorted(analysis.must_keep):
            why = analysis.must_keep[i]
            primary = sorted(why)[0].split(":")[0]
            if why & {"error", "query", "query_id"} or any(r.startswith("rare:") for r in why):
                take(i, "error" if "error" in why else primary)
            elif statistical < k:
                statistical += 1
                take(i, primary)
        slots = k - len(chosen)
        for i in fill_by_diversity(n, chosen, slots, items, cfg.similarity_threshold, analysis.columns):
            take(i, "diverse")
        if len(chosen) >= n:
            return items, None
        kept = sorted(chosen)
        omitted = [i for i in range(n) if i not in chosen]
        new_items = [items[i] for i in kept]
        marker_text = (
            f"{len(omitted)} of {n} items omitted by headroom (kept positions {_ranges(kept)}: "
            f"{', '.join(f'{v} {r}' for r, v in sorted(reasons.items()))}). "
            f"Call headroom_retrieve with key={key} (optionally a query) to get them."
        )
        if all(isinstance(it, dict) for it in new_items):
            marker: dict[str, Any] = {MARKER_KEY: marker_text}
            if cfg.include_summaries:
                marker["summary"] = _summary(items, omitted, analysis.categorical_fields, analysis.numeric_fields)
            if cfg.factor_out_constants and len(new_items) >= 2:
                constants = _constants(new_items)
                if constants:
                    new_items = [{k2: v for k2, v in it.items() if k2 not in constants} for it in new_items]
                    marker["constants"] = constants
            new_items.append(marker)
        else:
            new_items.append(f"[{marker_text}]")
        return new_items, _ArrayCrush(path, n, kept, reasons)


_WS_AND_BACKSLASH = b" \n\r\t\\"
_NOT_WS_OR_BACKSLASH = bytes(b for b in range(256) if b not in _WS_AND_BACKSLASH)


def _lossless_lower_bound(data: Any, text: str, *, exact_escapes: bool = False) -> int:
    """A size no lossless re-encoding of ``data`` can go below, computed without re-encoding.

    Minifying removes at most the whitespace, and un-escaping saves at most 5.5 characters per
    ``\\uXXXX`` (a surrogate pair, 12 characters, becomes one) and 1 per ``\\/``; the table
    form also drops each uniform object's keys after the first row. Whitespace and backslashes
    are counted in one C pass (a translate that keeps only them). By default every backslash
    is assumed to start a ``\\uXXXX`` escape, which is cheap and still a bound;
    ``exact_escapes`` counts the escapes themselves (two more passes) for a tighter one.
    """
    raw = text.encode("utf-8", "surrogatepass")
    kept = raw.translate(None, _NOT_WS_OR_BACKSLASH)
    backslashes = kept.count(b"\\")
    whitespace = len(kept) - backslashes
    if exact_escapes and backslashes:
        unescaping = (11 * raw.count(b"\\u") + 1) // 2 + raw.count(b"\\/")
    else:
        unescaping = (11 * backslashes + 1) // 2
    bound = len(text) - whitespace - unescaping
    for path in _find_arrays(data, 3):
        items = _get(data, path)
        if is_uniform(items):
            keys = sum(len(json.dumps(k, ensure_ascii=False)) + 1 for k in items[0])
            bound -= (len(items) - 1) * keys
    return bound


def _already_crushed(items: list[Any]) -> bool:
    """True when the array carries a marker of an earlier crush: compressing again would nest markers."""
    last = items[-1] if items else None
    if isinstance(last, dict):
        return MARKER_KEY in last
    return isinstance(last, str) and "items omitted by headroom" in last


def _constants(items: list[dict[str, Any]]) -> dict[str, Any]:
    first = items[0]
    out = {}
    for k, v in first.items():
        encoded = minified(v)
        if all(k in it and minified(it[k]) == encoded for it in items[1:]):
            out[k] = v
    return out


def _ranges(indices: list[int]) -> str:
    """``[0, 1, 2, 7, 9, 10]`` -> ``0-2,7,9-10``."""
    parts: list[str] = []
    start = prev = None
    for i in indices:
        if start is None:
            start = prev = i
        elif prev is not None and i == prev + 1:
            prev = i
        else:
            parts.append(f"{start}-{prev}" if start != prev else f"{start}")
            start = prev = i
    if start is not None:
        parts.append(f"{start}-{prev}" if start != prev else f"{start}")
    return ",".join(parts)
