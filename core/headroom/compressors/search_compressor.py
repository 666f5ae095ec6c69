"""The search-result compressor: grep/ripgrep output grouped by file, the relevant matches kept.

Understood formats: ``path:line:text`` (``grep -rn``, ``rg --no-heading``), ``path:line:col:text``
(``rg --vimgrep``), context lines ``path-line-text`` with ``--`` separators (``grep -C``), and
ripgrep's heading mode (a path line, then ``line:text`` lines). Per file the first match is always
kept, then the matches most relevant to the question (exact identifiers first, then BM25 over
the question's words in their forms and phrases), up to a cap per file and a cap on matches
beyond the first ones. Kept lines are verbatim; a marker under each file says how many of
its matches were omitted and at which lines of the original they are.

Harder levels (``CompressionContext.level``, asked by context fitting) keep fewer hits: level 1
halves both caps; level 2 keeps each file's first match and, beyond it, only matches the
question names (exact identifiers, then words), a quarter as many.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from headroom.compressors.base import Compressed, CompressionContext
from headroom.compressors.ccr_marker import counted, may_drop, retrieve_hint
from headroom.compressors.detection import strip_ansi
from headroom.relevance import BM25, query_identifiers

__all__ = ["SearchCompressor", "parse_search_line"]

_MATCH = re.compile(r"^(?P<path>[^\s:][^:\n]*?)(?P<sep>[:-])(?P<line>\d+)(?P=sep)(?:\d+:)?(?P<text>.*)$")
_HEADING_MATCH = re.compile(r"^(?P<line>\d+)(?P<sep>[:-])(?P<text>.*)$")


@dataclass
class _File:
    path: str
    matches: list[int] = field(default_factory=list)
    """Indices (into the output's lines) of match lines."""
    context: list[int] = field(default_factory=list)
    heading: int | None = None


def parse_search_line(line: str) -> tuple[str, int, bool, str] | None:
    """``(path, line number, is_match, text)`` of one ``path:line:text`` line, or None."""
    m = _MATCH.match(line)
    if m is None:
        return None
    return m.group("path"), int(m.group("line")), m.group("sep") == ":", m.group("text")


def _group(lines: list[str]) -> tuple[dict[str, _File], list[int]]:
    """Files in order of appearance, and the indices of lines that belong to no file (kept)."""
    files: dict[str, _File] = {}
    loose: list[int] = []
    current: _File | None = None
    for i, raw in enumerate(lines):
        line = strip_ansi(raw)
        parsed = parse_search_line(line)
        if parsed is not None:
            path, _, is_match, _ = parsed
            current = files.setdefault(path, _File(path))
            (current.matches if is_match else current.context).append(i)
            continue
        heading = _HEADING_MATCH.match(line)
        if heading is not None and current is not None and current.heading is not None:
            (current.matches if heading.group("sep") == ":" else current.context).append(i)
            continue
        stripped = line.strip()
        if stripped and stripped != "--" and ":" not in stripped and " " not in stripped:
            current = files.setdefault(stripped, _File(stripped))
            current.heading = i  # ripgrep heading mode: the path alone on a line
            continue
        if stripped == "--" or not stripped:
            continue
        loose.append(i)
    return files, loose


def _caps(per_file: int, extra: int, level: int) -> tuple[int, int]:
    """Matches kept per file and beyond the first ones, at a compression level (see the module docs)."""
    if level <= 0:
        return per_file, extra
    if level == 1:
        return max(1, per_file // 2), extra // 2
    return max(1, per_file // 2), extra // 4


class SearchCompressor:
    """Compresses grep/ripgrep results; see the module docs for what is kept."""

    name = "search_compressor"

    def compress(self, text: str, ctx: CompressionContext) -> Compressed | None:
        cfg = ctx.config.content.search
        if not cfg.enabled or not may_drop(text, ctx):
            return None
        lines = text.splitlines()
        files, loose = _group(lines)
        total = sum(len(f.matches) for f in files.values())
        if total < cfg.min_matches:
            return None
        per_file, extra = _caps(cfg.max_matches_per_file, cfg.max_extra_matches, ctx.level)
        keep = self._choose(lines, files, ctx.query, per_file, extra, fill=ctx.level < 2)
        kept_matches = sum(1 for f in files.values() for i in f.matches if i in keep)
        if kept_matches >= total:
            return None
        key = ctx.store_original(text, kind="search", meta={"files": len(files), "matches": total})
        out = [
            f"[headroom search results: {total} matches in {len(files)} files; kept {kept_matches} (each file's first "
            f"match and those most relevant to the question), {total - kept_matches} omitted; all results: "
            f"{retrieve_hint(key)}]"
        ]
        for index in loose:
            out.append(lines[index])
        for f in files.values():
            if f.heading is not None:
                out.append(lines[f.heading])
            around = [c for c in f.context if c - 1 in keep or c + 1 in keep]
            for index in sorted([i for i in f.matches if i in keep] + around):
                out.append(lines[index])
            omitted = [i for i in f.matches if i not in keep]
            if omitted:
                out.append(f"  [… {len(omitted)} more matches in {f.path} at L{omitted[0] + 1}-{omitted[-1] + 1} …]")
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
                    "kind": "search",
                    "files": len(files),
                    "matches": total,
                    "kept_matches": kept_matches,
                    "level": ctx.level,
                },
            )
        )

    @staticmethod
    def _choose(
        lines: list[str], files: dict[str, _File], query: str, per_file: int, extra: int, *, fill: bool = True
    ) -> set[int]:
        keep = {f.matches[0] for f in files.values() if f.matches}
        candidates = [i for f in files.values() for i in f.matches[1:]]
        if not candidates or extra <= 0:
            return keep
        overall = len(keep) + extra
        ids = [i.lower() for i in query_identifiers(query)]
        docs = [lines[i] for i in candidates]
        exact = [n for n, d in enumerate(docs) if ids and any(x in d.lower() for x in ids)]
        seen = set(exact)
        ranked = exact + [n for n in BM25(docs).top(query, len(docs)) if n not in seen]
        seen.update(ranked)
        if fill:
            ranked += [n for n in range(len(docs)) if n not in seen]  # then in order, to fill the budget
        taken: dict[str, int] = {path: 1 for path, f in files.items() if f.matches}
        owner = {i: f.path for f in files.values() for i in f.matches}
        for n in ranked:
            if len(keep) >= overall:
                break
            index = candidates[n]
            path = owner[index]
            if taken[path] >= per_file:
                continue
            keep.add(index)
            taken[path] += 1
        return keep
