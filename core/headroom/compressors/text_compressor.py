"""The text compressor: repetition in prose, code and mixed text collapses, everything else stays.

Two kinds of repetition are found, both by *shape* (the text with digit-bearing tokens masked,
see :func:`headroom.compressors.log_templates.mask_text`):

- a run of ``min_run`` or more consecutive lines that are near-duplicates of the run's first
  line (equal shape, or the same number of tokens with ``near_duplicate_threshold`` of them
  equal) keeps its first line and becomes one marker;
- a paragraph (lines between blank lines) whose shape equals an earlier paragraph's becomes a
  marker naming where the earlier one is.

Collapsed lines that name an identifier or a word of the question (in any of its forms:
"upgraded" names a line saying "upgrade") are kept anyway, up to ``max_relevant_blocks``.
Kept lines are never altered; markers give line ranges of the original, which CCR keeps whole.

Harder levels (``CompressionContext.level``, asked by context fitting) keep fewer sentences:
level 1 treats shorter and looser runs as repetition and keeps the first
:data:`LEVEL1_PARAGRAPH_LINES` lines of a longer paragraph; level 2 keeps the first line of
every paragraph. Lines that name the question stay at every level.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from headroom.compressors.base import Compressed, CompressionContext
from headroom.compressors.ccr_marker import counted, may_drop, retrieve_hint
from headroom.compressors.log_templates import mask_text
from headroom.content_config import TextCompressorConfig
from headroom.question import parse_question
from headroom.relevance import LineIndex

__all__ = ["LEVEL1_PARAGRAPH_LINES", "TextCompressor", "collapse_repetition"]

_MIN_PARAGRAPH_CHARS = 60
LEVEL1_PARAGRAPH_LINES = 4
"""At level 1 a paragraph keeps this many first lines (and the lines naming the question)."""
_LEVEL1_LOOSER = 0.15
"""Level 1 counts lines as near-duplicates at this much less similarity."""


@dataclass
class Collapse:
    """Which lines of a text stay, and the marker written in place of each omitted stretch."""

    keep: list[bool]
    markers: dict[int, str] = field(default_factory=dict)
    """First omitted line of a stretch -> its marker."""
    runs: int = 0
    duplicate_paragraphs: int = 0
    relevant_kept: int = 0
    cut_lines: int = 0
    """Lines omitted because a harder level keeps fewer lines per paragraph."""


def _similar(a: list[str], b: list[str], threshold: float) -> bool:
    if len(a) != len(b) or not a:
        return a == b
    equal = sum(1 for x, y in zip(a, b) if x == y)
    return equal / len(a) >= threshold


def _relevant_lines(query: str, lines: list[str]) -> set[int]:
    """Lines naming an identifier of the question, or a word of it that is rare in ``lines``.

    A word found on many lines (more than a twentieth, at least 3) marks nothing.
    """
    question = parse_question(query)
    if not question:
        return set()
    index = LineIndex("\n".join(lines).lower())
    found: set[int] = set()
    for ident in question.identifiers:
        found.update(index.lines_with_text(ident.lower()))
    limit = max(3, len(lines) // 20)
    for matcher in question.matchers:
        if len(matcher.text) < 3:
            continue
        hits = index.lines_matching(matcher.pattern)
        if len(hits) <= limit:
            found.update(hits)
    return found


def _effective(cfg: TextCompressorConfig, level: int) -> TextCompressorConfig:
    """The settings level 1 and 2 use: shorter, looser runs; half the relevant blocks."""
    if level <= 0:
        return cfg
    return cfg.model_copy(
        update={
            "min_run": max(2, cfg.min_run - 1),
            "near_duplicate_threshold": max(0.0, cfg.near_duplicate_threshold - _LEVEL1_LOOSER),
            "max_relevant_blocks": cfg.max_relevant_blocks // 2,
        }
    )


def collapse_repetition(lines: list[str], cfg: TextCompressorConfig, query: str = "", level: int = 0) -> Collapse:
    """Plan which lines of ``lines`` stay (see the module docs); nothing is changed in place."""
    n = len(lines)
    keep = [True] * n
    plan = Collapse(keep)
    cfg = _effective(cfg, level)
    masked = mask_text("\n".join(lines)).split("\n")
    if len(masked) != n:  # a line held a separator str.splitlines knows and "\n" does not
        masked = [mask_text(line) for line in lines]
    relevant = _relevant_lines(query, lines) if query.strip() else set()
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
                if budget > 0 and k in relevant:
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
                    if budget > 0 and not relevant.isdisjoint(range(start, end)):
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

    # 3. Harder levels: fewer lines of every paragraph (the lines naming the question stay).
    cut: set[int] = set()
    if level >= 1:
        per_paragraph = 1 if level >= 2 else LEVEL1_PARAGRAPH_LINES
        start = 0
        for end in [*(k for k in range(n) if not lines[k].strip()), n]:
            shown = [k for k in range(start, end) if keep[k]]
            for k in shown[per_paragraph:]:
                if k not in relevant:
                    keep[k] = False
                    cut.add(k)
            start = end + 1
    plan.cut_lines = len(cut)

    # 4. One marker per omitted stretch; stretches separated only by blank lines become one.
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
        elif parts == 1 and all(b in cut for b in range(start_, end_)):
            count = end_ - start_
            plan.markers[start_] = f"[… {count} line{'s' if count > 1 else ''} omitted (L{start_ + 1}-{end_}) …]"
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
        plan = collapse_repetition(lines, cfg, ctx.query, ctx.level)
        omitted = plan.keep.count(False)
        if omitted == 0:
            return None
        key = ctx.store_original(text, kind="text", meta={"lines": len(lines)})
        why = "were repeats and are collapsed" if not plan.cut_lines else "are omitted"
        cut = f", {plan.cut_lines} lines beyond the first of their paragraph" if plan.cut_lines else ""
        header = (
            f"[headroom: {omitted} of {len(lines)} lines {why} ({plan.runs} runs of similar "
            f"lines, {plan.duplicate_paragraphs} repeated paragraphs{cut}); original: {retrieve_hint(key)}]"
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
                    "level": ctx.level,
                },
            )
        )
