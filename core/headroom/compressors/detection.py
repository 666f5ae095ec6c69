"""Content detection: what kind of text a tool output is, by cheap structural cues (no model).

Only a sample is read, the first 8 KB and the last 4 KB cut at line boundaries, so detecting a
10 MB output costs the same as detecting a 12 KB one. Each kind is recognised by the share of
sampled lines that carry its cue (a hunk header, ``path:line:``, a timestamp or level, a
keyword of a programming language); when no cue is strong enough the answer is UNKNOWN and the
router passes the text through unchanged.

Logs without timestamps (a package manager's ``Unpacking``/``Setting up`` lines, a build's
``copying``/``running`` lines, a test runner's ``path::test PASSED`` lines) are recognised as
*record-oriented* output: most lines open with one of a few repeated first words (paths and
numbers counted as one kind), many tokens are technical (paths, versions, ids, symbols), and
the repeated opener is not a markdown bullet or quote.
"""

from __future__ import annotations

import enum
import json
import re

__all__ = ["ContentType", "detect_content_type", "strip_ansi"]


class ContentType(str, enum.Enum):
    """Kinds of content the router knows."""

    JSON = "json"
    LOG = "log"
    SEARCH = "search"
    DIFF = "diff"
    CODE = "code"
    HTML = "html"
    PROSE = "prose"
    MIXED = "mixed"
    EMPTY = "empty"
    BINARY = "binary"
    UNKNOWN = "unknown"


_HEAD = 8192
_TAIL = 4096
_JSON_PARSE_LIMIT = 256 * 1024

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f\ufffd]")

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@", re.M)
_DIFF_FILE = re.compile(r"^(?:diff --git |--- \S|\+\+\+ \S|Index: \S)", re.M)

_SEARCH_LINE = re.compile(r"^(?:[^\s:][^:\n]{0,300}?)[:-]\d+[:-](?:\d+:)?")
_NUMBERED_LINE = re.compile(r"^\d+[:-]")

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_TIMESTAMP = re.compile(
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"  # 2015-10-18, 2005.06.03
    r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}[ T]\d"  # 17/06/09 20:10
    r"|\d{1,2}:\d{2}:\d{2}"  # 18:01:47
    r"|\b" + _MONTH + r"\s+\d{1,2}\b"  # Jun 14
    r"|\b\d{8}[-T ]?\d{2}:?\d{2}"  # 20171223-22:15
    r"|\b1\d{9}(?:\.\d+)?\b"  # epoch seconds
    r"|\b\d{6} \d{6}\b"  # 081109 203615
)
_LEVEL = re.compile(
    r"\b(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRITICAL|FATAL|SEVERE|ALERT|EMERG|"
    r"Info|Debug|Warning|Error|notice|info|debug|warn|error)\b|\[(?:notice|error|warn|info|debug|crit)\]"
)

_CODE_CUE = re.compile(
    r"^\s*(?:def |class |import |from \S+ import |async def |@\w+|return\b|if .*:$|elif |else:|for .* in .*:$|"
    r"try:|except\b|raise |with .*:$|yield\b|lambda\b|"
    r"function\b|const |let |var |export |=>|module\.exports|require\(|"
    r"#include|#define|#ifn?def|#endif|template\s*<|namespace |using |std::|"
    r"package |public |private |protected |static |final |void |int |char |bool |"
    r"func |fn |impl\b|struct |enum |trait |pub |mod |use |match |let mut |"
    r"interface |type \w+ |switch\b|case .*:|break;|continue;|throw |catch\b|new \w+\(|"
    r"\}|\{$|\)\s*\{$|\);$|//|/\*|\*/|\* |[\])]+,?$|[\w.\[\]]+ *(?::[^=]+)?= *\S)"
    r"|[;{]\s*$"
    r"|^(?: {2,}|\t)\S.*(?:[,(\[{:]|\))$"
)
_CODE_NUMBERING = re.compile(r"^\s*\d+(?:\t|→|\|| {2})")
_HTML_TAG = re.compile(
    r"<(?:!doctype|html|head|body|div|span|p|a|script|style|meta|link|table|tr|td|ul|li|h[1-6]|img|br|form|input)\b",
    re.I,
)
_WORD = re.compile(r"[A-Za-z]{2,}")
_TECHNICAL = re.compile(r"\d|[/\\:=_\[\](){}<@#$%&*+~|]|\.\w|->|::")
_DIGITS = re.compile(r"\d+")
_MARKDOWN_OPENERS = frozenset({"-", "*", "+", ">", "#", "##", "###", "|", "•"})
_GIT_COMMIT = re.compile(r"^commit [0-9a-f]{7,40}\b", re.M)
_SENTENCE_END = re.compile(r"[.!?:;\"')]\s*$")


def strip_ansi(text: str) -> str:
    """``text`` without ANSI colour and cursor escape sequences."""
    return _ANSI.sub("", text) if "\x1b" in text else text


def letters_share(text: str) -> float:
    """Share of letters among the characters of ``text`` (about 0.8 in English prose, 0.5 in code)."""
    return sum(1 for c in text if c.isalpha()) / len(text) if text else 0.0


def _sample(text: str) -> str:
    if len(text) <= _HEAD + _TAIL:
        return text
    head = text[:_HEAD]
    cut = head.rfind("\n")
    head = head[:cut] if cut > _HEAD // 2 else head
    tail = text[-_TAIL:]
    cut = tail.find("\n")
    tail = tail[cut + 1 :] if 0 <= cut < _TAIL // 2 else tail
    return head + "\n" + tail


def _share(lines: list[str], pattern: re.Pattern[str], *, window: int | None = None) -> float:
    if not lines:
        return 0.0
    if window is None:
        hits = sum(1 for line in lines if pattern.search(line))
    else:
        hits = sum(1 for line in lines if pattern.search(line, 0, window))
    return hits / len(lines)


def _is_json(stripped: str, *, parse: bool) -> bool:
    """JSON when it parses (``parse``), or, unparsed, when it opens like a JSON array or object.

    Without ``parse`` the caller confirms by parsing it itself: the router does, because the
    JSON compressor's own parse would otherwise be the second full parse of every JSON output.
    """
    if stripped[0] not in "[{" or stripped[-1] not in "]}":
        return False
    if parse and len(stripped) <= _JSON_PARSE_LIMIT:
        try:
            return isinstance(json.loads(stripped), (list, dict))
        except (ValueError, RecursionError):
            return False
    # The first value must look like JSON, not "[Sun Dec 04 ...".
    return re.match(r'[\[{]\s*(?:["{\[\]}\d-]|true|false|null)', stripped[:64]) is not None


def _repeated_shapes(lines: list[str]) -> float:
    """Share of lines whose first three tokens (digits masked) repeat a shape seen in the sample."""
    shapes: dict[str, int] = {}
    for line in lines:
        key = re.sub(r"\d+", "0", " ".join(line.split()[:3]))
        shapes[key] = shapes.get(key, 0) + 1
    repeated = sum(n for n in shapes.values() if n > 1)
    return repeated / len(lines) if lines else 0.0


def _opener(line: str) -> str:
    """The first token of a line as a kind: paths as one kind, digits as 0."""
    first = line.split(None, 1)[0]
    if "/" in first or "::" in first:
        return "/"
    return _DIGITS.sub("0", first)


def _record_oriented(lines: list[str], sample: str) -> bool:
    """Lines that are records (see the module docs), not wrapped sentences or markdown."""
    if len(lines) < 20 or len(_GIT_COMMIT.findall(sample)) * 20 >= len(lines):
        return False  # git log without -p: commit messages are prose
    openers: dict[str, int] = {}
    for line in lines:
        kind = _opener(line)
        openers[kind] = openers.get(kind, 0) + 1
    if len(openers) < 2 or max(openers, key=openers.__getitem__) in _MARKDOWN_OPENERS:
        return False
    repeated = sum(n for n in openers.values() if n >= 3)
    tokens = sample.split()
    technical = sum(1 for t in tokens if _TECHNICAL.search(t))
    return repeated >= 0.8 * len(lines) and technical >= 0.25 * len(tokens)


def detect_content_type(text: str, *, parse_json: bool = True, json_allowed: bool = True) -> ContentType:
    """The kind of ``text``; UNKNOWN when no detector is confident (the router then passes it through).

    ``parse_json=False`` answers JSON for text that only opens and closes like JSON (the caller
    parses it and, when that fails, asks again with ``json_allowed=False``).

    >>> detect_content_type("diff --git a/x b/x\\n--- a/x\\n+++ b/x\\n@@ -1 +1 @@\\n-a\\n+b\\n").value
    'diff'
    """
    stripped = text.strip()
    if not stripped:
        return ContentType.EMPTY
    if json_allowed and not parse_json and _is_json(stripped, parse=False):
        return ContentType.JSON  # first: the caller's parse decides, binary included
    sample = _sample(stripped)
    controls = len(_CONTROL.findall(sample))
    if "\x00" in sample or controls > len(sample) * 0.1:
        return ContentType.BINARY
    sample = strip_ansi(sample)
    if json_allowed and parse_json and _is_json(stripped, parse=True):
        return ContentType.JSON
    lines = [line for line in sample.splitlines() if line.strip()]
    if not lines:
        return ContentType.UNKNOWN
    if _HUNK.search(sample) and len(_DIFF_FILE.findall(sample)) >= 1:
        return ContentType.DIFF
    head = sample[:2048].lower()
    if ("<!doctype html" in head or "<html" in head) or (
        len(_HTML_TAG.findall(sample)) >= 5 and "</" in sample and sample.lstrip().startswith("<")
    ):
        return ContentType.HTML
    if len(lines) >= 3:
        search = _share(lines, _SEARCH_LINE)
        if search >= 0.6 and _share(lines, _TIMESTAMP, window=24) < 0.5:
            return ContentType.SEARCH
        numbered = _share(lines, _NUMBERED_LINE)
        code_lines = [_CODE_NUMBERING.sub("", line, count=1) for line in lines]
        code = _share(code_lines, _CODE_CUE)
        stamped = _share(lines, _TIMESTAMP, window=60)
        levelled = _share(lines, _LEVEL, window=120)
        if max(stamped, levelled) >= 0.6 and code < 0.5:
            return ContentType.LOG
        if numbered >= 0.6 and search + numbered >= 0.9 and code < 0.5:
            return ContentType.SEARCH
        if "```" in sample and letters_share(sample) > 0.45:
            return ContentType.MIXED  # markdown: prose with fenced code
        if code >= 0.35:
            return ContentType.CODE
        if max(stamped, levelled) >= 0.3 and _repeated_shapes(lines) >= 0.5:
            return ContentType.LOG
        if (
            _repeated_shapes(lines) >= 0.8
            and len(lines) >= 20
            and sum(c.isdigit() for c in sample) > len(sample) * 0.05
        ):
            return ContentType.LOG
        if _record_oriented(lines, sample):
            return ContentType.LOG
        words = len(_WORD.findall(sample))
        spaced = sample.count(" ") > len(sample) * 0.08  # prose has spaces; base64 and hashes do not
        if letters_share(sample) > 0.55 and words > len(lines) * 3 and spaced:
            return ContentType.MIXED if code >= 0.12 else ContentType.PROSE
        if code >= 0.2:
            return ContentType.MIXED
        return ContentType.UNKNOWN
    words = len(_WORD.findall(sample))
    if words >= 8 and letters_share(sample) > 0.55:
        return ContentType.PROSE
    return ContentType.UNKNOWN
