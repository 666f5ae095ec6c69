"""What each compression level of the log compressor keeps (``CompressionContext.level``).

Context fitting asks for a harder form when a conversation does not fit its window:

- **level 0**: the normal form (the settings as they are);
- **level 1**: about half: shapes join templates at a lower similarity (fewer examples), one
  first and one last line, half as many named lines, annotations of count and range only;
- **level 2**: only what must survive: one example of each problem shape with its count and
  the lines the question names (a quarter as many), no first/last lines and no examples of
  ordinary templates; one line (:func:`summary_of_others`) says what else the log held.

Problem records with stack traces stay whole at every level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from headroom.compressors.log_templates import Template
from headroom.content_config import LogCompressorConfig

__all__ = ["Effort", "summary_of_others"]

_LOOSER_TEMPLATES = 0.6
"""Level 1 joins shapes into templates at this share of the configured similarity threshold."""
_SUMMARY_TEMPLATES = 3
_SUMMARY_PATTERN_CHARS = 72


@dataclass(frozen=True)
class Effort:
    """What one compression level keeps, derived from the log settings."""

    level: int
    first_lines: int
    last_lines: int
    similarity: float
    query_budget: int
    full_notes: bool
    """Annotations with the time span and the values that vary (level 0), or count and range only."""
    ordinary_examples: bool
    """One example of every ordinary template (levels 0, 1), or one summary line (level 2)."""

    @classmethod
    def of(cls, cfg: LogCompressorConfig, level: int) -> Effort:
        """The effort of ``level`` (below 0 counts as 0, above 2 as 2) under the settings ``cfg``."""
        budget = cfg.max_query_matches
        if level <= 0:
            return cls(
                level=0,
                first_lines=cfg.keep_first_lines,
                last_lines=cfg.keep_last_lines,
                similarity=cfg.similarity_threshold,
                query_budget=budget,
                full_notes=True,
                ordinary_examples=True,
            )
        if level == 1:
            return cls(
                level=1,
                first_lines=cfg.keep_first_lines // 2,
                last_lines=cfg.keep_last_lines // 2,
                similarity=cfg.similarity_threshold * _LOOSER_TEMPLATES,
                query_budget=max(1, budget // 2) if budget else 0,
                full_notes=False,
                ordinary_examples=True,
            )
        return cls(
            level=2,
            first_lines=0,
            last_lines=0,
            similarity=cfg.similarity_threshold,
            query_budget=max(1, budget // 4) if budget else 0,
            full_notes=False,
            ordinary_examples=False,
        )


def summary_of_others(templates: Sequence[Template], lines: Sequence[str], shown: set[int]) -> str:
    """One line saying what the omitted ordinary lines were: how many, of how many kinds, the most frequent."""
    total = sum(1 for t in templates for i in t.members() if i not in shown)
    top = sorted(templates, key=lambda t: (-t.count, t.first_line))[:_SUMMARY_TEMPLATES]
    examples = []
    for t in top:
        text = lines[t.first_line].strip()
        if len(text) > _SUMMARY_PATTERN_CHARS:
            text = text[: _SUMMARY_PATTERN_CHARS - 1] + "…"
        examples.append(f'"{text}" ×{t.count}')
    kinds = "kind" if len(templates) == 1 else "kinds"
    return (
        f"[… besides these, {total} ordinary lines of {len(templates)} {kinds}, not shown; "
        f"most frequent, one example each: {'; '.join(examples)} …]"
    )
