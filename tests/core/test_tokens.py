"""Token counting: exact per OpenAI family, documented estimates elsewhere, never a network call."""

from __future__ import annotations

import logging
import math
import socket
from pathlib import Path

import pytest
from headroom import tokens
from headroom.tokens import TokenCounter, count_message_tokens, count_tokens, encoding_name_for

SAMPLE = (Path(__file__).resolve().parents[2] / "core/headroom/samples/logs/HDFS_2k.log").read_text()[:20000]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("token counting tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("ft:gpt-4o:acme", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("claude-sonnet-4-5", None),
    ],
)
def test_model_families_map_to_their_tokenizer(model: str, encoding: str | None) -> None:
    assert encoding_name_for(model) == encoding


def test_openai_counts_are_exact_and_offline(no_network: None) -> None:
    import tiktoken

    o200k = tokens._load_encoding("o200k_base")
    cl100k = tokens._load_encoding("cl100k_base")
    assert isinstance(o200k, tiktoken.Encoding) and isinstance(cl100k, tiktoken.Encoding)
    assert TokenCounter("gpt-4o").count(SAMPLE) == len(o200k.encode_ordinary(SAMPLE))
    assert TokenCounter("gpt-4").count(SAMPLE) == len(cl100k.encode_ordinary(SAMPLE))
    assert TokenCounter("gpt-4o").exact


def test_claude_estimate_is_documented_scale_of_o200k() -> None:
    exact = TokenCounter("gpt-4o").count(SAMPLE)
    counter = TokenCounter("claude-sonnet-4-5")
    assert counter.count(SAMPLE) == math.ceil(exact * 1.1) and not counter.exact


def test_missing_encoding_files_fall_back_to_estimate_and_warn_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture, no_network: None
) -> None:
    monkeypatch.setattr(tokens, "_encodings", {})
    monkeypatch.setattr(tokens, "_missing", set())
    monkeypatch.setattr(tokens, "_candidate_dirs", lambda: [tmp_path])
    with caplog.at_level(logging.WARNING, logger="headroom.tokens"):
        a = TokenCounter("gpt-4o")
        b = TokenCounter("gpt-4o")
    assert a.count(SAMPLE) == math.ceil(len(SAMPLE.encode()) / 3.6) == b.count(SAMPLE)
    assert not a.exact
    assert sum("estimates" in r.getMessage() for r in caplog.records) == 1


def test_user_tiktoken_cache_dir_is_honoured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    assert tokens._candidate_dirs()[0] == tmp_path


def test_counts_are_cached_by_content_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = TokenCounter("gpt-4o")
    first = counter.count(SAMPLE)
    monkeypatch.setattr(counter, "_count_uncached", lambda text: pytest.fail("recounted cached content"))
    assert counter.count(SAMPLE) == first


def test_lone_surrogates_are_counted_not_raised() -> None:
    assert count_tokens("bad \ud800 surrogate" * 10) > 0


def test_message_count_includes_tool_calls_and_framing() -> None:
    plain = [{"role": "user", "content": "hi"}]
    with_call = [
        *plain,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "search", "arguments": '{"q": "x"}'}}],
        },
    ]
    assert count_message_tokens(with_call) > count_message_tokens(plain) > count_tokens("hi")


def test_a_million_spaces_are_counted_not_raised() -> None:
    # tiktoken's split pattern overflows its regex stack on this (a pyo3 PanicException, a BaseException).
    assert count_tokens(" " * 1_000_000) > 0


def test_an_encoder_panic_is_counted_by_the_estimate_logged_once_and_counted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from headroom import metrics

    monkeypatch.setattr(tokens, "_encoder_failed", False)
    counter = TokenCounter("gpt-4o")
    spaces = " " * 1_000_000
    before = metrics.snapshot().get("errors.tokens.encoder", 0)
    with caplog.at_level(logging.WARNING, logger="headroom.tokens"):
        # Straight to the encoder, past the piecewise counting that avoids the panic: a real panic.
        first = counter._encode_len(spaces)
        second = counter._encode_len(spaces + " ")
    assert first == math.ceil(len(spaces) / 3.6)
    assert second > 0
    assert metrics.snapshot()["errors.tokens.encoder"] == before + 2
    assert sum("tiktoken failed" in r.getMessage() for r in caplog.records) == 1


def test_an_encoding_file_that_does_not_match_its_published_hash_gives_estimates(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundled = Path(tokens.__file__).parent / "_tiktoken" / "o200k_base.tiktoken"
    lines = bundled.read_bytes().splitlines(keepends=True)
    (tmp_path / "o200k_base.tiktoken").write_bytes(b"".join(lines[:-1]))  # one rank missing
    monkeypatch.setattr(tokens, "_encodings", {})
    monkeypatch.setattr(tokens, "_missing", set())
    monkeypatch.setattr(tokens, "_candidate_dirs", lambda: [tmp_path])
    counter = TokenCounter("gpt-4o")
    assert not counter.exact and counter.count(SAMPLE) == math.ceil(len(SAMPLE.encode()) / 3.6)


_LOAD_ONLY = """
import os, json, sys
before = dict(os.environ)
from headroom import tokens
tokens._load_encoding("o200k_base"); tokens._load_encoding("cl100k_base")
assert tokens.TokenCounter("gpt-4o").exact and tokens.TokenCounter("gpt-4").exact
print(json.dumps(dict(os.environ) == before))
"""


def test_loading_the_encodings_writes_no_file_and_leaves_the_environment_alone(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "TIKTOKEN_CACHE_DIR"}
    env.update(HOME=str(home), TMPDIR=str(tmp))
    out = subprocess.run([sys.executable, "-c", _LOAD_ONLY], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "true"
    assert list(home.iterdir()) == [] and list(tmp.iterdir()) == []


def test_compress_survives_a_tool_output_of_a_million_spaces() -> None:
    import headroom

    output = "run 2802600146 failed" + " " * 1_000_000 + "done"
    messages = [
        {"role": "user", "content": "Which run failed?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "logs", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": output},
    ]
    result = headroom.compress(messages)
    assert result.tokens_before > 0 and "2802600146" in result.messages[-1]["content"]
