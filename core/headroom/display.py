"""How a compression result reads to a person: the one-line summary and the compact table Jupyter shows.

The summary says what happened, not only a percentage: which outputs were compressed and by
what, how many messages context fitting dropped or elided to fit which window, what audit
mode would have saved, and what was assumed for a model Headroom does not know. A saving that
came from dropping old turns is named as such, so "99.7% fewer" never hides that most of the
conversation went to the CCR store.

The tables are plain HTML and Markdown built here (no plotting or dataframe library), so the
core stays small and a notebook shows a :class:`~headroom.result.CompressResult` or a
LangChain handler's totals as a readable table.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headroom.result import CompressResult, ContentReport

__all__ = ["html_table", "kept_description", "markdown_table", "percent", "result_html", "result_markdown", "summarize"]

_MAX_ROWS = 12


def percent(part: float, whole: float) -> str:
    """``part`` as a percentage of ``whole``, never rounded to 0% or 100% when it is neither.

    >>> percent(998, 1000), percent(81, 100), percent(1, 3000)
    ('99.8%', '81%', '0.03%')
    """
    if whole <= 0 or part <= 0:
        return "0%"
    if part >= whole:
        return "100%"
    ratio = part / whole
    for digits in (0, 1, 2):
        text = f"{ratio:.{digits}%}"
        if float(text.rstrip("%")) not in (0.0, 100.0):
            return text
    return "<0.01%" if ratio < 0.5 else ">99.99%"


def _window(tokens: int) -> str:
    """A context window as people say it: 16k, 128k, 1.05M (small ones in full: 6,000-token)."""
    if tokens >= 1_000_000:
        return f"{tokens / 1_000_000:.3g}M"
    if tokens >= 10_000:
        return f"{tokens / 1000:.0f}k"
    return f"{tokens:,}-token"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _kind(transform: str) -> str:
    return transform.split(":", 1)[0]


def _content_action(reports: Sequence[ContentReport]) -> str | None:
    if not reports:
        return None
    kinds = Counter(_kind(r.transform) for r in reports)
    what = "tool output" if all(r.tool_name is not None for r in reports) else "text"
    by_kind = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))
    return f"compressed {_plural(len(reports), what)} ({by_kind})"


def _fitting_action(result: CompressResult) -> str | None:
    report = result.extras.get("fitting") or {}
    if not report.get("fitted"):
        return None
    done = []
    levels = report.get("levels") or {}
    harder = sum(int(n) for level, n in levels.items() if int(level) < 3)
    if harder:
        done.append(f"compressed {_plural(harder, 'tool output')} harder")
    if report.get("digested_outputs"):
        done.append(f"digested {_plural(int(report['digested_outputs']), 'tool output')}")
    if report.get("dropped_messages"):
        done.append(f"dropped {_plural(int(report['dropped_messages']), 'message')}")
    if report.get("elided_outputs"):
        done.append(f"elided {_plural(int(report['elided_outputs']), 'tool output')}")
    if not done:
        return None
    window = result.model_info.context_window if result.model_info is not None else None
    target = f"the {_window(window)} window" if window else f"{int(report.get('limit', 0)):,} tokens"
    text = (", ".join(done[:-1]) + " and " + done[-1] if len(done) > 1 else done[0]) + f" to fit {target}"
    limit = int(report.get("limit", 0))
    if report.get("over_limit") and limit <= 0:
        text += " (still over it: the window is smaller than the answer buffer)"
    elif report.get("over_limit"):
        text += f" (still over its {limit:,}-token limit)"
    return text


def _cost(saved: float | None) -> str:
    return f", ${saved:.4f} saved" if saved else ""


def summarize(result: CompressResult, *, model_note: bool = True) -> str:
    """One line: the tokens before and after, then what was done, then anything assumed or failed.

    ``model_note=False`` leaves out what was assumed for an unknown model (for a caller that says it once).

    ``12,345 -> 2,345 tokens (81% fewer, $0.0250 saved): compressed 2 tool outputs (1 log_compressor,
    1 smart_crusher); dropped 91 messages to fit the 16k window``
    """
    actions = [a for a in (_content_action(result.reports), _fitting_action(result)) if a]
    estimated = "" if result.exact_tokens else " estimated"
    before, optimized = result.tokens_before, result.optimized_tokens
    saving = f"{percent(before - optimized, before)} fewer{_cost(result.potential_cost_saved_usd)}"
    if result.mode == "audit":
        head = f"audit: sent unchanged, {before:,}{estimated} tokens; optimize would send {optimized:,} ({saving})"
    else:
        prefix = "simulate (nothing sent or stored): " if result.mode == "simulate" else ""
        head = f"{prefix}{before:,} -> {optimized:,}{estimated} tokens ({saving})"
    if not actions:
        actions = ["nothing needed compressing"]
    notes = []
    if result.errors:
        notes.append(f"{_plural(result.errors, 'internal error')}, that content sent unchanged")
    assumption = result.model_info.assumption() if result.model_info is not None else None
    if assumption and model_note:
        notes.append(assumption)
    return f"{head}: {'; '.join(actions)}" + "".join(f"; {n}" for n in notes)


# Why SmartCrusher kept items, most telling first (the rest follow alphabetically).
_REASON_ORDER = ("error", "query", "rare", "outlier", "change", "first", "last", "diverse")


def _reason_rank(reason: str) -> tuple[int, str]:
    for rank, prefix in enumerate(_REASON_ORDER):
        if reason.startswith(prefix):
            return rank, reason
    return len(_REASON_ORDER), reason


def kept_description(report: ContentReport) -> str:
    """What a compressor kept of one piece of content, in words (``kept 6 of 30 items: 1 error, 2 first``)."""
    d = report.details
    if "items_before" in d and "items_after" in d:
        reasons: Counter[str] = Counter()
        for array in d.get("arrays", ()):
            reasons.update(array.get("reasons") or {})
        why = ", ".join(f"{reasons[r]} {r}" for r in sorted(reasons, key=_reason_rank))
        return f"kept {d['items_after']:,} of {d['items_before']:,} items" + (f" ({why})" if why else "")
    if "lines" in d and "kept_lines" in d:
        extra = f" ({_plural(int(d['error_shapes']), 'error shape')})" if d.get("error_shapes") else ""
        return f"kept {d['kept_lines']:,} of {d['lines']:,} lines{extra}"
    if "lines" in d and "omitted_lines" in d:
        return f"omitted {d['omitted_lines']:,} of {d['lines']:,} lines"
    if "matches" in d and "kept_matches" in d:
        return f"kept {d['kept_matches']:,} of {d['matches']:,} matches in {_plural(int(d.get('files', 0)), 'file')}"
    if "omitted_lines" in d:
        return f"omitted {d['omitted_lines']:,} unchanged lines"
    if d.get("form"):
        return f"lossless ({d['form']})"
    return ""


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, caption: str | None = None) -> str:
    """A small HTML table (cells escaped); right-aligned cells are those that start with a digit or $."""

    def cell(tag: str, text: str) -> str:
        align = ' style="text-align:right"' if text[:1].isdigit() or text[:1] == "$" else ""
        return f"<{tag}{align}>{html.escape(text)}</{tag}>"

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell("td", c) for c in row) + "</tr>" for row in rows)
    cap = f'<caption style="text-align:left">{html.escape(caption)}</caption>' if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""

    def esc(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


_CONTENT_HEADER = ("message", "tool", "transform", "tokens before", "tokens after", "what was kept", "CCR key")


def _content_rows(result: CompressResult) -> list[list[str]]:
    rows = [
        [
            str(r.message_index),
            r.tool_name or "-",
            r.transform,
            f"{r.tokens_before:,}",
            f"{r.tokens_after:,}",
            kept_description(r),
            r.ccr_key or "-",
        ]
        for r in result.reports[:_MAX_ROWS]
    ]
    if len(result.reports) > _MAX_ROWS:
        rows.append(["…", f"{len(result.reports) - _MAX_ROWS} more", "", "", "", "", ""])
    return rows


def _figure_rows(result: CompressResult) -> list[list[str]]:
    before, optimized = result.tokens_before, result.optimized_tokens
    rows = [
        ["mode, model", f"{result.mode}, {result.model}"],
        ["tokens before", f"{before:,}"],
        [
            "tokens sent" if result.mode == "optimize" else "tokens optimize sends",
            f"{optimized:,} ({percent(before - optimized, before)} fewer)",
        ],
    ]
    if result.cost_before_usd is not None and result.potential_cost_saved_usd is not None:
        rows.append(["input cost saved", f"${result.potential_cost_saved_usd:.4f} of ${result.cost_before_usd:.4f}"])
    if result.cached_tokens:
        rows.append(["expected prompt-cache hit", f"{result.cached_tokens:,} tokens"])
    fitting = _fitting_action(result)
    if fitting:
        rows.append(["context fitting", fitting])
    if result.ccr_keys:
        rows.append(["retrievable by key", ", ".join(result.ccr_keys[:4]) + (" …" if len(result.ccr_keys) > 4 else "")])
    if result.errors:
        rows.append(["internal errors (failed open)", str(result.errors)])
    assumption = result.model_info.assumption() if result.model_info is not None else None
    if assumption:
        rows.append(["model", assumption])
    return rows


def result_html(result: CompressResult) -> str:
    """The result as Jupyter shows it: a figures table, then one row per compressed piece of content."""
    parts = [html_table(("CompressResult", ""), _figure_rows(result), caption=summarize(result))]
    if result.reports:
        parts.append(html_table(_CONTENT_HEADER, _content_rows(result)))
    return "".join(parts)


def result_markdown(result: CompressResult) -> str:
    """The same tables in Markdown (for ``_repr_markdown_`` and for printing into a README or an issue)."""
    parts = [f"**{summarize(result)}**", markdown_table(("CompressResult", ""), _figure_rows(result))]
    if result.reports:
        parts.append(markdown_table(_CONTENT_HEADER, _content_rows(result)))
    return "\n\n".join(parts)
