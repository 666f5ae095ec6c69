"""Template mining: masking, shapes and Drain-like merging on real log lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from headroom.compressors.log_templates import WILDCARD, distinct_values, line_keys, mask_text, merge_shapes, shapes_of


def test_mask_replaces_digit_and_hex_tokens_and_keeps_line_breaks() -> None:
    text = "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 RAS KERNEL FATAL fpr29=0xffffffff ffffffff\nplain words\r\nx"
    masked = mask_text(text)
    assert masked.splitlines() == ["- # # # RAS KERNEL FATAL # #", "plain words", "x"]


def test_mask_is_linear_on_a_long_line_without_digits() -> None:
    line = "abcdefg " * 1_000_000 + "z" * 2_000_000
    assert len(mask_text(line)) == len(line)


@pytest.mark.corpus
def test_shapes_group_lines_that_differ_only_in_numbers(corpus_dir: Path) -> None:
    lines = (corpus_dir / "logs" / "HDFS_2k.log").read_text().splitlines()
    shapes = shapes_of(line_keys("\n".join(lines)))
    assert sum(len(s.members) for s in shapes.values()) == len(lines)
    assert len(shapes) < 60
    for shape in shapes.values():
        assert shape.members == sorted(shape.members)


@pytest.mark.corpus
def test_merging_joins_shapes_that_differ_in_one_word(corpus_dir: Path) -> None:
    lines = (corpus_dir / "logs" / "OpenSSH_2k.log").read_text().splitlines()
    shapes = shapes_of(line_keys("\n".join(lines)))
    templates = merge_shapes(shapes.values(), 0.6)
    assert len(templates) < len(shapes)
    assert any(WILDCARD in t.tokens for t in templates)
    assert sum(t.count for t in templates) == len(lines)


@pytest.mark.corpus
def test_distinct_values_lists_few_values_and_skips_many(corpus_dir: Path) -> None:
    lines = (corpus_dir / "logs" / "Linux_2k.log").read_text().splitlines()
    shapes = shapes_of(line_keys("\n".join(lines)))
    templates = merge_shapes(shapes.values(), 0.6)
    biggest = max(templates, key=lambda t: t.count)
    values, scanned = distinct_values(biggest, lines, limit=3)
    assert scanned == biggest.count
    assert all(1 < len(v) <= 3 for _, v in values)
