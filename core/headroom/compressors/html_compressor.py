"""The HTML compressor: a web page as the text a reader sees, when that is much shorter.

Scripts, styles, SVG, templates and comments are dropped; block elements become line breaks;
a link keeps its text and its target (``text <https://...>``) because agents follow links;
headings are marked with ``#`` so the page's structure survives. The conversion is used only
when it saves at least ``min_savings_ratio`` of the characters; the page itself goes to CCR.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from headroom.compressors.base import Compressed, CompressionContext
from headroom.compressors.ccr_marker import counted, may_drop, retrieve_hint

__all__ = ["HtmlCompressor", "html_to_text"]

_SKIP = frozenset({"script", "style", "noscript", "svg", "template", "iframe", "object", "canvas"})
_BLOCK = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "nav",
        "aside",
        "main",
        "ul",
        "ol",
        "li",
        "table",
        "tr",
        "br",
        "hr",
        "pre",
        "blockquote",
        "dl",
        "dt",
        "dd",
        "form",
        "fieldset",
        "figure",
        "figcaption",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "title",
        "details",
        "summary",
    }
)
_HEADINGS = {"h1": "# ", "h2": "## ", "h3": "### ", "h4": "#### ", "h5": "##### ", "h6": "###### "}
_SPACES = re.compile(r"[ \t\r\f\v\xa0]+")
_BLANKS = re.compile(r"\n\s*\n+")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0
        self._pre = 0
        self._href: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip_depth += 1
            return
        if self._skip_depth:
            return
        if tag in _BLOCK:
            self.parts.append("\n")
        if tag in _HEADINGS:
            self.parts.append(_HEADINGS[tag])
        elif tag == "li":
            self.parts.append("- ")
        elif tag in ("td", "th"):
            self.parts.append(" | ")
        elif tag == "pre":
            self._pre += 1
        elif tag == "a":
            href = dict(attrs).get("href")
            self._href.append(href if href and href.startswith(("http://", "https://", "/")) else None)
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f"[image: {alt}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if self._skip_depth:
            return
        if tag == "a" and self._href:
            href = self._href.pop()
            if href:
                self.parts.append(f" <{href}>")
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        self.parts.append(data if self._pre else _SPACES.sub(" ", data.replace("\n", " ")))


def html_to_text(page: str) -> str:
    """The readable text of an HTML page (see the module docs for what is kept)."""
    parser = _TextExtractor()
    parser.feed(page)
    parser.close()
    text = "".join(parser.parts)
    lines = [line.strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


class HtmlCompressor:
    """Converts HTML pages to text when that saves a lot; see the module docs."""

    name = "html_compressor"

    def compress(self, text: str, ctx: CompressionContext) -> Compressed | None:
        cfg = ctx.config.content.html
        if not cfg.enabled or not may_drop(text, ctx):
            return None
        readable = html_to_text(text)
        if not readable or len(readable) > len(text) * (1 - cfg.min_savings_ratio):
            return None
        key = ctx.store_original(text, kind="html", meta={"chars": len(text)})
        out = (
            f"[headroom: HTML page of {len(text)} characters shown as its text ({len(readable)} characters); "
            f"markup, scripts and styles removed; the page: {retrieve_hint(key)}]\n{readable}"
        )
        return counted(
            Compressed(
                text=out,
                transform=self.name,
                lossy=True,
                ccr_key=key,
                details={"kind": "html", "html_chars": len(text), "text_chars": len(readable)},
            )
        )
