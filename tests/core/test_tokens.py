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
