"""The log compressor on the real loghub logs: errors, alerts, quoted lines and traces survive verbatim."""

from __future__ import annotations

import io
import json
import logging
import re
from collections import defaultdict
from pathlib import Path

import headroom
import pytest
from headroom.ccr import CCRStore, execute_retrieve_tool
from headroom.compressors.base import CompressionContext
from headroom.compressors.log_compressor import LogCompressor
from headroom.config import HeadroomConfig
from headroom.content_config import ContentConfig, LogCompressorConfig
from headroom.tokens import get_counter
from hypothesis import given, settings
from hypothesis import strategies as st

LOG_NAMES = [
    "Android", "Apache", "BGL", "HDFS", "HPC", "Hadoop", "HealthApp", "Linux",
    "Mac", "OpenSSH", "OpenStack", "Proxifier", "Spark", "Thunderbird", "Windows", "Zookeeper",
]  # fmt: skip
_ERROR = re.compile(r"(?i)error|fatal|severe|exception")
_HEX = re.compile(r"^(0x)?[0-9a-fA-F]{8,}[,;:.)]?$")
_COUNT = re.compile(r"^  \^ ×(\d+) ")


def shape(line: str) -> str:
    """Lines that differ only in numbers, ids, addresses or hex strings share a shape (Drain's pre-processing)."""
    return " ".join("<*>" if any(c.isdigit() for c in tok) or _HEX.match(tok) else tok for tok in line.split())


def ctx_for(config: HeadroomConfig | None = None, query: str = "", store: CCRStore | None = None) -> CompressionContext:
    return CompressionContext(
        config=config or HeadroomConfig(), counter=get_counter("gpt-4o"), query=query, store=store
    )


def log_config(**fields: object) -> HeadroomConfig:
    return HeadroomConfig(content=ContentConfig(log=LogCompressorConfig(**fields)))


def read_log(corpus_dir: Path, name: str) -> str:
    return (corpus_dir / "logs" / f"{name}_2k.log").read_text(encoding="utf-8")


def compress(text: str, **kw: object) -> str:
    out = LogCompressor().compress(text, ctx_for(**kw))  # type: ignore[arg-type]
    assert out is not None
    return out.text


def check_shapes(all_lines: list[str], selected: list[str], output: str) -> None:
    """Each shape of ``selected`` has a verbatim example in ``output`` and its count in the log is stated."""
    out_lines = output.splitlines()
    totals: dict[str, int] = defaultdict(int)
    for line in all_lines:
        totals[shape(line)] += 1
    groups: dict[str, set[str]] = defaultdict(set)
    for line in selected:
        groups[shape(line)].add(line)
    missing = []
    for s, members in groups.items():
        shown = [i for i, line in enumerate(out_lines) if line in members]
        if not shown:
            missing.append(f"no example of {s[:120]}")
            continue
        stated = [int(m.group(1)) for i in shown if i + 1 < len(out_lines) and (m := _COUNT.match(out_lines[i + 1]))]
        if totals[s] > 1 and totals[s] not in stated and len(shown) != totals[s]:
            missing.append(f"count {totals[s]} of {s[:120]} not stated (stated: {stated})")
    assert not missing, "\n".join(missing)


@pytest.mark.corpus
@pytest.mark.parametrize("name", LOG_NAMES)
def test_keeps_every_error_shape_verbatim_with_its_count(corpus_dir: Path, name: str) -> None:
    text = read_log(corpus_dir, name)
    lines = text.splitlines()
    errors = [line for line in lines if _ERROR.search(line)]
    check_shapes(lines, errors, compress(text))


@pytest.mark.corpus
def test_keeps_every_bgl_alert_shape_verbatim_with_its_count(corpus_dir: Path) -> None:
    text = read_log(corpus_dir, "BGL")
    lines = text.splitlines()
    alerts = [line for line in lines if not line.startswith("- ")]
    assert len(alerts) > 100
    check_shapes(lines, alerts, compress(text))


@pytest.mark.corpus
@pytest.mark.parametrize("name", LOG_NAMES)
def test_keeps_the_line_the_question_quotes(corpus_dir: Path, name: str) -> None:
    lines = read_log(corpus_dir, name).splitlines()
    quoted = [lines[700], lines[1234]]
    question = f'What caused this, and what happened around it? "{quoted[0]}" and later "{quoted[1]}"'
    out = compress("\n".join(lines), query=question).splitlines()
    assert all(q in out for q in quoted)


@pytest.mark.corpus
@pytest.mark.parametrize("name", LOG_NAMES)
def test_ccr_key_restores_the_original_exactly(corpus_dir: Path, name: str) -> None:
    text = read_log(corpus_dir, name)
    store = CCRStore("sqlite://")
    out = LogCompressor().compress(text, ctx_for(store=store))
    assert out is not None and out.ccr_key is not None
    assert out.ccr_key in out.text
    assert store.get(out.ccr_key) == text


@pytest.mark.corpus
def test_reduces_the_corpus_logs_by_more_than_85_percent(corpus_dir: Path) -> None:
    counter = get_counter("gpt-4o")
    before = after = 0
    for name in LOG_NAMES:
        text = read_log(corpus_dir, name)
        before += counter.count(text)
        after += counter.count(compress(text))
    assert after < before * 0.15


@pytest.mark.corpus
def test_omitted_line_ranges_in_markers_are_retrievable(corpus_dir: Path) -> None:
    text = read_log(corpus_dir, "Zookeeper")
    store = CCRStore("sqlite://")
    out = LogCompressor().compress(text, ctx_for(store=store))
    assert out is not None and out.ccr_key
    gap = re.search(r"^… L(\d+)-(\d+) …$", out.text, re.M)
    assert gap is not None
    start, end = int(gap.group(1)), int(gap.group(2))
    got = execute_retrieve_tool({"key": out.ccr_key, "lines": f"{start}-{end}"}, store)
    assert got.splitlines() == text.splitlines()[start - 1 : end]


@pytest.mark.corpus
def test_annotation_names_first_and_last_timestamp_and_few_values(corpus_dir: Path) -> None:
    text = read_log(corpus_dir, "OpenSSH")
    out = compress(text)
    # "Failed password for root from <ip>" lines: the annotation gives the time span of the template.
    assert re.search(r"^  \^ ×\d+(?: \(\d+ omitted\))? L\d+-\d+ \| Dec 10 \d\d:\d\d:\d\d … \d\d:\d\d:\d\d", out, re.M)
    assert "values: " in out


def real_traceback_log(corpus_dir: Path) -> str:
    """A log written by Python's logging: Hadoop messages as INFO lines, real exceptions with tracebacks."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(name)s] %(message)s"))
    log = logging.getLogger("headroom-test-service")
    log.handlers = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False
    messages = [line.split(": ", 1)[-1] for line in read_log(corpus_dir, "Hadoop").splitlines()[:400]]
    for i, message in enumerate(messages):
        log.info(message)
        if i % 50 == 25:
            try:
                json.loads('{"attempt": ' + str(i))
            except ValueError:
                log.exception("could not parse the payload of attempt %d", i)
        if i % 120 == 60:
            try:
                int(f"x{i}")
            except ValueError:
                log.exception("bad container id")
    return stream.getvalue()


def traceback_blocks(lines: list[str]) -> list[str]:
    """Every 'Traceback (most recent call last):' block through its final exception line, as text."""
    blocks = []
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last):"):
            j = i + 1
            while j < len(lines) and lines[j].startswith(" "):
                j += 1
            blocks.append("\n".join(lines[i : j + 1]))
    return blocks


@pytest.mark.corpus
def test_never_cuts_a_stack_trace(corpus_dir: Path) -> None:
    text = real_traceback_log(corpus_dir)
    original = traceback_blocks(text.splitlines())
    assert len(original) == 11
    shown = traceback_blocks(compress(text).splitlines())
    assert shown, "no trace kept"
    assert all(block in original for block in shown)


@pytest.mark.corpus
def test_every_exception_kind_keeps_one_whole_trace_and_its_count(corpus_dir: Path) -> None:
    text = real_traceback_log(corpus_dir)
    shown = traceback_blocks(compress(text).splitlines())
    assert {block.splitlines()[-1].split(":", 1)[0] for block in shown} == {
        "json.decoder.JSONDecodeError",
        "ValueError",
    }
    out = compress(text)
    assert "×8 records of this shape" in out
    assert "×3 records of this shape" in out


# -- configuration -----------------------------------------------------------------------------


@pytest.mark.corpus
def test_keep_first_and_last_lines_are_configurable(corpus_dir: Path) -> None:
    lines = read_log(corpus_dir, "Spark").splitlines()
    out = compress("\n".join(lines), config=log_config(keep_first_lines=12, keep_last_lines=9)).splitlines()
    assert all(line in out for line in lines[:12] + lines[-9:])


@pytest.mark.corpus
def test_lower_similarity_threshold_joins_more_shapes(corpus_dir: Path) -> None:
    text = read_log(corpus_dir, "Mac")
    loose = LogCompressor().compress(text, ctx_for(config=log_config(similarity_threshold=0.3)))
    strict = LogCompressor().compress(text, ctx_for(config=log_config(similarity_threshold=1.0)))
    assert loose is not None and strict is not None
    assert loose.details["kept_lines"] < strict.details["kept_lines"]


@pytest.mark.corpus
def test_max_distinct_values_zero_lists_no_values(corpus_dir: Path) -> None:
    text = read_log(corpus_dir, "OpenSSH")
    assert "values: " in compress(text, config=log_config(max_distinct_values=4))
    assert "values: " not in compress(text, config=log_config(max_distinct_values=0))


@pytest.mark.corpus
def test_lines_naming_a_question_identifier_are_capped_and_the_rest_named(corpus_dir: Path) -> None:
    text = read_log(corpus_dir, "BGL")
    node = "R30-M0-N9-C:J16-U01"
    hits = [line for line in text.splitlines() if node in line]
    assert len(hits) > 30
    out = compress(text, query=f"why did node {node} fail?", config=log_config(max_query_matches=10))
    kept = [line for line in out.splitlines() if line in set(hits)]
    assert 10 <= len(kept) < len(hits)
    assert f'more lines name "{node}"' in out


@pytest.mark.corpus
def test_importance_pattern_decides_which_lines_count_as_errors(corpus_dir: Path) -> None:
    text = read_log(corpus_dir, "Apache")
    out = LogCompressor().compress(text, ctx_for(config=log_config(importance_pattern=r"jk2_init\(\) found child")))
    assert out is not None
    expected = {shape(line) for line in text.splitlines() if "jk2_init() Found child" in line}
    assert out.details["error_shapes"] == len(expected)


@pytest.mark.corpus
def test_short_logs_disabled_or_protected_pass_through(corpus_dir: Path) -> None:
    text = read_log(corpus_dir, "HDFS")
    short = "\n".join(text.splitlines()[:39])
    assert LogCompressor().compress(short, ctx_for()) is None
    assert LogCompressor().compress(text, ctx_for(config=log_config(min_lines=5000))) is None
    assert LogCompressor().compress(text, ctx_for(config=log_config(enabled=False))) is None
    protected = ctx_for()
    protected.lossless_only = True
    assert LogCompressor().compress(text, protected) is None


@pytest.mark.corpus
def test_compress_on_a_tool_message_routes_logs_and_restores_by_key(corpus_dir: Path) -> None:
    text = read_log(corpus_dir, "Linux")
    messages = [
        {"role": "user", "content": "Why do the ssh logins fail?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "fetch_logs", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": text},
    ]  # fmt: skip
    result = headroom.compress(messages, model="gpt-4o")
    assert "log_compressor" in result.transforms_applied
    assert result.tokens_after < result.tokens_before * 0.2
    assert headroom.retrieve(result.ccr_keys[0]) == text


@pytest.mark.corpus
def test_router_cache_does_not_serve_a_result_made_with_other_content_settings(corpus_dir: Path) -> None:
    from headroom.compressors.router import compress_content

    text = read_log(corpus_dir, "HDFS")
    store = CCRStore("sqlite://")
    first, _, _, _ = compress_content(text, ctx_for(config=log_config(keep_first_lines=1), store=store))
    second, _, _, hit = compress_content(text, ctx_for(config=log_config(keep_first_lines=30), store=store))
    assert first is not None and second is not None
    assert not hit
    assert second.details["kept_lines"] > first.details["kept_lines"]


@pytest.mark.corpus
def test_same_log_and_settings_give_the_same_output(corpus_dir: Path) -> None:
    text = read_log(corpus_dir, "Thunderbird")
    assert compress(text, query="why did dn228 fail?") == compress(text, query="why did dn228 fail?")


@pytest.mark.corpus
def test_each_compression_is_counted_in_the_metrics(corpus_dir: Path) -> None:
    from headroom import metrics

    before = metrics.snapshot()
    out = LogCompressor().compress(read_log(corpus_dir, "HPC"), ctx_for())
    after = metrics.snapshot()
    assert out is not None
    assert after.get("content.log_compressor", 0) == before.get("content.log_compressor", 0) + 1
    assert (
        after.get("content.log_compressor.omitted_lines", 0) - before.get("content.log_compressor.omitted_lines", 0)
        == out.details["omitted_lines"]
    )


@pytest.mark.corpus
@pytest.mark.parametrize("name", LOG_NAMES)
def test_each_level_is_smaller_and_keeps_every_error_shape(corpus_dir: Path, name: str) -> None:
    text = read_log(corpus_dir, name)
    lines = text.splitlines()
    errors = [line for line in lines if _ERROR.search(line)]
    counter = get_counter("gpt-4o")
    sizes = []
    for level in (0, 1, 2):
        ctx = ctx_for()
        ctx.level = level
        out = LogCompressor().compress(text, ctx)
        assert out is not None
        check_shapes(lines, errors, out.text)
        sizes.append(counter.count(out.text))
    assert sizes[0] > sizes[1] > sizes[2]


@given(
    st.lists(st.text(alphabet="abcd' ", min_size=1, max_size=5), min_size=1, max_size=8),
    st.text(alphabet="abcd' \n1", max_size=200),
)
@settings(max_examples=300, deadline=None)
def test_a_word_list_pattern_grouped_by_first_letter_finds_what_the_plain_pattern_finds(
    words: list[str], text: str
) -> None:
    from headroom.compressors.log_compressor import _importance

    pattern = "|".join(words)
    assert _importance(pattern).findall(text) == re.compile(pattern).findall(text)


def test_the_default_problem_words_are_compiled_grouped() -> None:
    from headroom.compressors.log_compressor import _importance

    assert _importance(LogCompressorConfig().importance_pattern).pattern.startswith("e(?:rror|xception)|")
