"""How HeadroomCallbackHandler and its summary show in Jupyter: compact HTML and Markdown tables."""

from __future__ import annotations

from html.parser import HTMLParser

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage

from headroom_integrations.langchain import HeadroomCallbackHandler, HeadroomChatModel

USAGE = {"input_tokens": 900, "output_tokens": 12, "total_tokens": 912}


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.depth += 1
        if tag in ("td", "th"):
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.cells:
            self.cells[-1] += data


def _handler(session_messages: list[BaseMessage]) -> HeadroomCallbackHandler:
    handler = HeadroomCallbackHandler()
    model = HeadroomChatModel(
        FakeMessagesListChatModel(responses=[AIMessage(f"a{i}", usage_metadata=USAGE) for i in range(2)])
    )
    model.batch([session_messages] * 2, config={"callbacks": [handler]})
    return handler


def test_summary_shows_as_a_two_column_table(session_messages: list[BaseMessage]) -> None:
    summary = _handler(session_messages).summary()
    parser = _Cells()
    parser.feed(summary._repr_html_())
    assert parser.depth == 0 and parser.cells[:2] == ["Headroom", "total"]
    assert (
        f"{summary.tokens_before:,} -> {summary.tokens_after:,}"
        in parser.cells[parser.cells.index("prompt tokens") + 1]
    )


def test_summary_markdown_is_a_table_with_usage(session_messages: list[BaseMessage]) -> None:
    lines = _handler(session_messages).summary()._repr_markdown_().splitlines()
    assert lines[:2] == ["| Headroom | total |", "|---|---|"] and "| provider usage | 1,800 in / 24 out |" in lines


def test_handler_markdown_lists_each_call_under_the_totals(session_messages: list[BaseMessage]) -> None:
    handler = _handler(session_messages)
    text = handler._repr_markdown_()
    assert text.splitlines()[0] == f"**{handler.summary()}**"
    assert sum(1 for line in text.splitlines() if line.startswith("| 1 |") or line.startswith("| 2 |")) == 2


def test_handler_html_captions_the_calls_with_the_totals(session_messages: list[BaseMessage]) -> None:
    handler = _handler(session_messages)
    assert handler._repr_html_().startswith('<table><caption style="text-align:left">2 model calls, 0 tool calls: ')
