"""The text compressor: repetition in prose, code and mixed text collapses, everything else stays.

Two kinds of repetition are found, both by *shape* (the text with digit-bearing tokens masked,
see :func:`headroom.compressors.log_templates.mask_text`):

- a run of ``min_run`` or more consecutive lines that are near-duplicates of the run's first
  line (equal shape, or the same number of tokens with ``near_duplicate_threshold`` of them
  equal) keeps its first line and becomes one marker;
- a paragraph (lines between blank lines) whose shape equals an earlier paragraph's becomes a
  marker naming where the earlier one is.

Collapsed lines that name an identifier or a term of the question are kept anyway (up to
``max_relevant_blocks``). Kept lines are never altered; markers give line ranges of the
original, which CCR keeps whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from headroom.compressors.base import Compressed, CompressionContext
from headroom.compressors.ccr_marker import counted, may_drop, retrieve_hint
from headroom.compressors.log_templates import mask_text
from headroom.content_config import TextCompressorConfig
from headroom.relevance import query_identifiers, query_terms

__all__ = ["TextCompressor", "collapse_repetition"]

_MIN_PARAGRAPH_CHARS = 60


@dataclass
class Collapse:
    """Which lines of a text stay, and the marker written in place of each omitted stretch."""

    keep: list[bool]
    markers: dict[int, str] = field(default_factory=dict)
    """First omitted line of a stretch -> its marker."""
    runs: int = 0
    duplicate_paragraphs: int = 0
    relevant_kept: int = 0


def _similar(a: list[str], b: list[str], threshold: float) -> bool:
    if len(a) != len(b) or not a:
        return a == b
    equal = sum(1 for x, y in zip(a, b) if x == y)
    return equal / len(a) >= threshold


def _relevance(query: str, lines: list[str]) -> tuple[list[str], list[str]]:
    """The question's identifiers, and its words that are rare in ``lines`` (a common word marks nothing)."""
    ids = [i.lower() for i in query_identifiers(query)]
    terms = [t for t in query_terms(query) if len(t) >= 3]
    if terms:
        low = [line.lower() for line in lines]
        limit = max(3, len(lines) // 20)
        terms = [t for t in terms if sum(1 for line in low if t in line) <= limit]
    return ids, terms


def _is_relevant(text: str, ids: list[str], terms: list[str]) -> bool:
    low = text.lower()
    return any(i in low for i in ids) or any(t in low for t in terms)


def collapse_repetition(lines: list[str], cfg: TextCompressorConfig, query: str = "") -> Collapse:
    """Plan which lines of ``lines`` stay (see the module docs); nothing is changed in place."""
    n = len(lines)
    keep = [True] * n
    plan = Collapse(keep)
    masked = mask_text("\n".join(lines)).split("\n")
    if len(masked) != n:  # a line held a separator str.splitlines knows and "\n" does not
        masked = [mask_text(line) for line in lines]
    ids, terms = _relevance(query, lines) if query.strip() else ([], [])
    budget = cfg.max_relevant_blocks

    # 1. Runs of near-duplicate consecutive lines.
    i = 0
    while i < n:
        head = masked[i].split()
        if not head:
            i += 1
            continue
        j = i + 1
        while (
            j < n
            and masked[j].strip()
            and (masked[j] == masked[i] or _similar(head, masked[j].split(), cfg.near_duplicate_threshold))
        ):
            j += 1
        if j - i >= cfg.min_run:
            plan.runs += 1
            for k in range(i + 1, j):
                if budget > 0 and (ids or terms) and _is_relevant(lines[k], ids, terms):
                    budget -= 1
                    plan.relevant_kept += 1
                    continue
                keep[k] = False
        i = j

    # 2. Paragraphs repeating an earlier paragraph's shape.
    seen: dict[str, tuple[int, int]] = {}
    start = 0
    for end in [*(k for k in range(n) if not lines[k].strip()), n]:
        if end > start:
            shape = "\n".join(masked[start:end]).strip()
            if len(shape) >= _MIN_PARAGRAPH_CHARS and all(keep[start:end]):
                first = seen.get(shape)
                if first is None:
                    seen[shape] = (start, end)
                else:
                    text = "\n".join(lines[start:end])
                    if budget > 0 and (ids or terms) and _is_relevant(text, ids, terms):
                        budget -= 1
                        plan.relevant_kept += 1
                    else:
                        plan.duplicate_paragraphs += 1
                        for k in range(start, end):
                            keep[k] = False
                        plan.markers[start] = (
                            f"[… paragraph L{start + 1}-{end} repeats L{first[0] + 1}-{first[1]} (numbers may differ) …]"
                        )
        start = end + 1

    # 3. One marker per omitted stretch; stretches separated only by blank lines become one.
    stretches: list[list[int]] = []
    k = 0
    while k < n:
        if keep[k]:
            k += 1
            continue
        m = k
        while m < n and not keep[m]:
            m += 1
        if stretches and all(not lines[b].strip() for b in range(stretches[-1][1], k)):
            stretches[-1][1] = m
            stretches[-1][2] += 1
        else:
            stretches.append([k, m, 1])
        k = m
    described = dict(plan.markers)
    plan.markers = {}
    for start_, end_, parts in stretches:
        for b in range(start_, end_):
            keep[b] = False
        if parts == 1 and start_ in described:
            plan.markers[start_] = described[start_]
        elif parts == 1:
            count = end_ - start_
            plan.markers[start_] = (
                f"[… {count} similar line{'s' if count > 1 else ''} omitted (L{start_ + 1}-{end_}) …]"
            )
        else:
            plan.markers[start_] = (
                f"[… L{start_ + 1}-{end_} omitted: {parts} stretches repeating earlier lines or paragraphs …]"
            )
    return plan


def render(lines: list[str], plan: Collapse) -> str:
    """The kept lines, verbatim, with each omitted stretch replaced by its marker."""
    out: list[str] = []
    for i, line in enumerate(lines):
        if plan.keep[i]:
            out.append(line)
        elif i in plan.markers:
            out.append(plan.markers[i])
    return "\n".join(out)


class TextCompressor:
    """Collapses repetition in prose, source code and mixed text; see the module docs."""

    name = "text_compressor"

    def compress(self, text: str, ctx: CompressionContext) -> Compressed | None:
        cfg = ctx.config.content.text
        if not cfg.enabled or not may_drop(text, ctx):
            return None
        lines = text.splitlines()
        if len(lines) < cfg.min_lines:
            return None
        plan = collapse_repetition(lines, cfg, ctx.query)
        omitted = plan.keep.count(False)
        if omitted == 0:
            return None
        key = ctx.store_original(text, kind="text", meta={"lines": len(lines)})
        header = (
            f"[headroom: {omitted} of {len(lines)} lines were repeats and are collapsed ({plan.runs} runs of similar "
            f"lines, {plan.duplicate_paragraphs} repeated paragraphs); original: {retrieve_hint(key)}]"
        )
        out = header + "\n" + render(lines, plan)
        if len(out) >= len(text):
            return None
        return counted(
            Compressed(
                text=out,
                transform=self.name,
                lossy=True,
                ccr_key=key,
                details={
                    "kind": "text",
                    "lines": len(lines),
                    "omitted_lines": omitted,
                    "runs": plan.runs,
                    "duplicate_paragraphs": plan.duplicate_paragraphs,
                    "relevant_kept": plan.relevant_kept,
                },
            )
        )
