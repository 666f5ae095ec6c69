"""Bad input never raises: every content compressor and headroom.compress on binary garbage, a 10 MB line,
CRLF and mixed newlines, ANSI colour codes and empty input either compress correctly or pass through."""

from __future__ import annotations

import random
import re
from pathlib import Path

import headroom
import pytest
from headroom.ccr import CCRStore
from headroom.compressors.base import CompressionContext, Compressor
from headroom.compressors.code_compressor import CodeCompressor
from headroom.compressors.diff_compressor import DiffCompressor
from headroom.compressors.html_compressor import HtmlCompressor
from headroom.compressors.log_compressor import LogCompressor
from headroom.compressors.search_compressor import SearchCompressor
from headroom.compressors.text_compressor import TextCompressor
from headroom.config import HeadroomConfig
from headroom.tokens import get_counter

COMPRESSORS: list[Compressor] = [
    LogCompressor(), SearchCompressor(), DiffCompressor(), TextCompressor(), HtmlCompressor(), CodeCompressor(),
]  # fmt: skip
_ERROR = re.compile(r"(?i)error|fatal|severe|exception")


def ctx_for(store: CCRStore | None = None, query: str = "") -> CompressionContext:
    return CompressionContext(
        config=HeadroomConfig(intercept_tool_results=True), counter=get_counter("gpt-4o"), query=query, store=store
    )


def garbage() -> str:
    data = random.Random(7).randbytes(200_000)
    return data.decode("utf-8", "surrogateescape")


def log_text(corpus_dir: Path, name: str = "Zookeeper") -> str:
    return (corpus_dir / "logs" / f"{name}_2k.log").read_text()


def bad_inputs(corpus_dir: Path) -> dict[str, str]:
    log = log_text(corpus_dir)
    lines = log.splitlines()
    return {
        "empty": "",
        "whitespace": " \n\r\n\t\n",
        "binary": garbage(),
        "latin1 bytes": bytes(range(256)).decode("latin-1") * 100,
        "10 MB line": (log.replace("\n", " ") * 40)[:10_000_000],
        "crlf": log.replace("\n", "\r\n"),
        "mixed newlines": "".join(
            line + ("\r\n" if i % 3 == 0 else "\r" if i % 3 == 1 else "\n") for i, line in enumerate(lines)
        ),
        "ansi": "\n".join(f"\x1b[3{i % 7}m{line}\x1b[0m" for i, line in enumerate(lines)),
    }


@pytest.mark.corpus
@pytest.mark.parametrize("compressor", COMPRESSORS, ids=lambda c: c.name)
def test_no_compressor_raises_on_bad_input(corpus_dir: Path, compressor: Compressor) -> None:
    store = CCRStore("sqlite://")
    for label, text in bad_inputs(corpus_dir).items():
        out = compressor.compress(text, ctx_for(store))
        if out is not None:
            assert out.ccr_key and store.get(out.ccr_key) == text, label
            assert len(out.text) < len(text), label


@pytest.mark.corpus
@pytest.mark.parametrize("label", ["crlf", "mixed newlines"])
def test_logs_with_crlf_or_mixed_newlines_keep_every_error_line_verbatim(corpus_dir: Path, label: str) -> None:
    text = bad_inputs(corpus_dir)[label]
    out = LogCompressor().compress(text, ctx_for())
    assert out is not None
    kept = set(out.text.splitlines())
    errors = [line for line in text.splitlines() if _ERROR.search(line)]
    shapes = {" ".join("#" if any(c.isdigit() for c in t) else t for t in line.split()) for line in errors}
    shown = {
        " ".join("#" if any(c.isdigit() for c in t) else t for t in line.split()) for line in errors if line in kept
    }
    assert shapes == shown
    assert "\r" not in out.text


@pytest.mark.corpus
def test_ansi_coloured_logs_are_summarised_with_their_lines_verbatim(corpus_dir: Path) -> None:
    text = bad_inputs(corpus_dir)["ansi"]
    out = LogCompressor().compress(text, ctx_for())
    assert out is not None
    kept = out.text.splitlines()
    assert text.splitlines()[0] in kept
    assert any(_ERROR.search(line) and "\x1b[" in line for line in kept)
    assert len(out.text) < len(text) * 0.2


@pytest.mark.corpus
def test_compress_passes_bad_tool_outputs_through_or_compresses_them(corpus_dir: Path) -> None:
    for label, text in bad_inputs(corpus_dir).items():
        if label == "10 MB line":
            continue  # covered below with a smaller model window check
        messages = [
            {"role": "user", "content": "what went wrong?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "fetch", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "t1", "content": text},
        ]  # fmt: skip
        result = headroom.compress(messages, model="gpt-4o")
        assert result.errors == 0, label
        content = result.messages[2]["content"]
        assert content == text or (result.ccr_keys and headroom.retrieve(result.ccr_keys[0]) == text), label


@pytest.mark.corpus
def test_compress_survives_a_single_10_mb_line(corpus_dir: Path) -> None:
    text = bad_inputs(corpus_dir)["10 MB line"]
    messages = [{"role": "user", "content": "summarise"}, {"role": "tool", "tool_call_id": "t1", "content": text}]
    result = headroom.compress(messages, model="gpt-4o", config=HeadroomConfig(model_context_limits={"gpt-4o": 10**8}))
    assert result.errors == 0
    assert result.messages[1]["content"] == text
