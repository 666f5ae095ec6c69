"""CompressResult in Jupyter and at the REPL: a compact table, a short repr, Markdown that reads."""

from __future__ import annotations

import html
import json
from html.parser import HTMLParser
from pathlib import Path

import headroom
from headroom.display import html_table, markdown_table

SAMPLES = Path(__file__).resolve().parents[2] / "core" / "headroom" / "samples"
RUNS = (SAMPLES / "json" / "PullRequest2408.test_get_workflow_runs.85.json").read_text()


def _result() -> headroom.CompressResult:
    runs = json.dumps(json.loads(RUNS)["body"])
    call = {"id": "call_1", "type": "function", "function": {"name": "list_runs", "arguments": "{}"}}
    return headroom.compress(
        [
            {"role": "user", "content": "Which workflow run failed?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": runs},
        ],
        "gpt-4o",
    )


class _Cells(HTMLParser):
    """The text of every table cell, and whether tags balance."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.open: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.append(tag)
        if tag in ("td", "th"):
            self.cells.append("")
            self._in_cell = True

    def handle_endtag(self, tag: str) -> None:
        assert self.open.pop() == tag
        self._in_cell = False if tag in ("td", "th") else self._in_cell

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.cells[-1] += data


def test_html_display_is_a_balanced_table_of_figures_and_kept_items() -> None:
    parser = _Cells()
    result = _result()
    parser.feed(result._repr_html_())
    assert parser.open == []
    assert "kept 6 of 30 items (1 error, 1 rare, 2 first, 1 last, 1 diverse)" in parser.cells
    assert result.ccr_keys[0] in parser.cells and "list_runs" in parser.cells


def test_html_display_captions_the_table_with_the_summary() -> None:
    result = _result()
    assert f'<caption style="text-align:left">{html.escape(result.summary())}</caption>' in result._repr_html_()


def test_markdown_display_is_a_summary_and_two_tables() -> None:
    text = _result()._repr_markdown_()
    lines = text.splitlines()
    assert lines[0].startswith("**") and lines[0].endswith("**")
    assert "| message | tool | transform | tokens before | tokens after | what was kept | CCR key |" in lines
    assert sum(1 for line in lines if line.startswith("|---")) == 2


def test_repr_is_one_short_line_without_the_messages() -> None:
    result = _result()
    text = repr(result)
    assert "\n" not in text and len(text) < 200 and "workflow_runs" not in text
    assert (
        text
        == f"<CompressResult optimize gpt-4o: 3 messages, {result.tokens_before:,} -> {result.tokens_after:,} tokens, 1 CCR keys>"
    )


def test_table_cells_are_escaped() -> None:
    assert "<td>&lt;script&gt;</td>" in html_table(("a",), [["<script>"]])


def test_markdown_cells_escape_pipes_and_newlines() -> None:
    assert markdown_table(("a",), [["x|y\nz"]]).splitlines()[-1] == "| x\\|y z |"
