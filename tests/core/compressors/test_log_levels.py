"""What each compression level of the log compressor keeps, from the settings."""

from __future__ import annotations

from headroom.compressors.log_levels import Effort
from headroom.content_config import LogCompressorConfig


def test_level_zero_is_the_settings_as_they_are() -> None:
    cfg = LogCompressorConfig(keep_first_lines=5, max_query_matches=12)
    effort = Effort.of(cfg, 0)
    assert (effort.first_lines, effort.query_budget, effort.ordinary_examples) == (5, 12, True)


def test_level_one_keeps_about_half() -> None:
    effort = Effort.of(LogCompressorConfig(), 1)
    assert (effort.first_lines, effort.last_lines, effort.query_budget) == (1, 1, 12)
    assert effort.similarity < LogCompressorConfig().similarity_threshold
    assert not effort.full_notes and effort.ordinary_examples


def test_level_two_keeps_no_ordinary_examples_and_a_quarter_of_the_named_lines() -> None:
    effort = Effort.of(LogCompressorConfig(), 2)
    assert (effort.first_lines, effort.last_lines, effort.query_budget) == (0, 0, 6)
    assert not effort.ordinary_examples


def test_levels_beyond_the_range_count_as_its_ends() -> None:
    cfg = LogCompressorConfig()
    assert Effort.of(cfg, -1) == Effort.of(cfg, 0)
    assert Effort.of(cfg, 7) == Effort.of(cfg, 2)


def test_no_named_lines_at_level_zero_means_none_at_any_level() -> None:
    cfg = LogCompressorConfig(max_query_matches=0)
    assert {Effort.of(cfg, level).query_budget for level in (0, 1, 2)} == {0}
