"""Source code: outlined only when ``intercept_tool_results`` is on, on real files of this repo and the stdlib."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
from pathlib import Path

import headroom
import pytest
from headroom.ccr import CCRStore, execute_retrieve_tool
from headroom.compressors.base import CompressionContext
from headroom.compressors.code_compressor import CodeCompressor
from headroom.config import HeadroomConfig
from headroom.content_config import CodeOutlinerConfig, ContentConfig
from headroom.tokens import get_counter

REPO = Path(__file__).resolve().parents[3]
STORE_PY = REPO / "core/headroom/ccr/store.py"
_ELIDED = re.compile(r"^\s*… body elided \(L(\d+)-(\d+), (\d+) lines\) …$")


def ctx_for(
    *, intercept: bool = True, query: str = "", store: CCRStore | None = None, **fields: object
) -> CompressionContext:
    config = HeadroomConfig(
        intercept_tool_results=intercept, content=ContentConfig(outline=CodeOutlinerConfig(**fields))
    )
    return CompressionContext(config=config, counter=get_counter("gpt-4o"), query=query, store=store)


@pytest.fixture(scope="module")
def source() -> str:
    return STORE_PY.read_text()


def test_without_interception_source_is_not_outlined(source: str) -> None:
    out = CodeCompressor().compress(source, ctx_for(intercept=False))
    assert out is None or out.transform != "code_outliner"


def test_with_interception_a_large_file_becomes_its_outline(source: str) -> None:
    out = CodeCompressor().compress(source, ctx_for())
    assert out is not None and out.transform == "code_outliner"
    counter = get_counter("gpt-4o")
    assert counter.count(out.text) < counter.count(source) * 0.7


def outer_definitions(node: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    """Classes, and functions not nested in another function (nested ones live inside elided bodies)."""
    found: list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append(child)
        elif isinstance(child, ast.ClassDef):
            found.append(child)
            found.extend(outer_definitions(child))
    return found


def test_outline_keeps_every_signature_and_docstring_line(source: str) -> None:
    out = CodeCompressor().compress(source, ctx_for())
    assert out is not None
    kept = set(out.text.splitlines())
    lines = source.splitlines()
    for node in outer_definitions(ast.parse(source)):
        assert lines[node.lineno - 1] in kept
        if ast.get_docstring(node, clean=False):
            assert lines[node.body[0].lineno - 1] in kept


def test_elided_bodies_are_retrievable_by_their_line_range(source: str) -> None:
    store = CCRStore("sqlite://")
    out = CodeCompressor().compress(source, ctx_for(store=store))
    assert out is not None and out.ccr_key
    assert store.get(out.ccr_key) == source
    marker = next(m for line in out.text.splitlines() if (m := _ELIDED.match(line)))
    start, end, count = (int(g) for g in marker.groups())
    body = execute_retrieve_tool({"key": out.ccr_key, "lines": f"{start}-{end}"}, store)
    assert body.splitlines() == source.splitlines()[start - 1 : end]
    assert len(body.splitlines()) == count


def test_bodies_naming_the_question_stay_in_full(source: str) -> None:
    asked = CodeCompressor().compress(source, ctx_for(query="how does enforce_limits evict old entries?"))
    assert asked is not None
    assert "                victims.append(row.key)" in asked.text
    plain = CodeCompressor().compress(source, ctx_for())
    assert plain is not None and "                victims.append(row.key)" not in plain.text


def test_keep_relevant_bodies_off_elides_them_too(source: str) -> None:
    out = CodeCompressor().compress(source, ctx_for(query="enforce_limits", keep_relevant_bodies=False))
    assert out is not None
    assert "                victims.append(row.key)" not in out.text


def test_min_lines_protects_small_files(source: str) -> None:
    out = CodeCompressor().compress(source, ctx_for(min_lines=10_000))
    assert out is None or out.transform != "code_outliner"


def test_numbered_listings_are_outlined_and_stay_numbered() -> None:
    listing = subprocess.run(["cat", "-n", str(STORE_PY)], capture_output=True, text=True, check=True).stdout
    out = CodeCompressor().compress(listing, ctx_for())
    assert out is not None and out.transform == "code_outliner"
    numbered = [line for line in out.text.splitlines()[1:] if not _ELIDED.match(line)]
    assert all(re.match(r"^\s*\d+\t", line) for line in numbered)


def test_brace_languages_are_outlined_by_matching_braces() -> None:
    spec = importlib.util.find_spec("markupsafe")
    c_file = Path(spec.origin).parent / "_speedups.c" if spec and spec.origin else None
    if c_file is None or not c_file.is_file():
        pytest.skip("markupsafe's C source (_speedups.c) is not installed")
    c_source = c_file.read_text()
    out = CodeCompressor().compress(c_source, ctx_for(min_lines=50))
    assert out is not None and out.details["language"] == "c-like"
    kept = out.text.splitlines()
    assert "escape_unicode(PyObject *self, PyObject *s)" in kept
    assert out.details["bodies_elided"] >= 4
    assert all(line in c_source.splitlines() for line in kept[1:] if not _ELIDED.match(line))


def test_compress_outlines_a_read_tool_result_only_when_asked(source: str) -> None:
    messages = [
        {"role": "user", "content": "What does the CCR store do?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "r1", "type": "function", "function": {"name": "read_file", "arguments": '{"path": "store.py"}'}}]},
        {"role": "tool", "tool_call_id": "r1", "content": source},
    ]  # fmt: skip
    on = headroom.compress(messages, config=HeadroomConfig(intercept_tool_results=True))
    off = headroom.compress(messages, config=HeadroomConfig(intercept_tool_results=False))
    assert "code_outliner" in on.transforms_applied
    assert "code_outliner" not in off.transforms_applied
