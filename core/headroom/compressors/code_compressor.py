"""Source code: an outline when tool-result interception is on, otherwise only repetition collapses.

With ``HeadroomConfig.intercept_tool_results`` a large source file read by a tool becomes its
outline: imports, module statements, class lines, decorators, signatures and docstrings stay
verbatim; each function body longer than a few lines becomes one marker naming its line range
(bodies that name an identifier of the question stay in full). Python is outlined from its
syntax tree; other languages (C-like braces) by matching braces from a signature line. Numbered
listings (``cat -n``, editor read tools) are understood and kept numbered.

Without interception, source goes to :class:`~headroom.compressors.text_compressor.TextCompressor`,
which only collapses runs of near-duplicate lines.
"""

from __future__ import annotations

import ast
import re

from headroom.compressors.base import Compressed, CompressionContext
from headroom.compressors.ccr_marker import counted, may_drop, retrieve_hint
from headroom.compressors.text_compressor import TextCompressor
from headroom.relevance import query_identifiers, query_terms

__all__ = ["CodeCompressor", "outline_spans"]

_NUMBERED = re.compile(r"^\s*\d+(?:\t|→|: |\| ?)")
_MIN_BODY = 3
_CONTROL = frozenset(
    [
        "if",
        "else",
        "for",
        "while",
        "switch",
        "catch",
        "do",
        "try",
        "return",
        "with",
        "synchronized",
        "foreach",
        "elif",
        "using",
        "lock",
        "unsafe",
    ]
)
_STRING = re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|`[^`]*`|//.*$|/\*.*?\*/")


def _python_spans(source: str) -> list[tuple[int, int, str]] | None:
    """(first body line, last body line, name) of every outermost function body, 0-based; None if not Python."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    spans: list[tuple[int, int, str]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = child.body
                first = body[0]
                if (
                    isinstance(first, ast.Expr)
                    and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)
                    and len(body) > 1
                ):
                    first = body[1]  # the docstring stays: it says what the function does
                end = child.end_lineno or first.lineno
                if first.lineno > child.lineno:  # a one-line "def f(): ..." has no separate body
                    spans.append((first.lineno - 1, end - 1, child.name))
            elif not isinstance(child, ast.expr):  # classes, and blocks such as if/try at module level
                visit(child)

    visit(tree)
    return sorted(spans)


def _brace_start(code: list[str], i: int) -> int | None:
    """Index of the signature line when line ``i`` opens a function body with ``{``, else None."""
    stripped = code[i].strip()
    if stripped.endswith("\\"):
        return None  # a macro continuation
    if stripped.endswith("{") and "(" in stripped and ")" in stripped:
        signature = i
    elif stripped == "{" and i > 0:
        signature = i - 1
        while signature > 0 and not code[signature].strip():
            signature -= 1
        prev = code[signature].strip()
        if "(" not in prev and not prev.endswith(")"):
            return None
    else:
        return None
    head = code[signature].strip()
    if head.endswith(";") or head.split("(", 1)[0].split(" ", 1)[0].rstrip("(") in _CONTROL:
        return None
    if head.startswith(("class ", "struct ", "interface ", "namespace ", "enum ", "}", "=")):
        return None
    return signature


def _brace_spans(code: list[str]) -> list[tuple[int, int, str]]:
    """Bodies of C-like functions: from the line after the opening ``{`` to before its matching ``}``."""
    spans: list[tuple[int, int, str]] = []
    i = 0
    n = len(code)
    while i < n:
        signature = _brace_start(code, i)
        if signature is None:
            i += 1
            continue
        depth = 0
        j = i
        while j < n:
            bare = _STRING.sub("", code[j])
            depth += bare.count("{") - bare.count("}")
            if depth <= 0:
                break
            j += 1
        if j >= n:
            break
        before = code[signature].split("(", 1)[0].split()
        spans.append((i + 1, j - 1, before[-1].lstrip("*&") if before else ""))  # the braces stay
        i = j + 1
    return spans


def outline_spans(code: list[str]) -> tuple[str, list[tuple[int, int, str]]]:
    """The language guess and the function bodies (0-based inclusive line ranges) an outline elides."""
    spans = _python_spans("\n".join(code))
    if spans is not None:
        return "python", spans
    return "c-like", _brace_spans(code)


class CodeCompressor:
    """Outlines source files when ``intercept_tool_results`` is on; otherwise collapses repetition."""

    name = "code_compressor"

    def __init__(self) -> None:
        self._text = TextCompressor()

    def compress(self, text: str, ctx: CompressionContext) -> Compressed | None:
        if ctx.config.intercept_tool_results:
            outlined = self._outline(text, ctx)
            if outlined is not None:
                return outlined
        return self._text.compress(text, ctx)

    def _outline(self, text: str, ctx: CompressionContext) -> Compressed | None:
        cfg = ctx.config.content.outline
        if not may_drop(text, ctx):
            return None
        lines = text.splitlines()
        if len(lines) < cfg.min_lines:
            return None
        numbered = sum(1 for line in lines if _NUMBERED.match(line)) >= 0.8 * len(lines)
        code = [_NUMBERED.sub("", line, count=1) for line in lines] if numbered else lines
        language, spans = outline_spans(code)
        ids = [i.lower() for i in query_identifiers(ctx.query)]
        terms = set(query_terms(ctx.query))
        elided: list[tuple[int, int]] = []
        kept_relevant = 0
        for start, end, fn in spans:
            if end - start + 1 < _MIN_BODY:
                continue
            if cfg.keep_relevant_bodies and (
                fn.lower() in terms
                or fn.lower() in ids
                or (ids and any(x in "\n".join(code[start : end + 1]).lower() for x in ids))
            ):
                kept_relevant += 1
                continue
            elided.append((start, end))
        if not elided:
            return None
        key = ctx.store_original(text, kind="code", meta={"lines": len(lines), "language": language})
        out = [
            f"[headroom outline of a {language} source file of {len(lines)} lines: signatures, docstrings and "
            f"module-level code kept, {len(elided)} function bodies elided; the file: {retrieve_hint(key)}]"
        ]
        cursor = 0
        for start, end in elided:
            out.extend(lines[cursor:start])
            indent = code[start][: len(code[start]) - len(code[start].lstrip())]
            out.append(f"{indent}… body elided (L{start + 1}-{end + 1}, {end - start + 1} lines) …")
            cursor = end + 1
        out.extend(lines[cursor:])
        result = "\n".join(out)
        if len(result) >= len(text):
            return None
        return counted(
            Compressed(
                text=result,
                transform="code_outliner",
                lossy=True,
                ccr_key=key,
                details={
                    "kind": "code",
                    "language": language,
                    "bodies_elided": len(elided),
                    "bodies_kept_relevant": kept_relevant,
                    "lines": len(lines),
                },
            )
        )
