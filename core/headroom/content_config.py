"""Settings of the content compressors the router sends non-JSON text to (logs, search hits, diffs, text).

They sit in their own module so ``headroom.config`` stays the reference's set of models; the
whole tree hangs off :attr:`headroom.config.HeadroomConfig.content`.

    >>> from headroom.content_config import ContentConfig, LogCompressorConfig
    >>> ContentConfig(log=LogCompressorConfig(keep_first_lines=5)).log.keep_first_lines
    5
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from headroom.config_errors import ClosedSettings as _Settings

__all__ = [
    "CodeOutlinerConfig",
    "ContentConfig",
    "DiffCompressorConfig",
    "HtmlCompressorConfig",
    "LogCompressorConfig",
    "SearchCompressorConfig",
    "TextCompressorConfig",
]


class LogCompressorConfig(_Settings):
    """Log compression: line templates are mined, errors and the lines the question names are kept verbatim."""

    enabled: bool = Field(True, description="Compress logs (timestamped or levelled lines of repeated shapes).")
    min_lines: int = Field(40, ge=1, description="Logs with fewer lines are left alone.")
    keep_first_lines: int = Field(3, ge=0, description="Lines kept verbatim from the start of the log.")
    keep_last_lines: int = Field(3, ge=0, description="Lines kept verbatim from the end of the log.")
    similarity_threshold: float = Field(
        0.6, ge=0, le=1, description="Share of equal tokens above which two line shapes join one template (Drain-like)."
    )
    max_distinct_values: int = Field(
        4, ge=0, description="A template's variable field is listed with its values when it has at most this many."
    )
    max_query_matches: int = Field(
        25, ge=0, description="At most this many lines naming an identifier of the question are kept verbatim."
    )
    importance_pattern: str = Field(
        r"error|fatal|severe|exception|critical|panic|traceback|segfault|abort|fail|unable|cannot|can't|could not|"
        r"couldn't|refus|denied|timeout|timed out|warn|not permitted|unreachable|rejected|killed|out of memory",
        description=(
            "Lines matching this regex (applied to the lower-cased line, so write it in lower case) report a problem, "
            "whatever their level word (a 'Warning: we failed to resolve ...' counts): each shape of them keeps a "
            "verbatim example and its count. Other lines are summarised by template, one example each."
        ),
    )

    @field_validator("importance_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"a valid regular expression (this one fails: {exc})") from None
        return value


class SearchCompressorConfig(_Settings):
    """Search results (grep/ripgrep ``path:line:text``): grouped by file, the relevant matches kept."""

    enabled: bool = Field(True, description="Compress grep/ripgrep-style search results.")
    min_matches: int = Field(30, ge=1, description="Results with fewer matching lines are left alone.")
    max_matches_per_file: int = Field(4, ge=1, description="Matches kept per file (its first match always among them).")
    max_extra_matches: int = Field(
        40, ge=0, description="Matches kept beyond each file's first match, most relevant to the question first."
    )


class DiffCompressorConfig(_Settings):
    """Unified diffs: headers and changed lines kept, unchanged context trimmed, generated files collapsed."""

    enabled: bool = Field(True, description="Compress unified diffs (git diff, git log -p).")
    min_lines: int = Field(60, ge=1, description="Diffs with fewer lines are left alone.")
    context_lines: int = Field(1, ge=0, description="Unchanged lines kept on each side of a change.")
    generated_file_patterns: list[str] = Field(
        default_factory=lambda: [
            "*.lock",
            "*-lock.json",
            "*.lock.json",
            "package-lock.json",
            "yarn.lock",
            "pnpm-lock.yaml",
            "poetry.lock",
            "Cargo.lock",
            "go.sum",
            "composer.lock",
            "Gemfile.lock",
            "uv.lock",
            "*.min.js",
            "*.min.css",
            "*.map",
            "*.pb.go",
            "*_pb2.py",
            "*.generated.*",
            "vendor/*",
            "node_modules/*",
            "dist/*",
        ],
        description="Files (fnmatch patterns on the path) whose hunks collapse to a one-line summary.",
    )


class TextCompressorConfig(_Settings):
    """Prose and code: runs of duplicate or near-duplicate lines and paragraphs collapse; kept lines are unchanged."""

    enabled: bool = Field(True, description="Compress prose, source code and mixed text.")
    min_lines: int = Field(30, ge=1, description="Texts with fewer lines are left alone.")
    min_run: int = Field(3, ge=2, description="A run of similar lines or paragraphs this long collapses to its first.")
    near_duplicate_threshold: float = Field(
        0.85, ge=0, le=1, description="Lines whose shapes are at least this similar count as near-duplicates."
    )
    max_relevant_blocks: int = Field(
        6, ge=0, description="Collapsed blocks that name the question's terms are kept in full, up to this many."
    )


class HtmlCompressorConfig(_Settings):
    """HTML pages: scripts, styles and markup stripped to readable text when that saves a lot."""

    enabled: bool = Field(True, description="Convert HTML to text.")
    min_savings_ratio: float = Field(
        0.3, ge=0, le=1, description="Convert only when the text is at least this much shorter than the HTML."
    )


class CodeOutlinerConfig(_Settings):
    """Outlines of source files read by tools (only when ``HeadroomConfig.intercept_tool_results`` is on)."""

    min_lines: int = Field(120, ge=1, description="Source shorter than this is never outlined.")
    keep_relevant_bodies: bool = Field(
        True, description="Bodies of functions that name an identifier of the question stay in full."
    )


class ContentConfig(_Settings):
    """Settings of every non-JSON content compressor."""

    log: LogCompressorConfig = Field(default_factory=LogCompressorConfig, description="Log compressor.")
    search: SearchCompressorConfig = Field(default_factory=SearchCompressorConfig, description="Search results.")
    diff: DiffCompressorConfig = Field(default_factory=DiffCompressorConfig, description="Unified diffs.")
    text: TextCompressorConfig = Field(default_factory=TextCompressorConfig, description="Prose, code, mixed text.")
    html: HtmlCompressorConfig = Field(default_factory=HtmlCompressorConfig, description="HTML pages.")
    outline: CodeOutlinerConfig = Field(default_factory=CodeOutlinerConfig, description="Source-file outliner.")
