"""Presenting benchmark results: per-file and summary tables, JSON, and a progress bar.

Tables are plain aligned text for a terminal or GitHub-flavoured Markdown for the README. The
summary checks each kind against the project's benchmark targets (issues 2 and 3): JSON at
least 70% fewer tokens and 40 MB/s, logs at least 85% fewer and 20 MB/s, both keeping every
target.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from headroom.benchmark.corpus import AS_WRITTEN, UNQUOTED
from headroom.benchmark.runner import CaseResult, Rates

__all__ = ["TARGETS", "KindSummary", "ProgressBar", "format_cases", "format_summary", "summarize", "to_json"]


@dataclass(frozen=True)
class Goal:
    """A benchmark target for one kind of content."""

    reduction: float
    mb_per_s: float


TARGETS: dict[str, Goal] = {"json": Goal(0.70, 40.0), "log": Goal(0.85, 20.0)}


@dataclass(frozen=True)
class KindSummary(Rates):
    """Totals of one engine over the files of one kind."""

    engine: str
    kind: str
    files: int
    size_bytes: int
    tokens_before: int
    tokens_after: int
    baseline_tokens: int | None
    kept: int
    total: int
    asked_kept: int
    asked_total: int
    latency_ms: float
    count_ms: float | None
    tokenize_ms: float | None
    errors: int
    ccr_ok: int
    ccr_keys: int
    variant: str = AS_WRITTEN
    """How the questions were asked: ``as written`` or ``unquoted``."""

    @property
    def fidelity(self) -> float:
        return self.kept / self.total if self.total else 1.0

    @property
    def tokenize_share(self) -> float | None:
        """Fraction of the compress latency spent in the tokenizer inside the call."""
        return None if self.tokenize_ms is None or not self.latency_ms else self.tokenize_ms / self.latency_ms

    @property
    def counting_mb_per_s(self) -> float | None:
        """Input MB per second of counting the request's tokens before and after, cold.

        What the report's exact figures cost, as a throughput to set beside :attr:`mb_per_s`:
        whether the core counts inside ``compress`` or when the figures are first read.
        """
        if self.count_ms is None:
            return None
        return self.size_bytes / 1e6 / (self.count_ms / 1000) if self.count_ms > 0 else float("inf")

    def unmet(self) -> list[str]:
        """Which targets of this kind were not met (empty when all were, or none apply)."""
        goal = TARGETS.get(self.kind)
        if goal is None:
            return []
        misses = []
        if self.reduction < goal.reduction:
            misses.append(f"reduction {self.reduction:.1%} < {goal.reduction:.0%}")
        if self.kept < self.total:
            misses.append(f"kept {self.kept}/{self.total}")
        if self.mb_per_s < goal.mb_per_s:
            misses.append(f"{self.mb_per_s:.1f} MB/s < {goal.mb_per_s:.0f}")
        return misses

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "kind": self.kind,
            "question": self.variant,
            "files": self.files,
            **self._rates_dict(),
            "kept": self.kept,
            "total": self.total,
            "fidelity": round(self.fidelity, 4),
            "asked_kept": self.asked_kept,
            "asked_total": self.asked_total,
            "latency_ms": round(self.latency_ms, 3),
            "mb_per_s": round(self.mb_per_s, 3),
            "count_ms": None if self.count_ms is None else round(self.count_ms, 3),
            "counting_mb_per_s": None if self.counting_mb_per_s is None else round(self.counting_mb_per_s, 3),
            "tokenize_ms": None if self.tokenize_ms is None else round(self.tokenize_ms, 3),
            "tokenize_share": None if self.tokenize_share is None else round(self.tokenize_share, 4),
            "errors": self.errors,
            "ccr_ok": self.ccr_ok,
            "ccr_keys": self.ccr_keys,
            "unmet_targets": self.unmet() if self.engine == "headroom" else [],
        }


def summarize(results: Sequence[CaseResult]) -> list[KindSummary]:
    """One summary per (engine, kind, question variant): as written first, each kind's unquoted row after it."""
    groups: dict[tuple[str, str, str], list[CaseResult]] = {}
    for r in results:
        groups.setdefault((r.engine, r.kind, r.variant), []).append(r)
    first_seen: dict[tuple[str, str], int] = {}
    for engine, kind, _ in groups:
        first_seen.setdefault((engine, kind), len(first_seen))
    keys = sorted(groups, key=lambda k: (first_seen[(k[0], k[1])], k[2] != AS_WRITTEN))
    out = []
    for engine, kind, variant in keys:
        rows = groups[(engine, kind, variant)]
        baselines = [r.baseline_tokens for r in rows]
        counts = [r.count_ms for r in rows]
        tokenizes = [r.tokenize_ms for r in rows]
        out.append(
            KindSummary(
                engine=engine,
                kind=kind,
                files=len(rows),
                size_bytes=sum(r.size_bytes for r in rows),
                tokens_before=sum(r.tokens_before for r in rows),
                tokens_after=sum(r.tokens_after for r in rows),
                baseline_tokens=None if None in baselines else sum(b for b in baselines if b is not None),
                kept=sum(r.fidelity.kept for r in rows),
                total=sum(r.fidelity.total for r in rows),
                asked_kept=sum(r.fidelity.asked_kept for r in rows),
                asked_total=sum(r.fidelity.asked_total for r in rows),
                latency_ms=sum(r.latency_ms for r in rows),
                count_ms=None if None in counts else sum(c for c in counts if c is not None),
                tokenize_ms=None if None in tokenizes else sum(t for t in tokenizes if t is not None),
                errors=sum(1 for r in rows if r.error),
                ccr_ok=sum(1 for r in rows if r.ccr == "ok"),
                ccr_keys=sum(1 for r in rows if r.ccr != "-"),
                variant=variant,
            )
        )
    return out


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, markdown: bool, right: set[int]) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |"]
        lines.append("|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|")
        lines.extend("| " + " | ".join(row) + " |" for row in rows)
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]

    def fmt(row: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)])


def _short(name: str, width: int = 48) -> str:
    return name if len(name) <= width else name[: width - 13] + "…" + name[-12:]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _rate(x: float) -> str:
    return "inf" if x == float("inf") else f"{x:.1f}"


def format_cases(results: Sequence[CaseResult], *, markdown: bool = False) -> str:
    """Per-file table: tokens, reduction, minified baseline, latency, MB/s, fidelity, CCR.

    When the questions were also asked without quotation marks, two columns give that run's
    reduction and targets kept beside the row of the question as written.
    """
    written = [r for r in results if r.variant != UNQUOTED]
    plain = {(r.engine, r.name): r for r in results if r.variant == UNQUOTED}
    header = [
        "file",
        "bytes",
        "tokens before",
        "tokens after",
        "reduction",
        "minified JSON",
        "latency ms",
        "MB/s",
        "report count ms",
        "asked kept",
        "targets kept",
        "ccr",
    ]
    if plain:
        header += ["unquoted: reduction", "unquoted: targets kept"]
    rows = []
    for r in written:
        f = r.fidelity
        row = [
            _short(r.name) + (" !" if r.error else ""),
            f"{r.size_bytes:,}",
            f"{r.tokens_before:,}",
            f"{r.tokens_after:,}",
            _pct(r.reduction),
            _pct(r.baseline_reduction),
            f"{r.latency_ms:.1f}",
            _rate(r.mb_per_s),
            "-" if r.count_ms is None else f"{r.count_ms:.1f}",
            f"{f.asked_kept}/{f.asked_total}",
            f"{f.kept}/{f.total}",
            r.ccr,
        ]
        if plain:
            u = plain.get((r.engine, r.name))
            row += ["-", "-"] if u is None else [_pct(u.reduction), f"{u.fidelity.kept}/{u.fidelity.total}"]
        rows.append(row)
    return _table(header, rows, markdown=markdown, right=set(range(1, len(header))) - {11})


def format_summary(summaries: Sequence[KindSummary], *, markdown: bool = False, targets: bool = True) -> str:
    """Summary table per engine and kind; with ``targets`` a column says which goals are unmet."""
    header = [
        "engine",
        "kind",
        "question",
        "files",
        "tokens before",
        "tokens after",
        "reduction",
        "minified JSON",
        "targets kept",
        "asked kept",
        "MB/s",
        "tokenizer share",
        "report counting MB/s",
        "ccr ok",
    ]
    if targets:
        header.append("benchmark target")
    rows = []
    for s in summaries:
        row = [
            s.engine,
            s.kind,
            s.variant,
            str(s.files),
            f"{s.tokens_before:,}",
            f"{s.tokens_after:,}",
            _pct(s.reduction),
            _pct(s.baseline_reduction),
            f"{s.kept}/{s.total} ({s.fidelity:.0%})",
            f"{s.asked_kept}/{s.asked_total}",
            _rate(s.mb_per_s),
            _pct(s.tokenize_share),
            "-" if s.counting_mb_per_s is None else _rate(s.counting_mb_per_s),
            f"{s.ccr_ok}/{s.ccr_keys}" if s.ccr_keys else "-",
        ]
        if targets:
            goal = TARGETS.get(s.kind)
            unmet = s.unmet()
            row.append("-" if goal is None else ("met" if not unmet else "NOT met: " + "; ".join(unmet)))
        rows.append(row)
    return _table(header, rows, markdown=markdown, right=set(range(3, 14)))


def to_json(results: Sequence[CaseResult], *, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Machine-readable results: every file and the summaries."""
    return {
        **(extra or {}),
        "targets": {k: {"reduction": g.reduction, "mb_per_s": g.mb_per_s} for k, g in TARGETS.items()},
        "summary": [s.to_dict() for s in summarize(results)],
        "files": [r.to_dict() for r in results],
    }


class ProgressBar:
    """A one-line progress bar on stderr, drawn only for a terminal (or when forced).

    Call it as ``bar(done, total, name)``; it erases itself when ``done == total``.
    """

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None, width: int = 28) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.width = width

    def __call__(self, done: int, total: int, name: str) -> None:
        if not self.enabled or total <= 0:
            return
        if done >= total:
            self.stream.write("\r" + " " * (self.width + 70) + "\r")
        else:
            filled = int(self.width * done / total)
            bar = "#" * filled + "." * (self.width - filled)
            self.stream.write(f"\r[{bar}] {done}/{total} {_short(name, 52):<52}")
        self.stream.flush()
