"""The search-result compressor on real ``grep -rn`` runs over this repository."""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from pathlib import Path

from headroom.ccr import CCRStore
from headroom.compressors.base import CompressionContext
from headroom.compressors.search_compressor import SearchCompressor, parse_search_line
from headroom.config import HeadroomConfig
from headroom.content_config import ContentConfig, SearchCompressorConfig
from headroom.tokens import get_counter

REPO = Path(__file__).resolve().parents[3]


def grep(*args: str) -> str:
    return subprocess.run(["grep", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout


def ctx_for(query: str = "", store: CCRStore | None = None, **fields: object) -> CompressionContext:
    config = HeadroomConfig(content=ContentConfig(search=SearchCompressorConfig(**fields)))
    return CompressionContext(config=config, counter=get_counter("gpt-4o"), query=query, store=store)


def files_of(output: str) -> dict[str, list[str]]:
    by_file: dict[str, list[str]] = defaultdict(list)
    for line in output.splitlines():
        parsed = parse_search_line(line)
        if parsed and parsed[2]:
            by_file[parsed[0]].append(line)
    return by_file


def test_keeps_every_files_first_match_verbatim() -> None:
    text = grep("-rn", "--include=*.py", "def ", "core/headroom")
    out = SearchCompressor().compress(text, ctx_for())
    assert out is not None
    original = files_of(text)
    kept = out.text.splitlines()
    assert all(matches[0] in kept for matches in original.values())


def test_keeps_the_match_the_question_is_about() -> None:
    text = grep("-rn", "--include=*.py", "def ", "core/headroom")
    target = next(line for line in text.splitlines() if "def query_identifiers" in line)
    out = SearchCompressor().compress(text, ctx_for(query="where is query_identifiers defined?"))
    assert out is not None
    assert target in out.text.splitlines()


def test_caps_matches_per_file_and_names_the_rest() -> None:
    text = grep("-rn", "--include=*.py", "def ", "core/headroom")
    out = SearchCompressor().compress(text, ctx_for(max_matches_per_file=2, max_extra_matches=500))
    assert out is not None
    kept = files_of(out.text)
    assert max(len(v) for v in kept.values()) == 2
    busiest = max(files_of(text).items(), key=lambda kv: len(kv[1]))
    assert re.search(rf"\[… {len(busiest[1]) - 2} more matches in {re.escape(busiest[0])} at L\d+-\d+ …\]", out.text)


def test_max_extra_matches_bounds_the_output_beyond_first_matches() -> None:
    text = grep("-rn", "--include=*.py", "def ", "core/headroom")
    n_files = len(files_of(text))
    none = SearchCompressor().compress(text, ctx_for(max_extra_matches=0))
    some = SearchCompressor().compress(text, ctx_for(max_extra_matches=50, max_matches_per_file=50))
    assert none is not None and some is not None
    assert none.details["kept_matches"] == n_files  # first matches are always kept
    assert some.details["kept_matches"] == n_files + 50


def test_context_lines_next_to_kept_matches_stay() -> None:
    text = grep("-rn", "--include=*.py", "-C", "1", "class ", "core/headroom")
    out = SearchCompressor().compress(text, ctx_for(max_matches_per_file=1, max_extra_matches=0))
    assert out is not None
    lines = text.splitlines()
    seen: set[str] = set()
    firsts_with_context = []
    for i, line in enumerate(lines[:-1]):
        parsed = parse_search_line(line)
        if parsed and parsed[2] and parsed[0] not in seen:
            seen.add(parsed[0])
            after = parse_search_line(lines[i + 1])
            if after and not after[2]:
                firsts_with_context.append(lines[i + 1])
    assert firsts_with_context
    kept = out.text.splitlines()
    assert all(context in kept for context in firsts_with_context)


def test_ccr_key_restores_all_results() -> None:
    text = grep("-rn", "--include=*.py", "import", "core/headroom")
    store = CCRStore("sqlite://")
    out = SearchCompressor().compress(text, ctx_for(store=store))
    assert out is not None and out.ccr_key and out.ccr_key in out.text
    assert store.get(out.ccr_key) == text
    assert out.transform == "search_compressor"


def test_reduces_tokens_of_a_large_search() -> None:
    text = grep("-rn", "--include=*.py", "self", "core/headroom")
    out = SearchCompressor().compress(text, ctx_for(query="retrieval feedback"))
    assert out is not None
    counter = get_counter("gpt-4o")
    assert counter.count(out.text) < counter.count(text) * 0.5


def test_small_disabled_or_protected_results_pass_through() -> None:
    text = grep("-rn", "def ", "core/headroom/ccr")
    few = "\n".join(text.splitlines()[:10])
    assert SearchCompressor().compress(few, ctx_for()) is None
    assert SearchCompressor().compress(text, ctx_for(min_matches=10_000)) is None
    assert SearchCompressor().compress(text, ctx_for(enabled=False)) is None
    protected = ctx_for()
    protected.lossless_only = True
    assert SearchCompressor().compress(text, protected) is None


def test_understands_heading_mode_output() -> None:
    text = subprocess.run(
        ["git", "grep", "-n", "--heading", "--break", "def ", "--", "core/headroom/*.py"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    target = "core/headroom/relevance.py"
    out = SearchCompressor().compress(text, ctx_for(query="where is query_identifiers defined?"))
    assert out is not None
    kept = out.text.splitlines()
    assert target in kept
    block = text.split(target + "\n", 1)[1].split("\n\n", 1)[0].splitlines()
    wanted = next(line for line in block if "def query_identifiers" in line)
    assert wanted in kept
    assert out.details["files"] == text.count("\n\n") + 1


def test_compress_routes_a_grep_tool_result_to_the_search_compressor() -> None:
    import headroom

    text = grep("-rn", "--include=*.py", "def ", "core/headroom")
    messages = [
        {"role": "user", "content": "Where is query_identifiers defined?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "g1", "type": "function", "function": {"name": "grep", "arguments": '{"pattern": "def "}'}}]},
        {"role": "tool", "tool_call_id": "g1", "content": text},
    ]  # fmt: skip
    result = headroom.compress(messages, model="gpt-4o")
    assert "search_compressor" in result.transforms_applied
    assert next(line for line in text.splitlines() if "def query_identifiers" in line) in result.messages[2]["content"]
    assert headroom.retrieve(result.ccr_keys[0]) == text


def test_a_plain_question_keeps_the_match_it_names_in_other_words() -> None:
    text = grep("-rn", "--include=*.py", "def ", "core/headroom")
    target = next(line for line in text.splitlines() if "/tokens.py:" in line and "def count(self" in line)
    out = SearchCompressor().compress(text, ctx_for(query="where are tokens counted?"))
    assert out is not None
    assert target in out.text.splitlines()


def test_each_level_keeps_fewer_hits_and_the_named_match() -> None:
    text = grep("-rn", "--include=*.py", "def ", "core/headroom")
    target = next(line for line in text.splitlines() if "def query_identifiers" in line)
    outs = []
    for level in (0, 1, 2):
        ctx = ctx_for(query="where is query_identifiers defined?")
        ctx.level = level
        out = SearchCompressor().compress(text, ctx)
        assert out is not None
        assert target in out.text.splitlines()
        outs.append(out.details["kept_matches"])
    assert outs[0] > outs[1] > outs[2]
