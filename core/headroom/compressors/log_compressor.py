"""The log compressor: what an engineer reads in a log survives, the repetition collapses.

Kept verbatim, in the log's own order:

- every line that reports a problem, one example per shape (lines that differ only in numbers,
  ids and addresses) with the count of its shape, whatever its level word: errors, failures,
  warnings, refusals, timeouts (``content.log.importance_pattern``), and alert lines of labelled
  logs; a multi-line record with a stack trace is kept whole (one example per record shape,
  never cut);
- the lines the question names, asked in plain words or quoted (:mod:`headroom.compressors.log_query`);
- the first and last lines;
- one example of every other template (mined by :mod:`headroom.compressors.log_templates`).

Under an example that stands for more lines, one annotation line gives the count, the line
range, the first and last timestamp and, when they are few, the values of the fields that vary.
The whole original goes to CCR; the header names its key and how to fetch line ranges.

Harder levels (``CompressionContext.level``, asked by context fitting) keep less: level 1 joins
templates more loosely, keeps one first and one last line, half as many named lines and
annotations of count and range only; level 2 keeps only what must survive (problem shapes with
their counts and the lines the question names) and says in one line what else the log held.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from headroom.compressors.base import Compressed, CompressionContext
from headroom.compressors.ccr_marker import counted, may_drop, retrieve_hint
from headroom.compressors.detection import strip_ansi
from headroom.compressors.log_levels import Effort, summary_of_others
from headroom.compressors.log_query import query_lines
from headroom.compressors.log_templates import (
    LineShape,
    Template,
    distinct_values,
    line_keys,
    mask_text,
    merge_shapes,
    shape_key,
    shapes_of,
)
from headroom.content_config import LogCompressorConfig

__all__ = ["LogCompressor"]

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_TIMESTAMP = re.compile(
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[-T ._]+\d{1,2}[:.]\d{2}[:.]\d{2}(?:[.,:]\d{1,6})?)?"
    r"|(?:" + _MONTH + r"\s+\d{1,2}\s+)?\d{1,2}:\d{2}:\d{2}(?:[.,:]\d{1,6})?(?:\s+\d{4})?"
    r"|\d{8}-\d{1,2}:\d{2}:\d{2}(?::\d+)?"
    r"|\b\d{6} \d{6}\b"
    r"|\b1\d{9}\b"
)
_CONTINUATION_PREFIXES = (" ", "\t", "Caused by", "... ", "Traceback (most recent call last)")
_EXCEPTION_LINE = re.compile(r"[\w$.]+(?:Exception|Error|Exit|Interrupt)(?::|$)")
_TRACE_CUE = re.compile(r"^\s+at |^\s+File \"|^Caused by|^Traceback|^\s+\.\.\. \d+ more", re.M)
_LABEL = re.compile(r"[A-Z][A-Z_]{2,}")
_DIGIT_FREE = re.compile(r"[a-z _|'-]+")
"""Importance patterns of plain lower-case words cannot match digits: shape keys suffice to apply them."""
_PLAIN_WORDS = re.compile(r"[a-z' ]+(?:\|[a-z' ]+)*")
"""An importance pattern that is only words separated by ``|`` (the default is)."""
_MAX_VALUE_CHARS = 48


@functools.lru_cache(maxsize=16)
def _importance(pattern: str) -> re.Pattern[str]:
    """The compiled importance pattern; a plain list of words is grouped by first letter.

    ``error|exception|fail|...`` becomes ``e(?:rror|xception)|f(?:ail)|...``: the same matches
    (alternatives sharing no first letter can never both match at one position, and within a
    group their order is kept), tried in fewer steps per character.
    """
    if not _PLAIN_WORDS.fullmatch(pattern):
        return re.compile(pattern)
    groups: dict[str, list[str]] = {}
    for word in pattern.split("|"):
        groups.setdefault(word[0], []).append(re.escape(word[1:]))
    return re.compile("|".join(re.escape(first) + "(?:" + "|".join(rests) + ")" for first, rests in groups.items()))


@dataclass
class _Plan:
    """Which lines are kept and what is written under some of them."""

    keep: set[int] = field(default_factory=set)
    notes: dict[int, str] = field(default_factory=dict)
    summaries: dict[int, Template] = field(default_factory=dict)
    """Example line -> the template (or shape) it stands for; annotated once the kept set is final."""
    error_shapes: int = 0
    trace_records: int = 0
    query_lines: int = 0
    query_overflow: dict[str, int] = field(default_factory=dict)
    ordinary: list[Template] = field(default_factory=list)
    """Templates of the lines that report no problem (summarised in one line at level 2)."""


def _records(lines: Sequence[str]) -> list[tuple[int, int]]:
    """Multi-line records (a head line and its continuation lines) as (start, end) ranges."""
    spans: list[tuple[int, int]] = []
    start = 0
    continuing = 0
    for i in range(1, len(lines)):
        line = lines[i]
        if line.startswith(_CONTINUATION_PREFIXES) or (line[:1].isalpha() and _EXCEPTION_LINE.match(line)):
            continuing += 1
            continue
        if i - start > 1:
            spans.append((start, i))
        start = i
    if len(lines) - start > 1:
        spans.append((start, len(lines)))
    if continuing > len(lines) * 0.4:
        return []  # an indented format, not a log with traces: no records
    return spans


def _timestamp(line: str) -> str:
    m = _TIMESTAMP.search(line, 0, 80)
    return m.group(0) if m else ""


def _without_common_date(first: str, last: str) -> str:
    """``last`` without its date when ``first`` has the same date ("Dec 10 11:04:42" -> "11:04:42")."""
    a, b = first.split(" "), last.split(" ")
    if len(a) == len(b) > 1 and a[:-1] == b[:-1]:
        return b[-1]
    return last


def _annotation(template: Template, lines: Sequence[str], shown: int, cfg: LogCompressorConfig, *, full: bool) -> str:
    count = template.count
    first, last = template.first_line, template.last_line
    # "×N" alone means one line shown and N-1 omitted; the omitted count is spelled out otherwise.
    omitted = "" if shown == 1 else f" ({count - shown} omitted)"
    parts = [f"  ^ ×{count}{omitted} L{first + 1}-{last + 1}"]
    if not full:
        return parts[0]
    t0, t1 = _timestamp(lines[first]), _timestamp(lines[last])
    if t0 or t1:
        parts.append(f"{t0} … {_without_common_date(t0, t1)}" if t0 != t1 else t0)
    # Times are already given as first … last: their pieces are no "values".
    stamp = _TIMESTAMP.search(lines[first], 0, 80)
    in_stamp = len(lines[first][: stamp.end()].split()) if stamp else 0
    values, scanned = distinct_values(template, lines, cfg.max_distinct_values, first_position=in_stamp)
    values = [(p, vals) for p, vals in values if not _TIMESTAMP.search(vals[0])]
    if values:
        shown_values = "; ".join(
            "|".join(v if len(v) <= _MAX_VALUE_CHARS else v[: _MAX_VALUE_CHARS - 1] + "…" for v in vals)
            for _, vals in values
        )
        suffix = "" if scanned >= count else f" (in the first {scanned})"
        parts.append(f"values{suffix}: {shown_values}")
    return " | ".join(parts)


def _gap(start: int, end: int) -> str:
    """Marker of omitted 0-based lines ``start``..``end - 1``, in 1-based line numbers."""
    return f"… L{start + 1} …" if end - start == 1 else f"… L{start + 1}-{end} …"


class LogCompressor:
    """Compresses logs by line templates; see the module docs for what is kept."""

    name = "log_compressor"

    def compress(self, text: str, ctx: CompressionContext) -> Compressed | None:
        cfg = ctx.config.content.log
        if not cfg.enabled or not may_drop(text, ctx):
            return None
        lines = text.splitlines()
        n = len(lines)
        if n < cfg.min_lines:
            return None
        clean = strip_ansi(text)
        clean_lines = lines if clean is text else clean.splitlines()
        keys = line_keys(clean)
        if len(keys) != n or len(clean_lines) != n:
            return None
        effort = Effort.of(cfg, ctx.level)
        plan = self._plan(clean, clean_lines, keys, ctx, cfg, effort)
        if len(plan.keep) >= n * 0.9:
            return None
        key = ctx.store_original(text, kind="log", meta={"lines": n})
        body = self._render(lines, plan)
        omitted = n - len(plan.keep)
        if effort.ordinary_examples:
            kept = "error/warning/alert lines (one per shape), lines the question names, first/last lines, one example per template"
        else:
            kept = "only error/warning/alert lines (one per shape) and lines the question names"
        header = (
            f"[headroom log summary: {n} lines; kept verbatim: {kept}. '  ^ ×N Lstart-end | first … last time | values' "
            f"under a line: N lines of its shape in the log, the ones not shown omitted; '… La-b …' marks omitted lines. "
            f"{omitted} lines omitted; full log: "
            f"{retrieve_hint(key)}]"
        )
        extra = [
            f'[{more} more lines name "{ident}": headroom_retrieve(key="{key}", query="{ident}")]'
            for ident, more in plan.query_overflow.items()
        ]
        if not effort.ordinary_examples and plan.ordinary:
            extra.append(summary_of_others(plan.ordinary, clean_lines, plan.keep))
        out = "\n".join([header, body, *extra])
        if len(out) >= len(text):
            return None
        return counted(
            Compressed(
                text=out,
                transform=self.name,
                lossy=True,
                ccr_key=key,
                details={
                    "kind": "log",
                    "lines": n,
                    "kept_lines": len(plan.keep),
                    "omitted_lines": omitted,
                    "error_shapes": plan.error_shapes,
                    "trace_records": plan.trace_records,
                    "query_lines": plan.query_lines,
                    "level": effort.level,
                },
            )
        )

    # -- planning ------------------------------------------------------------------------------
    def _plan(
        self,
        clean: str,
        lines: list[str],
        keys: list[str],
        ctx: CompressionContext,
        cfg: LogCompressorConfig,
        effort: Effort,
    ) -> _Plan:
        n = len(lines)
        plan = _Plan()
        rx = _importance(cfg.importance_pattern)
        shapes = shapes_of(keys)
        important_keys = self._important_keys(shapes, rx)
        important_lines: set[int] = set()
        if not _DIGIT_FREE.fullmatch(cfg.importance_pattern):
            # The pattern may need digits, which shape keys do not have: decide line by line.
            important_lines = {i for i, line in enumerate(lines) if rx.search(line.lower())}
        for key, shape in shapes.items():
            # A keyword inside a digit-bearing token vanishes from the shape: then decide line by line.
            in_lines = sum(len(rx.findall(src.lower())) * count for src, count in shape.sources.items())
            if in_lines != len(rx.findall(key.lower())) * len(shape.members):
                important_lines.update(i for i in shape.members if rx.search(lines[i].lower()))

        # Multi-line records holding a trace or an error: kept whole, one example per record shape.
        in_record: set[int] = set()
        record_groups: dict[str, list[tuple[int, int]]] = {}
        for start, end in _records(lines):
            body = "\n".join(lines[start:end])
            head_important = shape_key(mask_text(keys[start])) in important_keys or start in important_lines
            if head_important or _TRACE_CUE.search(body) or rx.search(body.lower()):
                record_groups.setdefault(mask_text("\n".join(keys[start:end])), []).append((start, end))
                in_record.update(range(start, end))
        for spans in record_groups.values():
            start, end = spans[0]
            plan.keep.update(range(start, end))
            plan.trace_records += 1
            if len(spans) > 1:
                plan.notes[end - 1] = (
                    f"  ^ ×{len(spans)} records of this shape ({len(spans) - 1} omitted) "
                    f"at L{', L'.join(str(s + 1) for s, _ in spans[:8])}{' …' if len(spans) > 8 else ''}"
                )

        ordinary: list[LineShape] = []
        problems: list[list[int]] = []
        for key, shape in shapes.items():
            members = [i for i in shape.members if i not in in_record] if in_record else shape.members
            if not members:
                continue
            if members is not shape.members:
                shape = LineShape(key, members)
            if key in important_keys:
                flagged = members
            elif important_lines:
                flagged = [i for i in members if i in important_lines]
            else:
                flagged = []
            if flagged:
                plan.error_shapes += 1
                problems.append(flagged)
                example = flagged[0]
                plan.keep.add(example)
                if len(members) > 1:
                    plan.summaries[example] = Template(key.split(), [shape])
            else:
                ordinary.append(shape)

        plan.ordinary = merge_shapes(ordinary, effort.similarity)
        if effort.ordinary_examples:
            for template in plan.ordinary:
                example = template.first_line
                plan.keep.add(example)
                if template.count > 1:
                    plan.summaries[example] = template

        plan.keep.update(range(min(effort.first_lines, n)))
        plan.keep.update(range(max(n - effort.last_lines, 0), n))

        def problem_lines() -> set[int]:
            return {i for flagged in problems for i in flagged} | in_record

        self._query_lines(lines, clean, ctx.query, effort.query_budget, plan, problem_lines)

        # A kept line inside a trace record brings its whole record: a stack trace is never cut.
        if in_record:
            for spans in record_groups.values():
                for start, end in spans:
                    if any(i in plan.keep for i in range(start, end)):
                        plan.keep.update(range(start, end))
        for example, template in plan.summaries.items():
            shown = sum(1 for i in template.members() if i in plan.keep)
            plan.notes[example] = _annotation(template, lines, shown, cfg, full=effort.full_notes)
        return plan

    @staticmethod
    def _important_keys(shapes: dict[str, LineShape], rx: re.Pattern[str]) -> set[str]:
        keys = {k for k in shapes if rx.search(k.lower())}
        labelled = sum(len(s.members) for k, s in shapes.items() if k.startswith("- "))
        if labelled * 2 >= sum(len(s.members) for s in shapes.values()):
            # A labelled log (BGL, Thunderbird): "-" marks a normal line, any other label an alert.
            for k in shapes:
                first = k.split(" ", 1)[0]
                if first != "-" and _LABEL.fullmatch(first):
                    keys.add(k)
        return keys

    @staticmethod
    def _query_lines(
        lines: list[str],
        clean: str,
        query: str,
        budget: int,
        plan: _Plan,
        problem_lines: Callable[[], set[int]],
    ) -> None:
        if not query.strip():
            return
        found = query_lines(lines, clean.lower(), query, budget=budget, problem_lines=problem_lines)
        chosen = found.lines
        plan.keep.update(chosen)
        plan.query_lines += len(chosen)
        plan.query_overflow.update(found.overflow)

    # -- rendering -----------------------------------------------------------------------------
    @staticmethod
    def _render(lines: list[str], plan: _Plan) -> str:
        out: list[str] = []
        previous = -1
        for i in sorted(plan.keep):
            gap = i - previous - 1
            if gap > 0:
                out.append(_gap(previous + 1, i))
            out.append(lines[i])
            note = plan.notes.get(i)
            if note:
                out.append(note)
            previous = i
        if previous < len(lines) - 1:
            out.append(_gap(previous + 1, len(lines)))
        return "\n".join(out)
