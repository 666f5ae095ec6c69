"""The text compressor on real prose (pydoc pages) and real listings (``ls -l``): repetition collapses, kept lines stay."""

from __future__ import annotations

import json
import pydoc
import re
import subprocess
import sys
from pathlib import Path

import pytest
from headroom.ccr import CCRStore
from headroom.compressors.base import CompressionContext
from headroom.compressors.text_compressor import TextCompressor
from headroom.config import HeadroomConfig
from headroom.content_config import ContentConfig, TextCompressorConfig
from headroom.tokens import get_counter

_MARKER = re.compile(r"^\[… .* …\]$")


def ctx_for(query: str = "", store: CCRStore | None = None, **fields: object) -> CompressionContext:
    config = HeadroomConfig(content=ContentConfig(text=TextCompressorConfig(**fields)))
    return CompressionContext(config=config, counter=get_counter("gpt-4o"), query=query, store=store)


@pytest.fixture(scope="module")
def doc_read_twice() -> str:
    """The pydoc page of the json module as an agent sees it after reading it twice."""
    page = pydoc.render_doc(json, renderer=pydoc.plaintext)
    return page + "\n\n" + page


@pytest.fixture(scope="module")
def listing() -> str:
    """A real directory listing (the standard library): runs of lines of the same shape."""
    stdlib = Path(json.__file__).parent.parent
    return subprocess.run(["ls", "-l", str(stdlib)], capture_output=True, text=True, check=True).stdout


def body_lines(output: str) -> list[str]:
    return [line for line in output.splitlines()[1:] if not _MARKER.match(line)]


def test_collapses_a_repeated_page_to_about_half(doc_read_twice: str) -> None:
    out = TextCompressor().compress(doc_read_twice, ctx_for())
    assert out is not None
    counter = get_counter("gpt-4o")
    assert counter.count(out.text) < counter.count(doc_read_twice) * 0.6
    assert out.details["duplicate_paragraphs"] > 10


def test_never_alters_the_lines_it_keeps(doc_read_twice: str, listing: str) -> None:
    for text in (doc_read_twice, listing):
        out = TextCompressor().compress(text, ctx_for())
        assert out is not None
        original = text.splitlines()
        kept = body_lines(out.text)
        it = iter(original)
        assert all(any(line == o for o in it) for line in kept), "kept lines must be original lines, in order"


def test_collapses_runs_of_near_duplicate_lines_keeping_the_first(listing: str) -> None:
    out = TextCompressor().compress(listing, ctx_for())
    assert out is not None
    assert out.details["runs"] >= 1
    assert listing.splitlines()[1] in out.text.splitlines()
    assert re.search(r"^\[… \d+ similar lines omitted \(L\d+-\d+\) …\]$", out.text, re.M)


def omitted_module_line(listing: str) -> str:
    """A line of the listing that plain compression collapses (a .py file in the middle of a run)."""
    plain = TextCompressor().compress(listing, ctx_for())
    assert plain is not None
    kept = set(plain.text.splitlines())
    omitted = [line for line in listing.splitlines() if line not in kept and line.endswith(".py")]
    assert omitted
    return omitted[len(omitted) // 2]


def test_keeps_collapsed_lines_the_question_names(listing: str) -> None:
    target = omitted_module_line(listing)
    asked = TextCompressor().compress(listing, ctx_for(query=f"how large is {target.split()[-1]}?"))
    assert asked is not None
    assert target in asked.text.splitlines()


def test_max_relevant_blocks_zero_keeps_nothing_extra(listing: str) -> None:
    target = omitted_module_line(listing)
    out = TextCompressor().compress(
        listing, ctx_for(query=f"how large is {target.split()[-1]}?", max_relevant_blocks=0)
    )
    assert out is not None
    assert target not in out.text.splitlines()


def test_min_run_and_threshold_decide_what_is_a_run(listing: str) -> None:
    default = TextCompressor().compress(listing, ctx_for())
    long_runs = TextCompressor().compress(listing, ctx_for(min_run=40))
    exact_only = TextCompressor().compress(listing, ctx_for(near_duplicate_threshold=1.0))
    assert default is not None
    assert long_runs is None or long_runs.details["runs"] < default.details["runs"]
    assert exact_only is None or exact_only.details["omitted_lines"] < default.details["omitted_lines"]


def test_ccr_key_restores_the_original(doc_read_twice: str) -> None:
    store = CCRStore("sqlite://")
    out = TextCompressor().compress(doc_read_twice, ctx_for(store=store))
    assert out is not None and out.ccr_key and out.ccr_key in out.text
    assert store.get(out.ccr_key) == doc_read_twice
    assert out.transform == "text_compressor"


def test_prose_without_repetition_passes_through() -> None:
    page = pydoc.render_doc(sys.modules["json"].decoder, renderer=pydoc.plaintext)
    assert TextCompressor().compress(page, ctx_for()) is None


def test_short_disabled_or_protected_text_passes_through(doc_read_twice: str) -> None:
    assert TextCompressor().compress(doc_read_twice, ctx_for(min_lines=10**6)) is None
    assert TextCompressor().compress(doc_read_twice, ctx_for(enabled=False)) is None
    protected = ctx_for()
    protected.lossless_only = True
    assert TextCompressor().compress(doc_read_twice, protected) is None


def test_compress_collapses_a_page_read_twice(doc_read_twice: str) -> None:
    import headroom

    messages = [
        {"role": "user", "content": "What does json.dumps do?"},
        {"role": "tool", "tool_call_id": "p1", "content": doc_read_twice},
    ]
    result = headroom.compress(messages, model="gpt-4o")
    assert "text_compressor" in result.transforms_applied
    assert headroom.retrieve(result.ccr_keys[0]) == doc_read_twice


def test_each_level_keeps_fewer_lines_and_the_lines_naming_the_question(doc_read_twice: str) -> None:
    named = next(line for line in doc_read_twice.splitlines() if "JSONDecodeError" in line)
    sizes = []
    for level in (0, 1, 2):
        ctx = ctx_for(query="when is JSONDecodeError raised?")
        ctx.level = level
        out = TextCompressor().compress(doc_read_twice, ctx)
        assert out is not None
        assert named in out.text.splitlines()
        sizes.append(len(out.text))
    assert sizes[0] > sizes[1] > sizes[2]


def test_a_harder_level_compresses_prose_without_repetition() -> None:
    page = pydoc.render_doc(sys.modules["json"].decoder, renderer=pydoc.plaintext)
    ctx = ctx_for()
    ctx.level = 2
    out = TextCompressor().compress(page, ctx)
    assert out is not None
    assert re.search(r"^\[… \d+ lines? omitted \(L\d+-\d+\) …\]$", out.text, re.M)
    assert body_lines(out.text)[0] == page.splitlines()[0]


def test_a_plain_question_keeps_a_collapsed_line_naming_a_word_form(listing: str) -> None:
    plain = TextCompressor().compress(listing, ctx_for())
    assert plain is not None
    kept = set(plain.text.splitlines())
    omitted = [
        line
        for line in listing.splitlines()
        if line not in kept and line.endswith(".py") and line.split()[-1][:-3].isalpha() and len(line.split()[-1]) > 7
    ]
    target = omitted[len(omitted) // 2]
    name = target.split()[-1][:-3]
    asked = TextCompressor().compress(listing, ctx_for(query=f"which files hold the {name}s?"))
    assert asked is not None
    assert target in asked.text.splitlines()
