"""Speed of the hot paths, with pytest-benchmark (run: ``pytest tests/benchmarks --benchmark-enable``).

With the project's default ``--benchmark-disable`` each runs once as an ordinary test, so the
suite checks that every benchmark still works; timings are read from an enabled run, never
asserted. The data is the real sample set bundled with Headroom.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import headroom
import pytest
from headroom.compressors.base import CompressionContext
from headroom.compressors.log_compressor import LogCompressor
from headroom.compressors.router import result_cache
from headroom.compressors.smart_crusher import SmartCrusher
from headroom.config import HeadroomConfig
from headroom.tokens import get_counter

RUNS = "PullRequest2408.test_get_workflow_runs.85.json"
QUESTION = "What happened with workflow run 2802600146?"


def _tool_call(content: str, question: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": question},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "list_runs", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": content},
    ]


@pytest.fixture(scope="module")
def runs_text(samples_dir: Path) -> str:
    return json.dumps(json.loads((samples_dir / "json" / RUNS).read_text())["body"])


def test_compress_a_new_json_tool_output(benchmark: Any, runs_text: str) -> None:
    messages = _tool_call(runs_text, QUESTION)
    config = HeadroomConfig()

    def cold() -> headroom.CompressResult:
        result_cache.clear()  # a tool output not seen before
        return headroom.compress(messages, config=config)

    result = benchmark(cold)
    assert "2802600146" in result.messages[-1]["content"] and result.ccr_keys


def test_compress_a_tool_output_seen_before(benchmark: Any, runs_text: str) -> None:
    messages = _tool_call(runs_text, QUESTION)
    headroom.compress(messages)
    result = benchmark(headroom.compress, messages)
    assert result.transforms_applied == ("smart_crusher:lossy",)


def test_smart_crusher_alone(benchmark: Any, runs_text: str) -> None:
    ctx = CompressionContext(config=HeadroomConfig(), counter=get_counter("gpt-4o"), query=QUESTION, persist=False)
    out = benchmark(SmartCrusher().compress, runs_text, ctx)
    assert out is not None and out.lossy


def test_log_compressor_alone(benchmark: Any, samples_dir: Path) -> None:
    log = (samples_dir / "logs" / "HDFS_2k.log").read_text()
    ctx = CompressionContext(
        config=HeadroomConfig(), counter=get_counter("gpt-4o"), query="which blocks failed?", persist=False
    )
    out = benchmark(LogCompressor().compress, log, ctx)
    assert out is not None and len(out.text) < len(log) / 5
