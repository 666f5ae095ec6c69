"""The diff compressor: every change of a unified diff kept, unchanged context and generated files trimmed.

Kept verbatim: everything outside hunks (``git log -p`` commit headers and messages, ``diff
--git``/``index``/``---``/``+++`` lines, rename and mode lines), every hunk header, every added,
removed and ``\\ No newline`` line, and ``context_lines`` unchanged lines on each side of a
change. A longer unchanged stretch becomes one marker line naming its line range in the
original. Files matching ``generated_file_patterns`` (lock files, minified assets, vendored
code) keep their ``diff --git`` line and a one-line summary of what changed.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from headroom.compressors.base import Compressed, CompressionContext
from headroom.compressors.ccr_marker import counted, may_drop, retrieve_hint

__all__ = ["DiffCompressor"]

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@")
_HUNK_COUNTS = re.compile(r"^@@ -\d+(?:,(?P<old>\d+))? \+\d+(?:,(?P<new>\d+))? @@")
_FILE_START = re.compile(r"^diff --git a/(?P<a>.*?) b/(?P<b>.*)$|^diff (?:-\S+ )*(?P<plain>\S+) \S+$")
_MIN_TRIM = 4
"""Unchanged stretches shorter than this stay: the marker replacing them would cost as much."""
_PLUS_PATH = re.compile(r"^\+\+\+ (?:b/)?(?P<path>[^\t]*)")
_MINUS_PATH = re.compile(r"^--- (?:a/)?(?P<path>[^\t]*)")


@dataclass
class _Section:
    """One file of the diff: its header lines and its hunk lines, as indices into the diff's lines."""

    start: int
    end: int
    path: str
    first_hunk: int | None


def _sections(lines: list[str]) -> list[_Section]:
    starts = [i for i, line in enumerate(lines) if line.startswith("diff ") and _FILE_START.match(line)]
    if not starts:  # plain "--- a\n+++ b" diffs without "diff --git" lines
        starts = [
            i
            for i, line in enumerate(lines)
            if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")
        ]
    sections = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        path = ""
        first_hunk = None
        for i in range(start, end):
            line = lines[i]
            if _HUNK.match(line):
                first_hunk = i
                break
            m = _PLUS_PATH.match(line)
            if m and m.group("path") != "/dev/null":
                path = m.group("path")
            elif not path:
                m2 = _MINUS_PATH.match(line) or None
                if m2 and m2.group("path") != "/dev/null":
                    path = m2.group("path")
        if not path:
            m3 = _FILE_START.match(lines[start])
            if m3:
                path = m3.group("b") or m3.group("plain") or ""
        sections.append(_Section(start, end, path.strip(), first_hunk))
    return sections


def _is_generated(path: str, patterns: list[str]) -> bool:
    """True when ``path`` (or its file name) matches a pattern; ``dir/*`` also matches deeper paths."""
    name = path.rsplit("/", 1)[-1]
    for pattern in patterns:
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(name, pattern):
            return True
        if pattern.endswith("/*") and (path.startswith(pattern[:-1]) or f"/{pattern[:-1]}" in path):
            return True
    return False


class DiffCompressor:
    """Compresses unified diffs; see the module docs for what is kept."""

    name = "diff_compressor"

    def compress(self, text: str, ctx: CompressionContext) -> Compressed | None:
        cfg = ctx.config.content.diff
        if not cfg.enabled or not may_drop(text, ctx):
            return None
        lines = text.splitlines()
        if len(lines) < cfg.min_lines:
            return None
        sections = _sections(lines)
        if not sections:
            return None
        keep = [True] * len(lines)
        summaries: dict[int, str] = {}
        generated = 0
        for section in sections:
            if section.first_hunk is None:
                continue
            if _is_generated(section.path, cfg.generated_file_patterns):
                added = sum(1 for i in range(section.first_hunk, section.end) if lines[i].startswith("+"))
                removed = sum(1 for i in range(section.first_hunk, section.end) if lines[i].startswith("-"))
                hunks = sum(1 for i in range(section.first_hunk, section.end) if _HUNK.match(lines[i]))
                for i in range(section.start + 1, section.end):
                    keep[i] = False
                summaries[section.start] = (
                    f"[generated or vendored file {section.path}: +{added} -{removed} lines in {hunks} hunks omitted, "
                    f"L{section.start + 2}-{section.end}]"
                )
                generated += 1
                continue
            self._trim_context(lines, section, cfg.context_lines, keep)
        dropped = keep.count(False)
        if dropped == 0:
            return None
        key = ctx.store_original(text, kind="diff", meta={"files": len(sections)})
        out = [
            f"[headroom diff: {len(sections)} files; every changed line and header kept, unchanged context beyond "
            f"{cfg.context_lines} line(s) around a change trimmed"
            + (f", {generated} generated/vendored files summarised" if generated else "")
            + f"; {dropped} lines omitted; full diff: {retrieve_hint(key)}]"
        ]
        silent = {i for s in sections if s.start in summaries for i in range(s.start + 1, s.end)}
        i = 0
        while i < len(lines):
            if keep[i]:
                out.append(lines[i])
                if i in summaries:
                    out.append(summaries[i])
                i += 1
                continue
            j = i
            while j < len(lines) and not keep[j]:
                j += 1
            if i not in silent:
                out.append(
                    f"  … {j - i} unchanged lines (L{i + 1}-{j}) …"
                    if j - i > 1
                    else f"  … 1 unchanged line (L{i + 1}) …"
                )
            i = j
        result = "\n".join(out)
        if len(result) >= len(text):
            return None
        return counted(
            Compressed(
                text=result,
                transform=self.name,
                lossy=True,
                ccr_key=key,
                details={
                    "kind": "diff",
                    "files": len(sections),
                    "generated_files": generated,
                    "omitted_lines": dropped,
                },
            )
        )

    @staticmethod
    def _trim_context(lines: list[str], section: _Section, context: int, keep: list[bool]) -> None:
        """Mark unchanged hunk lines farther than ``context`` from any change as dropped.

        A hunk's extent comes from its header's line counts, so commit headers and messages
        between the files of ``git log -p`` are never mistaken for context.
        """
        i = section.first_hunk if section.first_hunk is not None else section.end
        while i < section.end:
            m = _HUNK_COUNTS.match(lines[i])
            if m is None:
                i += 1
                continue
            old_left = int(m.group("old")) if m.group("old") is not None else 1
            new_left = int(m.group("new")) if m.group("new") is not None else 1
            body: list[int] = []
            j = i + 1
            while j < section.end and (old_left > 0 or new_left > 0 or lines[j].startswith("\\")):
                tag = lines[j][:1]
                if tag == "-":
                    old_left -= 1
                elif tag == "+":
                    new_left -= 1
                elif tag in (" ", ""):
                    old_left -= 1
                    new_left -= 1
                elif tag != "\\":
                    break
                body.append(j)
                j += 1
            changed = [k for k in body if lines[k][:1] in ("+", "-", "\\")]
            near: set[int] = set()
            for k in changed:
                near.update(range(k - context, k + context + 1))
            run: list[int] = []
            for k in [*body, -1]:
                if k != -1 and k not in near:
                    run.append(k)
                    continue
                if len(run) >= _MIN_TRIM:  # a shorter stretch costs less than its marker
                    for r in run:
                        keep[r] = False
                run = []
            i = j
