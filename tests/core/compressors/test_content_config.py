"""ContentConfig: the settings tree of the content compressors, validated like every Headroom config."""

from __future__ import annotations

import pytest
from headroom.config import HeadroomConfig
from headroom.content_config import ContentConfig, LogCompressorConfig
from headroom.errors import ConfigurationError


def test_headroom_config_carries_content_settings_with_documented_defaults() -> None:
    content = HeadroomConfig().content
    assert isinstance(content, ContentConfig)
    for section in (content.log, content.search, content.diff, content.text, content.html, content.outline):
        for name, field in type(section).model_fields.items():
            assert field.description, f"{type(section).__name__}.{name} has no description"


def test_content_settings_accept_plain_dicts() -> None:
    cfg = HeadroomConfig(content={"log": {"keep_first_lines": 7}, "diff": {"context_lines": 0}})
    assert cfg.content.log.keep_first_lines == 7
    assert cfg.content.diff.context_lines == 0


def test_unknown_or_invalid_content_settings_raise_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="bogus"):
        LogCompressorConfig(bogus=1)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="similarity_threshold"):
        LogCompressorConfig(similarity_threshold=2.0)
    with pytest.raises(ConfigurationError):
        HeadroomConfig(content={"search": {"max_matches_per_file": 0}})
    with pytest.raises(ConfigurationError, match="importance_pattern"):
        LogCompressorConfig(importance_pattern="error|(unclosed")


def test_per_request_overrides_keep_content_settings() -> None:
    cfg = HeadroomConfig(content={"text": {"min_run": 9}}).with_overrides(headroom_keep_turns=5)
    assert cfg.content.text.min_run == 9
