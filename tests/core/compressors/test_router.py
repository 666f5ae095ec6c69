"""The content router: text that only looks like JSON is routed by its other cues, parsed once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from headroom.compressors.base import CompressionContext
from headroom.compressors.detection import ContentType, detect_content_type
from headroom.compressors.router import compress_content, result_cache
from headroom.config import HeadroomConfig
from headroom.tokens import get_counter


def _ctx() -> CompressionContext:
    return CompressionContext(
        config=HeadroomConfig(stateless=True),
        counter=get_counter("gpt-4o"),
        query="which logins failed?",
        persist=False,
    )


@pytest.fixture(autouse=True)
def _cold_router() -> None:
    result_cache.clear()


def _log_lines(samples_dir: Path) -> list[str]:
    return (samples_dir / "logs" / "OpenSSH_2k.log").read_text().splitlines()


def test_json_lines_log_goes_to_the_log_compressor(samples_dir: Path) -> None:
    lines = _log_lines(samples_dir)
    ndjson = "\n".join(json.dumps({"n": i, "line": line}) for i, line in enumerate(lines))
    assert detect_content_type(ndjson, parse_json=False) is ContentType.JSON  # it opens and closes like JSON
    out, kind, reason, _ = compress_content(ndjson, _ctx())
    assert kind is ContentType.LOG and out is not None, reason
    assert out.transform.startswith("log_compressor")


def test_bracketed_log_ending_in_a_bracket_is_routed_as_a_log(samples_dir: Path) -> None:
    lines = _log_lines(samples_dir)
    text = "\n".join(f"[{line[:15]}] {line[16:]}" for line in lines) + "\n[0] end of capture]"
    out, kind, reason, _ = compress_content(text, _ctx())
    assert kind is detect_content_type(text) is ContentType.LOG
    assert out is not None, reason


def test_a_json_sample_is_parsed_by_the_crusher_only(samples_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = (samples_dir / "json" / "Search.testSearchRepos.118.json").read_text()
    text = json.dumps(json.loads(raw)["body"])
    calls: list[int] = []
    real_loads = json.loads

    def counting_loads(s: str, *args: object, **kwargs: object) -> object:
        calls.append(len(s))
        return real_loads(s, *args, **kwargs)

    monkeypatch.setattr(json, "loads", counting_loads)
    out, kind, reason, _ = compress_content(text, _ctx())
    assert kind is ContentType.JSON and out is not None, reason
    assert len(text) not in calls  # no whole-document json.loads: detection left the parse to the crusher


def test_nesting_too_deep_passes_through_with_its_reason() -> None:
    out, kind, reason, _ = compress_content("[" * 10_000 + "]" * 10_000, _ctx())
    assert out is None and kind is ContentType.JSON
    assert "nesting too deep" in reason
